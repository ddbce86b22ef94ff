"""Named actions: the one way state changes. Each checks the actor's role, writes, audits in the
same transaction, and emits an event for the side effects (live updates, webhooks, alerts)."""

from townsquare.actions.base import (
    ActionError,
    Actor,
    Conflict,
    Forbidden,
    Invalid,
    NotFound,
    PersonalDataInPublicReply,
)
from townsquare.actions.service import Actions

__all__ = [
    "ActionError",
    "Actions",
    "Actor",
    "Conflict",
    "Forbidden",
    "Invalid",
    "NotFound",
    "PersonalDataInPublicReply",
]
