"""Triage's stored answers scored against agents' labels (`triage.corrections`)."""

from __future__ import annotations

from typing import Any

from townsquare.triage.corrections import compare_with_labels, correction_report_as_dict, format_correction_report


def _row(language: str | None, triage: dict[str, Any] | None, **label: Any) -> dict[str, Any]:
    fields = {"sentiment": None, "intents": None, "spam": None, "needs_reply": None}
    return {**fields, **label, "language": language, "triage": triage}


def _triage(sentiment: str, intent: str = "question", spam: bool = False, needs_reply: bool = True) -> dict[str, Any]:
    return {"sentiment": sentiment, "intent": intent, "spam": spam, "needs_reply": needs_reply, "language": "en"}


def test_the_agent_is_the_truth_and_only_the_fields_they_set_count() -> None:
    rows = [
        _row("de", _triage("negative"), sentiment="negative"),  # agreed
        _row("de", _triage("neutral"), sentiment="negative"),  # changed
        _row("en", _triage("positive", intent="praise"), sentiment="positive", intents=["complaint", "request"]),
        _row("en", _triage("neutral", spam=False), spam=True),  # only spam said
        _row("en", None, sentiment="negative"),  # came in while triage was off
    ]
    report = compare_with_labels(rows)
    assert (report.labelled, report.without_triage) == (5, 1)
    sentiment = report.reports["sentiment"]["all"]
    assert sentiment.n == 3
    assert report.changed("sentiment") == 1
    negative = sentiment.labels.index("negative")
    neutral = sentiment.labels.index("neutral")
    assert sentiment.confusion[negative][neutral] == 1  # agents said negative where triage said neutral
    assert sentiment.per_class["negative"].recall == 0.5
    assert sentiment.per_class["negative"].precision == 1.0
    assert set(report.reports["sentiment"]) == {"all", "de", "en"}
    # the agent's *main* intent is the truth; the second intent does not count
    intent = report.reports["intent"]["all"]
    assert (intent.n, report.changed("intent")) == (1, 1)
    assert intent.confusion[intent.labels.index("complaint")][intent.labels.index("praise")] == 1
    assert report.reports["spam"]["all"].n == 1 and report.changed("spam") == 1
    assert "needs_reply" not in report.reports  # nobody said


def test_the_report_reads_as_text_and_as_json() -> None:
    report = compare_with_labels([_row("de", _triage("neutral"), sentiment="negative", needs_reply=False)])
    text = format_correction_report(report)
    assert text.startswith("1 labelled posts, 1 with triage's answer")
    assert "sentiment: agents changed 1 of 1" in text
    assert "needs_reply: agents changed 1 of 1" in text
    assert "floor" in text  # the selection bias is said, not hidden
    data = correction_report_as_dict(report)
    assert data["changed"] == {"sentiment": 1, "needs_reply": 1}
    assert data["tasks"]["sentiment"]["all"]["confusion"]["labels"] == ["negative", "neutral", "positive"]


def test_nothing_to_compare_says_so() -> None:
    assert "nothing to compare yet" in format_correction_report(compare_with_labels([]))
    report = compare_with_labels([_row("en", None, sentiment="negative")])
    assert (report.labelled, report.without_triage, report.reports) == (1, 1, {})


def test_answers_are_told_apart_by_the_model_that_gave_them() -> None:
    fast, accurate = "fast 1a2b3c4d", "accurate 1a2b3c4d-5e6f7a8b"
    rows = [
        _row("de", _triage("neutral") | {"model": fast}, sentiment="negative"),  # fast was wrong
        _row("de", _triage("neutral") | {"model": fast}, sentiment="neutral"),
        _row("de", _triage("negative") | {"model": accurate}, sentiment="negative"),
        _row("de", _triage("positive"), sentiment="positive"),  # stored before models were kept
        _row("de", None, sentiment="negative"),  # triage was off
    ]
    every = compare_with_labels(rows)
    assert every.models == {fast: 2, accurate: 1, "unrecorded": 1}
    assert (every.labelled, every.without_triage, every.changed("sentiment")) == (5, 1, 1)

    only_fast = compare_with_labels(rows, model=fast)
    assert (only_fast.labelled, only_fast.without_triage) == (2, 0)
    assert only_fast.models == every.models  # the choice stays on offer
    assert only_fast.changed("sentiment") == 1 and only_fast.reports["sentiment"]["all"].n == 2
    assert compare_with_labels(rows, model=accurate).changed("sentiment") == 0
    assert compare_with_labels(rows, model="unrecorded").reports["sentiment"]["all"].n == 1
    assert compare_with_labels(rows, model="no such model").labelled == 0

    text = format_correction_report(only_fast)
    assert f"labelled answers per model: {accurate}: 1, {fast}: 2, unrecorded: 1" in text
    assert f"scored: the answers of {fast} only" in text
    data = correction_report_as_dict(only_fast)
    assert data["model"] == fast and data["models"][fast] == 2


def test_a_stored_answer_missing_fields_is_still_scored() -> None:
    """Stored answers are read as they are, without validation: a field an older build did not
    store is read as absent, not a crash."""
    report = compare_with_labels([_row("de", {"sentiment": "negative"}, sentiment="negative", spam=False)])
    assert report.changed("sentiment") == 0 and report.changed("spam") == 0
