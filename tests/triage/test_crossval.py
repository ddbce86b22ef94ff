from __future__ import annotations

from townsquare.triage.crossval import complaint_cv, intent_cv
from townsquare.triage.data import Labelled, intent_set


def test_intent_cv_scores_only_real_posts() -> None:
    rows = intent_set()
    sample = [r for r in rows if r.extra["origin"] == "real"][:80] + [r for r in rows if r.extra["origin"] != "real"][
        :10
    ]
    reports, extra = intent_cv(sample, complaints=[])
    assert reports["intent"]["all"].n == 80
    assert set(reports) == {"intent", "spam", "needs_reply"}
    assert 0.0 <= extra["lenient_intent_accuracy"] <= 1.0
    assert reports["intent"]["all"].accuracy <= extra["lenient_intent_accuracy"] + 1e-9


def test_complaint_cv_on_a_small_set() -> None:
    texts = [
        ("my parcel never arrived, useless", True),
        ("what time do you open?", False),
        ("broken on arrival and no refund", True),
        ("love the new store", False),
        ("worst support ever, still waiting", True),
        ("can I pay by card?", False),
    ] * 5
    rows = [Labelled(text=f"{t} #{i}", source="t", complaint=c) for i, (t, c) in enumerate(texts)]
    result = complaint_cv(rows)
    assert result["n"] == 30
    assert 0.0 <= result["f1"] <= 1.0
    assert result["f1"] > 0.5
