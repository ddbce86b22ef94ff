"""A scripted homeserver on `httpx.MockTransport` for the Matrix unit tests: answers by
(method, path prefix) and records every request."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx

from townsquare.channels.matrix.connector import MatrixConnector, MatrixSettings

FIXTURES = Path(__file__).resolve().parents[3] / "src" / "townsquare" / "channels" / "matrix" / "fixtures"
HOMESERVER = "http://matrix.test"
BOT = "@acme:localhost"

Answer = httpx.Response | Callable[[httpx.Request], httpx.Response]


def fixture(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return document


class FakeHomeserver:
    def __init__(self) -> None:
        self.routes: list[tuple[str, str, Answer]] = []
        self.requests: list[httpx.Request] = []
        self.on("GET", f"/_matrix/client/v3/user/{BOT}/account_data/m.direct", json_response(404, M_NOT_FOUND))
        self.on("PUT", f"/_matrix/client/v3/user/{BOT}/account_data/m.direct", json_response(200, {}))
        self.on("POST", "/_matrix/client/v3/join/", joined)

    def on(self, method: str, path: str, answer: Answer) -> FakeHomeserver:
        """Newest route wins, so a test can override the defaults."""
        self.routes.insert(0, (method, path, answer))
        return self

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = unquote(request.url.path)
        for method, prefix, answer in self.routes:
            if request.method == method and path.startswith(prefix):
                return answer(request) if callable(answer) else answer
        return json_response(404, {"errcode": "M_UNRECOGNIZED", "error": f"no route {request.method} {path}"})

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def sent(self, method: str, prefix: str) -> list[httpx.Request]:
        return [r for r in self.requests if r.method == method and unquote(r.url.path).startswith(prefix)]


M_NOT_FOUND = {"errcode": "M_NOT_FOUND", "error": "Account data not found"}


def joined(request: httpx.Request) -> httpx.Response:
    return json_response(200, {"room_id": unquote(request.url.path).rsplit("/", 1)[1]})


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, json=body, headers=headers)


def connector(server: FakeHomeserver, **settings: Any) -> MatrixConnector:
    values: dict[str, Any] = {"homeserver": HOMESERVER, "user_id": BOT, "access_token": "token", **settings}
    return MatrixConnector("acme", MatrixSettings(**values), transport=server.transport())


def body_of(request: httpx.Request) -> Any:
    return json.loads(request.content)
