"""mastodon-mock (PyPI, a Mastodon API server on FastAPI + SQLite) as the tests' real peer:
installed into its own venv under ~/.cache/townsquare-test-peers/ (its pins may clash with
ours), started once per test session on 127.0.0.1, with helpers to make accounts and post as
them through the same public API a customer's app would use."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import venv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

VERSION = "0.6.1"
HOME = Path(os.environ.get("TOWNSQUARE_PEERS", Path.home() / ".cache" / "townsquare-test-peers")) / "mastodon-mock"
EXECUTABLE = HOME / "bin" / "mastodon_mock"


class PeerUnavailable(RuntimeError):
    pass


def ensure_installed() -> Path:
    marker = HOME / f".installed-{VERSION}"
    if EXECUTABLE.exists() and marker.exists():
        return EXECUTABLE
    try:
        venv.EnvBuilder(with_pip=True, clear=True).create(HOME)
        subprocess.run(
            [str(HOME / "bin" / "python"), "-m", "pip", "install", "--quiet", f"mastodon-mock=={VERSION}"],
            check=True,
            capture_output=True,
            timeout=600,
        )
    except (OSError, subprocess.SubprocessError) as error:
        raise PeerUnavailable(f"could not install mastodon-mock=={VERSION} into {HOME}: {error}") from error
    marker.touch()
    return EXECUTABLE


@dataclass(frozen=True)
class User:
    id: str
    acct: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


class MastodonMock:
    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.process: subprocess.Popen[bytes] | None = None
        self.http = httpx.Client(base_url=self.url, timeout=10.0)

    def start(self) -> MastodonMock:
        executable = ensure_installed()
        command = [str(executable), "serve", "--in-memory", "--host", "127.0.0.1", "--port", str(self.port)]
        self.process = subprocess.Popen(
            [*command, "--log-level", "warning"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                error = self.process.stderr.read().decode(errors="replace")[-500:] if self.process.stderr else ""
                raise PeerUnavailable(f"mastodon-mock exited at start: {error}")
            try:
                if self.http.get("/api/v1/instance").status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.stop()
        raise PeerUnavailable("mastodon-mock did not answer within 60 s")

    def stop(self) -> None:
        self.http.close()
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        if self.process is not None and self.process.stderr is not None:
            self.process.stderr.close()

    def reset(self) -> None:
        self.http.post("/api/v1/_mock/reset").raise_for_status()
        self.http.delete("/api/v1/_mock/faults").raise_for_status()

    def _app_token(self) -> str:
        app = self.http.post(
            "/api/v1/apps",
            data={
                "client_name": "townsquare-tests",
                "redirect_uris": "urn:ietf:wg:oauth:2.0:oob",
                "scopes": "read write",
            },
        ).json()
        token = self.http.post(
            "/oauth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": app["client_id"],
                "client_secret": app["client_secret"],
                "scope": "read write",
            },
        ).json()
        return str(token["access_token"])

    def create_user(self, username: str, display_name: str | None = None) -> User:
        # mastodon-mock takes form bodies here (JSON gets 422), as PEERS.md notes.
        response = self.http.post(
            "/api/v1/accounts",
            headers={"Authorization": f"Bearer {self._app_token()}"},
            data={
                "username": username,
                "email": f"{username}@example.com",
                "password": "correct horse battery",
                "agreement": "true",
                "locale": "en",
            },
        )
        response.raise_for_status()
        token = str(response.json()["access_token"])
        if display_name is not None:
            self.http.patch(
                "/api/v1/accounts/update_credentials",
                headers={"Authorization": f"Bearer {token}"},
                data={"display_name": display_name},
            ).raise_for_status()
        me = self.http.get("/api/v1/accounts/verify_credentials", headers={"Authorization": f"Bearer {token}"}).json()
        return User(id=str(me["id"]), acct=str(me["acct"]), token=token)

    def post(self, user: User, text: str, **fields: Any) -> dict[str, Any]:
        response = self.http.post("/api/v1/statuses", headers=user.headers, json={"status": text, **fields})
        response.raise_for_status()
        status: dict[str, Any] = response.json()
        return status

    def get(self, user: User, path: str, **params: Any) -> Any:
        response = self.http.get(path, headers=user.headers, params=params)
        response.raise_for_status()
        return response.json()

    def fault(self, rule: dict[str, Any]) -> None:
        self.http.post("/api/v1/_mock/faults", json=rule).raise_for_status()

    def clear_faults(self) -> None:
        self.http.delete("/api/v1/_mock/faults").raise_for_status()


if __name__ == "__main__":  # pragma: no cover - a manual check: python -m tests.channels.mastodon.peer
    print(ensure_installed(), file=sys.stderr)
