"""Connecting a web chat account from code (the demo, embedding applications); admins use
`townsquare channels add webchat --account NAME --set ...`."""

from __future__ import annotations

from typing import Any

from townsquare.channels.webchat.connector import WebchatSettings
from townsquare.channels.webchat.inbound import CHANNEL
from townsquare.runtime import Runtime
from townsquare.store import accounts


def ensure_account(runtime: Runtime, account: str = "acme", **settings: Any) -> bool:
    """Connect the account with these settings unless it is connected already (its stored
    settings then win). Returns True when it was connected now."""
    validated = WebchatSettings.model_validate(settings)
    with runtime.db.write() as conn:
        if accounts.get_account(conn, CHANNEL, account) is not None:
            return False
        accounts.upsert_account(conn, CHANNEL, account, validated.model_dump(mode="json"))
    runtime.hub.forget(CHANNEL, account)
    return True
