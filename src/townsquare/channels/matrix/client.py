"""A small synchronous Matrix client-server API client: the calls the connector makes, each
answer parsed into a model, each failure mapped onto the connector contract's errors.

Errors: 429 / `M_LIMIT_EXCEEDED` → `RateLimited` (from `retry_after_ms` or Retry-After);
`M_UNKNOWN_TOKEN` / `M_MISSING_TOKEN` → log in again when a password is configured, otherwise
`ReconnectRequired`; 5xx and timeouts → retryable `DeliveryError`; other 4xx → `MatrixRequestError`
(not retryable). Secrets and bodies are never logged.
"""

from __future__ import annotations

import json
import logging
import threading
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ValidationError

from townsquare.channels.base import DeliveryError, RateLimited, ReconnectRequired
from townsquare.channels.matrix.payloads import (
    CreateRoom,
    DirectRooms,
    EventIdResponse,
    JoinedMembers,
    LoginIdentifier,
    LoginResponse,
    MatrixError,
    MemberContent,
    MessagesResponse,
    OutgoingMessage,
    PasswordLogin,
    RawEvent,
    RoomIdResponse,
    SyncResponse,
)

log = logging.getLogger(__name__)

API = "/_matrix/client/v3"
TOKEN_ERRORS = {"M_UNKNOWN_TOKEN", "M_MISSING_TOKEN"}
SEND_TIMEOUT = httpx.Timeout(20.0, connect=10.0)

Model = TypeVar("Model", bound=BaseModel)


class MatrixRequestError(DeliveryError):
    """The homeserver refused a request (4xx other than rate limits and bad tokens)."""

    def __init__(self, status: int, error: MatrixError) -> None:
        super().__init__(
            f"homeserver refused the request: {status} {error.errcode} {error.error[:200]}", retryable=False
        )
        self.status = status
        self.errcode = error.errcode


def path_part(value: str) -> str:
    """Room ids, event ids and user ids go into paths percent-encoded (`!`, `$`, `:`, `/`, `#`)."""
    return quote(value, safe="")


def _error_of(response: httpx.Response) -> MatrixError:
    try:
        return MatrixError.model_validate_json(response.content)
    except ValidationError:
        return MatrixError(errcode="M_UNKNOWN", error=f"HTTP {response.status_code}")


def _retry_after(response: httpx.Response, error: MatrixError) -> float | None:
    if error.retry_after_ms is not None:
        return error.retry_after_ms / 1000
    header = response.headers.get("retry-after")
    try:
        return float(header) if header is not None else None
    except ValueError:
        return None


