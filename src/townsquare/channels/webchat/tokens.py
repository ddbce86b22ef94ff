"""Signed visitor tokens: who a web chat visitor is, without a login and without a table.

A visitor is a random id that the server signs (itsdangerous, with the runtime's secret key and a
salt of its own, so a session cookie can never pass for a visitor token or the other way round).
The token also carries the name and e-mail address the visitor gave, so the message endpoint can
name the author without a lookup. The widget keeps the token in the company site's localStorage
and trades it for a fresh one on every page load, so it expires only after `max_age` without a
visit.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer
from pydantic import BaseModel, ConfigDict, Field, ValidationError

SALT = "townsquare.webchat.visitor.v1"
DEFAULT_MAX_AGE_SECONDS = 90 * 24 * 3600
VISITOR_ID_BYTES = 18
MAX_TOKEN_CHARS = 2048


class InvalidVisitorToken(Exception):
    """Forged, expired, malformed, or made for another account: answered 401."""


@dataclass(frozen=True)
class Visitor:
    account: str
    id: str
    name: str | None = None
    email: str | None = None

    @property
    def external_id(self) -> str:
        """The visitor's identity on the `webchat` channel: unique across accounts."""
        return identity_external_id(self.account, self.id)


def identity_external_id(account: str, visitor_id: str) -> str:
    return f"{account}:{visitor_id}"


def split_external_id(external_id: str) -> tuple[str, str]:
    """(account, visitor id). Visitor ids are URL-safe base64, so the last ':' separates them
    even when an account name has one."""
    account, _, visitor_id = external_id.rpartition(":")
    return account, visitor_id


def new_visitor_id() -> str:
    return secrets.token_urlsafe(VISITOR_ID_BYTES)


class _Claims(BaseModel):
    """What a token says, validated like any other untrusted input once the signature holds."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    a: str = Field(min_length=1, max_length=128)
    v: str = Field(min_length=16, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    n: str | None = Field(default=None, max_length=512)
    e: str | None = Field(default=None, max_length=320)


class _ClockedSigner(TimestampSigner):
    """A timestamp signer on an injected clock, so expiry is testable without sleeping."""

    def __init__(self, *args: Any, clock: Callable[[], float] = time.time, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clock = clock

    def get_timestamp(self) -> int:
        return int(self._clock())


class VisitorTokens:
    def __init__(
        self,
        secret_key: str,
        *,
        max_age_seconds: int = DEFAULT_MAX_AGE_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.max_age_seconds = max_age_seconds
        self._serializer = URLSafeTimedSerializer(
            secret_key, salt=SALT, signer=_ClockedSigner, signer_kwargs={"clock": clock}
        )

    def issue(self, visitor: Visitor) -> str:
        claims = _Claims(a=visitor.account, v=visitor.id, n=visitor.name, e=visitor.email)
        token: str = self._serializer.dumps(claims.model_dump(exclude_none=True))
        return token

    def verify(self, account: str, token: str) -> Visitor:
        if not token or len(token) > MAX_TOKEN_CHARS:
            raise InvalidVisitorToken("no visitor token, or one far too long")
        try:
            data = self._serializer.loads(token, max_age=self.max_age_seconds)
        except SignatureExpired as error:
            raise InvalidVisitorToken("the visitor token has expired") from error
        except BadSignature as error:
            raise InvalidVisitorToken("the visitor token is not one this server signed") from error
        try:
            claims = _Claims.model_validate(data)
        except ValidationError as error:
            raise InvalidVisitorToken("the visitor token's claims are malformed") from error
        if claims.a != account:
            raise InvalidVisitorToken("the visitor token belongs to another chat account")
        return Visitor(account=claims.a, id=claims.v, name=claims.n, email=claims.e)
