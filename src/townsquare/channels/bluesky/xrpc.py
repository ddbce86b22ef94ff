"""XRPC over HTTP with a session: logs in with an app password, refreshes the access token when
it expires, and turns the network's failures into the connector contract's errors.

One client is shared by the listener thread (polling) and the outbox worker (sending), so the
session is guarded by a lock.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from townsquare.channels.base import DeliveryError, RateLimited, ReconnectRequired
from townsquare.channels.bluesky.lexicon import CreateSessionInput, Session, XrpcErrorBody

log = logging.getLogger(__name__)

Model = TypeVar("Model", bound=BaseModel)
Params = Mapping[str, str | int | bool | list[str]]

EXPIRED = "ExpiredToken"
# Errors that mean the access token itself is no longer good (revoked, signed by a rotated key):
# a fresh login may still work.
TOKEN_REFUSED = {"InvalidToken", "AuthenticationRequired", "AuthMissing"}
# The PDS answers `InvalidToken` with these messages when the token is fine but does not cover
# the method: an app password without "allow direct messages" calling chat.bsky.* through the
# proxy ("Bad token method"; "Bad token scope" elsewhere). Logging in again cannot fix that, and
# it is no reason to mark the whole account for reconnecting.
SCOPE_REFUSALS = ("Bad token method", "Bad token scope")


class XrpcError(DeliveryError):
    """The server refused the call (4xx): `error` is the lexicon's error name."""

    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(f"{status} {error}: {message[:200]}", retryable=False)
        self.status = status
        self.error = error


class ScopeRefused(XrpcError):
    """The session is valid but not allowed to call this method (e.g. DMs on an app password
    created without direct-message access)."""


def _scope_refused(body: XrpcErrorBody) -> bool:
    return body.error == "InvalidToken" and body.message.startswith(SCOPE_REFUSALS)


def _error_body(response: httpx.Response) -> XrpcErrorBody:
    try:
        return XrpcErrorBody.model_validate_json(response.content)
    except ValidationError:
        return XrpcErrorBody()


def _retry_after(response: httpx.Response) -> float | None:
    """Seconds until the rate limit resets: `ratelimit-reset` is epoch seconds, `retry-after`
    (from proxies) is seconds."""
    reset = response.headers.get("ratelimit-reset")
    if reset is not None:
        try:
            return max(0.0, float(reset) - time.time())
        except ValueError:
            pass
    after = response.headers.get("retry-after")
    try:
        return float(after) if after is not None else None
    except ValueError:
        return None


