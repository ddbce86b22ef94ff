"""Scores of `townsquare eval triage`: confusion matrices and the macro-F1's bootstrap interval."""

from __future__ import annotations

import pytest

from townsquare.triage.evaluate import format_reports, macro_f1_interval, reports_as_dict, score, with_interval

LABELS = ("negative", "neutral", "positive")


def _sample(copies: int) -> tuple[list[str], list[str]]:
    """A three-class set like XLM-T val (balanced), predicted about 70 % right."""
    truth = ["negative"] * 10 + ["neutral"] * 10 + ["positive"] * 10
    predicted = (
        ["negative"] * 8 + ["neutral"] * 2 + ["negative"] * 3 + ["neutral"] * 6 + ["positive"] * 1
        + ["neutral"] * 3 + ["positive"] * 7
    )  # fmt: skip
    return truth * copies, predicted * copies


def test_confusion_matrix_rows_are_truth_and_columns_predictions() -> None:
    truth, predicted = _sample(1)
    report = score(truth, predicted, LABELS)
    assert report.labels == LABELS
    assert report.confusion == ((8, 2, 0), (3, 6, 1), (0, 3, 7))
    assert sum(map(sum, report.confusion)) == report.n == 30


def test_interval_holds_the_estimate_and_narrows_with_more_posts() -> None:
    small = with_interval(score(*_sample(4), LABELS))
    large = with_interval(score(*_sample(40), LABELS))
    assert small.interval is not None and large.interval is not None
    assert small.interval[0] < small.macro_f1 < small.interval[1]
    assert large.interval[0] < large.macro_f1 < large.interval[1]
    assert abs(small.macro_f1 - large.macro_f1) < 1e-9  # the same proportions
    width_small = small.interval[1] - small.interval[0]
    width_large = large.interval[1] - large.interval[0]
    # 10 times the posts: about sqrt(10) ≈ 3.2 times narrower
    assert 2.5 < width_small / width_large < 4.0


def test_interval_is_reproducible_and_degenerate_cases_are_clear() -> None:
    report = score(*_sample(4), LABELS)
    assert macro_f1_interval(report) == macro_f1_interval(report)
    perfect = score(LABELS * 5, LABELS * 5, LABELS)
    assert macro_f1_interval(perfect) == (1.0, 1.0)
    assert macro_f1_interval(score(["neutral"], ["neutral"], LABELS)) is None
    assert macro_f1_interval(score([], [], LABELS)) is None


def test_interval_matches_a_direct_bootstrap_of_the_posts() -> None:
    """The confusion-matrix shortcut gives what resampling the posts and scoring them again gives."""
    import numpy as np

    truth, predicted = _sample(3)
    report = score(truth, predicted, LABELS)
    rng = np.random.RandomState(0)
    direct = []
    for _ in range(1000):
        pick = rng.randint(0, len(truth), len(truth))
        direct.append(score([truth[i] for i in pick], [predicted[i] for i in pick], LABELS).macro_f1)
    low, high = np.percentile(direct, [2.5, 97.5])
    interval = macro_f1_interval(report)
    assert interval is not None
    # the same statistic, other random draws: equal to within the bootstrap's own noise
    assert interval[0] == pytest.approx(low, abs=0.03) and interval[1] == pytest.approx(high, abs=0.03)


def test_reports_print_and_serialize_the_matrix_and_interval() -> None:
    report = with_interval(score(*_sample(4), LABELS))
    text = format_reports({"sentiment": {"all": report, "en": report}})
    assert "true / predicted" in text
    assert f"macro-F1={report.macro_f1:.3f} [" in text
    assert "95 % bootstrap interval" in text
    as_dict = reports_as_dict({"sentiment": {"all": report}})["sentiment"]["all"]
    assert isinstance(as_dict, dict)
    assert as_dict["confusion"] == {"labels": list(LABELS), "matrix": [[32, 8, 0], [12, 24, 4], [0, 12, 28]]}
    ci = as_dict["macro_f1_ci95"]
    assert isinstance(ci, list) and ci[0] < as_dict["macro_f1"] < ci[1]


def test_many_classes_list_their_largest_confusions_instead_of_a_matrix() -> None:
    languages = [f"l{k:02d}" for k in range(20)]
    truth = languages * 3 + ["l00"] * 4
    predicted = languages * 3 + ["l01"] * 3 + ["l02"]
    text = format_reports({"language": {"all": score(truth, predicted)}})
    assert "true / predicted" not in text
    assert "most confused (true as predicted, posts): l00 as l01 3, l00 as l02 1" in text