class MatrixClient:
    """Thread-safe: the listener thread syncs while the outbox thread sends."""

    def __init__(
        self,
        homeserver: str,
        user_id: str,
        *,
        access_token: str | None,
        password: str | None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.homeserver = homeserver.rstrip("/")
        self.user_id = user_id
        self._token = access_token
        self._password = password
        self._logged_in = False  # only tokens we made ourselves are logged out on close
        self._lock = threading.Lock()
        self._http = httpx.Client(base_url=self.homeserver, transport=transport, timeout=SEND_TIMEOUT)

    # Plumbing

    def _access_token(self) -> str:
        with self._lock:
            if self._token is None:
                self._login_locked()
            assert self._token is not None
            return self._token

    def _login_locked(self) -> None:
        if self._password is None:
            raise ReconnectRequired("no access token and no password configured for the Matrix account")
        body = PasswordLogin(identifier=LoginIdentifier(user=self.user_id), password=self._password)
        response = self._raw("POST", "/login", body.model_dump(), token=None, timeout=SEND_TIMEOUT)
        if response.status_code in (401, 403):
            raise ReconnectRequired(f"the homeserver refused the password login: {_error_of(response).errcode}")
        login = self._parse(response, LoginResponse)
        self._token, self.user_id, self._logged_in = login.access_token, login.user_id, True
        log.info("matrix: logged in as %s (device %s)", login.user_id, login.device_id)

    def _raw(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None,
        *,
        token: str | None,
        params: dict[str, str | int] | None = None,
        timeout: httpx.Timeout,
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        try:
            return self._http.request(method, API + path, json=body, params=params, headers=headers, timeout=timeout)
        except httpx.TimeoutException as error:
            raise DeliveryError(f"matrix homeserver timed out ({type(error).__name__})") from error
        except httpx.HTTPError as error:
            raise DeliveryError(f"matrix homeserver unreachable ({type(error).__name__}: {error})") from error

    def _check(self, response: httpx.Response) -> None:
        if response.status_code < 400:
            return
        error = _error_of(response)
        if response.status_code == 429 or error.errcode == "M_LIMIT_EXCEEDED":
            raise RateLimited(_retry_after(response, error))
        if error.errcode in TOKEN_ERRORS:
            raise ReconnectRequired(f"the homeserver refused the access token ({error.errcode})")
        if response.status_code >= 500:
            raise DeliveryError(
                f"matrix homeserver error {response.status_code} {error.errcode}",
                retry_after=_retry_after(response, error),
            )
        raise MatrixRequestError(response.status_code, error)

    @staticmethod
    def _parse(response: httpx.Response, model: type[Model]) -> Model:
        try:
            return model.model_validate_json(response.content)
        except ValidationError as error:
            raise DeliveryError(
                f"unexpected answer from the homeserver ({model.__name__}, {error.error_count()} invalid fields)"
            ) from error

    def request(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        *,
        params: dict[str, str | int] | None = None,
        timeout: httpx.Timeout = SEND_TIMEOUT,
    ) -> httpx.Response:
        """An authenticated call. A token the server no longer knows is replaced once by a new
        password login, when a password is configured."""
        token = self._access_token()
        response = self._raw(method, path, body, token=token, params=params, timeout=timeout)
        if response.status_code == 401 and _error_of(response).errcode in TOKEN_ERRORS and self._password:
            with self._lock:
                if self._token == token:  # another thread may have logged in already
                    log.warning("matrix: access token of %s expired; logging in again", self.user_id)
                    self._token = None
                    self._login_locked()
            response = self._raw(method, path, body, token=self._access_token(), params=params, timeout=timeout)
        self._check(response)
        return response

    def call(
        self,
        method: str,
        path: str,
        model: type[Model],
        body: dict[str, Any] | None = None,
        *,
        params: dict[str, str | int] | None = None,
        timeout: httpx.Timeout = SEND_TIMEOUT,
    ) -> Model:
        return self._parse(self.request(method, path, body, params=params, timeout=timeout), model)

    # The calls

    def sync(self, since: str | None, timeout_ms: int, sync_filter: dict[str, Any]) -> SyncResponse:
        params: dict[str, str | int] = {"timeout": timeout_ms, "filter": json.dumps(sync_filter)}
        if since:
            params["since"] = since
        # The server holds the request for up to `timeout_ms`: read timeout must be longer.
        timeout = httpx.Timeout(10.0, read=timeout_ms / 1000 + 30.0)
        return self.call("GET", "/sync", SyncResponse, params=params, timeout=timeout)

    def messages_before(self, room_id: str, from_token: str, to_token: str, limit: int = 100) -> MessagesResponse:
        """One page of a room's history going back from `from_token` and stopping at `to_token`."""
        params: dict[str, str | int] = {"dir": "b", "from": from_token, "to": to_token, "limit": limit}
        return self.call("GET", f"/rooms/{path_part(room_id)}/messages", MessagesResponse, params=params)

    def joined_members(self, room_id: str) -> JoinedMembers:
        return self.call("GET", f"/rooms/{path_part(room_id)}/joined_members", JoinedMembers)

    def member_state(self, room_id: str, user_id: str) -> MemberContent | None:
        """A user's membership in a room, or None when we cannot see it (not in the room)."""
        try:
            return self.call(
                "GET", f"/rooms/{path_part(room_id)}/state/m.room.member/{path_part(user_id)}", MemberContent
            )
        except MatrixRequestError as error:
            if error.status in (403, 404):
                return None
            raise

    def event(self, room_id: str, event_id: str) -> RawEvent | None:
        """One event as JSON (parsed by the caller, like sync events), or None if unknown to us."""
        try:
            response = self.request("GET", f"/rooms/{path_part(room_id)}/event/{path_part(event_id)}")
        except MatrixRequestError as error:
            if error.status in (403, 404):
                return None
            raise
        try:
            document = response.json()
        except ValueError:
            return None
        return document if isinstance(document, dict) else None

    def join(self, room_id: str) -> str:
        return self.call("POST", f"/join/{path_part(room_id)}", RoomIdResponse, {}).room_id

    def send_message(self, room_id: str, txn_id: str, message: OutgoingMessage) -> str:
        """PUT with our transaction id: a retry of the same reply returns the same event."""
        path = f"/rooms/{path_part(room_id)}/send/m.room.message/{path_part(txn_id)}"
        return self.call("PUT", path, EventIdResponse, message.model_dump(exclude_none=True)).event_id

    def create_direct_room(self, user_id: str) -> str:
        return self.call("POST", "/createRoom", RoomIdResponse, CreateRoom(invite=[user_id]).model_dump()).room_id

    def direct_rooms(self) -> DirectRooms:
        try:
            response = self.request("GET", f"/user/{path_part(self.user_id)}/account_data/m.direct")
        except MatrixRequestError as error:
            if error.status == 404:
                return DirectRooms({})
            raise
        return self._parse(response, DirectRooms)

    def set_direct_rooms(self, direct: DirectRooms) -> None:
        self.request("PUT", f"/user/{path_part(self.user_id)}/account_data/m.direct", direct.model_dump())

    def close(self) -> None:
        """Log out a token we obtained by password (so restarts leave no stale devices)."""
        with self._lock:
            token, logged_in = self._token, self._logged_in
            self._token, self._logged_in = (None, False) if logged_in else (token, False)
        if logged_in and token:
            try:
                self._raw("POST", "/logout", {}, token=token, timeout=httpx.Timeout(5.0))
            except DeliveryError:
                log.info("matrix: could not log out the device of %s", self.user_id)
        self._http.close()
