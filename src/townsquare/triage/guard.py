"""The public-reply guard's decision: may this text go out publicly?

The reply action calls ``check_public_reply`` before a public reply leaves the outbox; a refusal
carries the message for the agent and the offer to send the same text privately on the same
network (never "write us an e-mail"). A customer's public post goes through ``find_personal_data``
in triage instead, and is flagged for the agent, not refused.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel

from .personal_data import find_personal_data
from .schema import CustomPattern, PersonalDataSpan

KIND_NAMES = {
    "email": "an e-mail address",
    "phone": "a phone number",
    "iban": "an IBAN",
    "payment_card": "a payment card number",
    "postal_address": "a postal address",
    "date_of_birth": "a date of birth",
}


class GuardDecision(BaseModel):
    allowed: bool
    spans: list[PersonalDataSpan]
    message: str  # empty when allowed
    offer_private: bool  # offer the agent to send it as a private message on the same network


def _describe(kind: str) -> str:
    return KIND_NAMES.get(kind, "a " + kind.replace("_", " "))


def check_public_reply(
    text: str, network: str = "this network", patterns: Sequence[CustomPattern] = ()
) -> GuardDecision:
    """Refuse a public reply that contains personal data, naming what was found."""
    spans = find_personal_data(text, patterns)
    if not spans:
        return GuardDecision(allowed=True, spans=[], message="", offer_private=False)
    kinds: list[str] = []
    for span in spans:
        if span.kind not in kinds:
            kinds.append(span.kind)
    found = ", ".join(_describe(k) for k in kinds)
    message = (
        f"This public reply contains personal data ({found}) and was not sent. "
        f"Send it as a private message on {network} instead, or remove the personal data."
    )
    return GuardDecision(allowed=False, spans=spans, message=message, offer_private=True)
