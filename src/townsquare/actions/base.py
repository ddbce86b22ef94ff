"""Who acts, and the errors an action can end with."""

from __future__ import annotations

from dataclasses import dataclass

from townsquare.model import Role

_RANK = {Role.VIEWER: 0, Role.AGENT: 1, Role.ADMIN: 2}


@dataclass(frozen=True)
class Actor:
    id: str | None
    label: str
    role: Role

    def can(self, role: Role) -> bool:
        return _RANK[self.role] >= _RANK[role]


SYSTEM = Actor(id=None, label="system", role=Role.ADMIN)


class ActionError(Exception):
    status_code = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(ActionError):
    status_code = 404


class Forbidden(ActionError):
    status_code = 403


class Invalid(ActionError):
    status_code = 422


class Conflict(ActionError):
    status_code = 409


class PersonalDataInPublicReply(Invalid):
    """The public-reply guard: personal data must never be posted where everyone reads it."""

    def __init__(self, kinds: list[str], channel: str) -> None:
        super().__init__(
            f"This public reply contains personal data ({', '.join(kinds)}). Public replies are read by "
            f"everyone: send it as a private message on {channel} instead."
        )
        self.kinds = kinds
        self.channel = channel