class XrpcClient:
    def __init__(
        self,
        service_url: str,
        identifier: str,
        password: str,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 15.0,
    ) -> None:
        self.identifier = identifier
        self._password = password
        self._http = httpx.Client(base_url=service_url.rstrip("/"), transport=transport, timeout=timeout)
        self._session: Session | None = None
        self._lock = threading.Lock()
        self._blocked_until = 0.0

    # The session

    def session(self) -> Session:
        with self._lock:
            if self._session is None:
                self._session = self._create_session()
            return self._session

    def _create_session(self) -> Session:
        body = CreateSessionInput(identifier=self.identifier, password=self._password).wire()
        response = self._send("POST", "com.atproto.server.createSession", json=body)
        if response.status_code in (400, 401):
            error = _error_body(response)
            raise ReconnectRequired(
                f"Bluesky refused the login for {self.identifier}: {error.error or response.status_code}"
            )
        session = self._parse(response, Session)
        if session.active is False:
            raise ReconnectRequired(f"the Bluesky account {self.identifier} is {session.status or 'not active'}")
        return session

    def _refresh(self, stale: Session) -> Session:
        """A new access token from the refresh token; a refused refresh needs the admin (the app
        password may have been revoked), a broken network is retried later."""
        with self._lock:
            if self._session is not None and self._session.access_jwt != stale.access_jwt:
                return self._session  # Another thread refreshed meanwhile.
            response = self._send(
                "POST",
                "com.atproto.server.refreshSession",
                headers={"Authorization": f"Bearer {stale.refresh_jwt}"},
            )
            if response.status_code in (400, 401):
                self._session = None
                error = _error_body(response)
                raise ReconnectRequired(
                    f"Bluesky refused to refresh the session: {error.error or response.status_code}"
                )
            self._session = self._parse(response, Session)
            return self._session

    def _relogin(self, stale: Session) -> Session:
        with self._lock:
            if self._session is not None and self._session.access_jwt != stale.access_jwt:
                return self._session
            self._session = self._create_session()
            return self._session

    # Calls

    def query(self, nsid: str, params: Params, model: type[Model], *, proxy: str | None = None) -> Model:
        return self._parse(self._call("GET", nsid, params=params, proxy=proxy), model)

    def query_raw(self, nsid: str, params: Params, *, proxy: str | None = None) -> httpx.Response:
        return self._call("GET", nsid, params=params, proxy=proxy)

    def procedure(
        self, nsid: str, body: dict[str, Any], model: type[Model] | None, *, proxy: str | None = None
    ) -> Model | None:
        response = self._call("POST", nsid, json=body, proxy=proxy)
        return self._parse(response, model) if model is not None else None

    def _call(
        self,
        method: str,
        nsid: str,
        *,
        params: Params | None = None,
        json: dict[str, Any] | None = None,
        proxy: str | None = None,
    ) -> httpx.Response:
        session = self.session()
        for attempt in range(2):
            headers = {"Authorization": f"Bearer {session.access_jwt}"}
            if proxy:
                headers["atproto-proxy"] = proxy
            response = self._send(method, nsid, params=params, json=json, headers=headers)
            if response.status_code in (400, 401) and attempt == 0:
                body = _error_body(response)
                error = "" if _scope_refused(body) else body.error
                if error == EXPIRED:
                    session = self._refresh(session)
                    continue
                if error in TOKEN_REFUSED:
                    session = self._relogin(session)
                    continue
            return self._check(response)
        raise AssertionError("unreachable")  # pragma: no cover - the loop always returns

    def _send(
        self,
        method: str,
        nsid: str,
        *,
        params: Params | None = None,
        json: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        wait = self._blocked_until - time.monotonic()
        if wait > 0:
            # Rate limited: answer for the network until the reset instead of calling again (the
            # listener's own backoff starts at one second).
            raise RateLimited(wait)
        try:
            response = self._http.request(method, f"/xrpc/{nsid}", params=params, json=json, headers=headers)
        except httpx.TimeoutException as error:
            raise DeliveryError(f"Bluesky timed out on {nsid}") from error
        except httpx.HTTPError as error:
            raise DeliveryError(f"Bluesky unreachable on {nsid}: {type(error).__name__}") from error
        if response.status_code == 429:
            retry_after = _retry_after(response)
            self._blocked_until = time.monotonic() + min(retry_after if retry_after is not None else 1.0, 3600.0)
            raise RateLimited(retry_after)
        if response.status_code >= 500:
            failure = _error_body(response)
            raise DeliveryError(
                f"Bluesky error {response.status_code} on {nsid}: {failure.error}", retry_after=_retry_after(response)
            )
        return response

    def _check(self, response: httpx.Response) -> httpx.Response:
        if response.status_code < 400:
            return response
        error = _error_body(response)
        if _scope_refused(error):
            raise ScopeRefused(response.status_code, error.error, error.message)
        if response.status_code == 401 or error.error in TOKEN_REFUSED | {EXPIRED}:
            raise ReconnectRequired(f"Bluesky refused the session: {error.error or response.status_code}")
        raise XrpcError(response.status_code, error.error or "Error", error.message)

    @staticmethod
    def _parse(response: httpx.Response, model: type[Model]) -> Model:
        try:
            return model.model_validate_json(response.content)
        except ValidationError as error:
            raise DeliveryError(
                f"unexpected {model.__name__} from Bluesky ({error.error_count()} invalid fields)", retryable=False
            ) from error

    def close(self) -> None:
        self._http.close()
