"""Triage and agents' labels shaped for the templates, so that the rules (which reasons are the
customer's words, which one the inbox shows, that an agent's label overrides triage's answer)
live here and not in the HTML."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from townsquare.triage.urgency import ALERT_REASONS, TOPICS


def reason_views(reasons: Sequence[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """Each urgency reason as ``{reason, weight, text, alert}``: ``text`` quotes the customer's
    word for a topic signal ('safety “Rauch”') and states the rest ('reach 180 followers')."""
    views = []
    for r in reasons or []:
        name, evidence = str(r.get("reason", "")), r.get("evidence")
        if evidence and name in TOPICS:
            text = f"{name} “{evidence}”"
        elif evidence and name != "incident":
            text = f"{name} {evidence}"
        else:
            text = name
        views.append(
            {"reason": name, "weight": float(r.get("weight") or 0.0), "text": text, "alert": name in ALERT_REASONS}
        )
    return views


def strongest_alert(reasons: Sequence[dict[str, Any]] | None) -> dict[str, Any] | None:
    """What the inbox shows beside a conversation's priority: its strongest alert reason, if any
    (reasons come strongest first)."""
    return next((view for view in reason_views(reasons) if view["alert"]), None)


def answer(message: dict[str, Any], label: dict[str, Any] | None) -> dict[str, Any]:
    """What the app shows as a post's sentiment, intent, spam and needs-reply: the agent's label
    where one was given, triage's answer elsewhere."""
    triage = message.get("triage") or {}
    label = label or {}
    intents = label.get("intents")
    return {
        "sentiment": label.get("sentiment") or message.get("sentiment"),
        "intent": intents[0] if intents else message.get("intent"),
        "intent_labelled": bool(intents),
        # a second intent only an agent gives ("a complaint and a request"): triage names one
        "also_intent": intents[1] if intents and len(intents) > 1 else None,
        "spam": label["spam"] if label.get("spam") is not None else bool(triage.get("spam")),
        "needs_reply": label["needs_reply"]
        if label.get("needs_reply") is not None
        else bool(triage.get("needs_reply")),
    }
