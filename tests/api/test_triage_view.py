"""The rules the agent app applies to triage and labels before the templates render them."""

from __future__ import annotations

from townsquare.web.triage_view import answer, reason_views, strongest_alert

REASONS = [
    {"reason": "mood", "weight": 0.3, "evidence": "negative 0.90, complaint 0.80"},
    {"reason": "outage", "weight": 0.35, "evidence": "Kein Empfang"},
    {"reason": "reach", "weight": 0.2, "evidence": "12,400 followers"},
    {"reason": "incident", "weight": 0.35, "evidence": "part of an open incident"},
]


def test_the_customer_word_is_quoted_and_the_rest_stated() -> None:
    texts = [view["text"] for view in reason_views(REASONS)]
    assert texts == [
        "mood negative 0.90, complaint 0.80",
        "outage “Kein Empfang”",
        "reach 12,400 followers",
        "incident",
    ]
    assert reason_views(None) == []


def test_the_inbox_shows_the_strongest_alert_not_mood_or_reach() -> None:
    alert = strongest_alert(REASONS)
    assert alert is not None and alert["reason"] == "outage"
    assert strongest_alert(REASONS[:1] + REASONS[2:3]) is None
    assert strongest_alert(None) is None


def test_an_agents_label_overrides_triage_field_by_field() -> None:
    message = {"sentiment": "neutral", "intent": "question", "triage": {"spam": True, "needs_reply": False}}
    assert answer(message, None) == {
        "sentiment": "neutral",
        "intent": "question",
        "intent_labelled": False,
        "also_intent": None,
        "spam": True,
        "needs_reply": False,
    }
    label = {"sentiment": "negative", "intents": ["complaint", "request"], "spam": False, "needs_reply": None}
    assert answer(message, label) == {
        "sentiment": "negative",
        "intent": "complaint",
        "intent_labelled": True,
        "also_intent": "request",
        "spam": False,  # said by the agent, though falsy
        "needs_reply": False,  # not said: triage's
    }
