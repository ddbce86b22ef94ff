"""Measuring triage: per-class precision/recall/F1, macro-F1 per language with its 95 %
bootstrap interval, confusion matrices, and the figures of docs/triage.md (``townsquare eval
triage`` and ``bench/triage.py`` call into this module).

Why the interval: a macro-F1 on a few hundred labelled posts moves by several points with which
posts happen to be in the set (324 XLM-T val tweets per language: a standard deviation of 0.025).
A support lead comparing the fast and accurate modes on 300 posts of their own history should see
that before trusting a difference of two points.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from .data import Labelled
from .schema import INTENTS, SENTIMENTS, TriageInput, TriageResult


class Answer(Protocol):
    """What the tasks read of triage's answer: a ``TriageResult`` fresh from a model, or an answer
    stored with a message (``corrections.StoredAnswer``)."""

    @property
    def language(self) -> str: ...
    @property
    def sentiment(self) -> str: ...
    @property
    def intent(self) -> str: ...
    @property
    def spam(self) -> bool: ...
    @property
    def needs_reply(self) -> bool: ...


@dataclass
class ClassScores:
    precision: float
    recall: float
    f1: float
    support: int


@dataclass
class Report:
    """Scores of one task on one set of examples."""

    per_class: dict[str, ClassScores] = field(default_factory=dict)
    macro_f1: float = math.nan
    accuracy: float = math.nan
    n: int = 0
    labels: tuple[str, ...] = ()
    # confusion[i][j]: posts labelled labels[i] that were predicted labels[j]
    confusion: tuple[tuple[int, ...], ...] = ()
    # 95 % percentile-bootstrap interval of macro_f1 (``with_interval``); None until computed
    interval: tuple[float, float] | None = None


def score(truth: Sequence[str], predicted: Sequence[str], labels: Sequence[str] | None = None) -> Report:
    """Per-class precision, recall and F1; macro-F1 over the classes present in ``truth``."""
    if len(truth) != len(predicted):
        raise ValueError("truth and predictions differ in length")
    labels = list(labels) if labels is not None else sorted(set(truth) | set(predicted))
    t = np.asarray(truth, dtype=object)
    p = np.asarray(predicted, dtype=object)
    report = Report(n=len(truth), accuracy=float(np.mean(t == p)) if len(truth) else math.nan, labels=tuple(labels))
    report.confusion = tuple(tuple(int(np.sum((t == a) & (p == b))) for b in labels) for a in labels)
    f1s = []
    for label in labels:
        tp = int(np.sum((t == label) & (p == label)))
        n_pred = int(np.sum(p == label))
        n_true = int(np.sum(t == label))
        precision = tp / n_pred if n_pred else 0.0
        recall = tp / n_true if n_true else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        report.per_class[label] = ClassScores(precision, recall, f1, n_true)
        if n_true:
            f1s.append(f1)
    report.macro_f1 = float(np.mean(f1s)) if f1s else math.nan
    return report


BOOTSTRAP_RESAMPLES = 1000
BOOTSTRAP_SEED = 0  # a fixed seed: the same file and model always print the same interval


def macro_f1_interval(
    report: Report, resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED
) -> tuple[float, float] | None:
    """The 95 % percentile-bootstrap interval of ``report``'s macro-F1: the posts are resampled
    with replacement and the macro-F1 taken again (over the classes present in each resample),
    ``resamples`` times. None for fewer than two posts.

    Resampling n posts with replacement is the same as drawing the confusion matrix's n counts
    from a multinomial over its cells with the observed shares, so that is what is drawn: the cost
    depends on the number of classes, not of posts (2 ms instead of 3 s for 100,000 labelled
    posts, which the corrections report of a large team has)."""
    k = len(report.labels)
    counts = np.asarray(report.confusion, dtype=np.int64).reshape(k * k) if k else np.zeros(0, np.int64)
    n = int(counts.sum())
    if n < 2:
        return None
    draws = np.random.RandomState(seed).multinomial(n, counts / n, size=resamples).reshape(resamples, k, k)
    tp, n_true, n_pred = np.einsum("bii->bi", draws), draws.sum(2), draws.sum(1)
    denom = n_true + n_pred
    f1 = np.divide(2 * tp, denom, out=np.zeros(tp.shape), where=denom > 0)
    present = n_true > 0  # every resample has a post, so at least one class is present
    scores = (f1 * present).sum(1) / present.sum(1)
    low, high = np.percentile(scores, [2.5, 97.5])
    return float(low), float(high)


def with_interval(report: Report) -> Report:
    report.interval = macro_f1_interval(report)
    return report


def binary_f1(truth: Sequence[bool], predicted: Sequence[bool]) -> float:
    r = score(["yes" if x else "no" for x in truth], ["yes" if x else "no" for x in predicted], ["yes", "no"])
    return r.per_class["yes"].f1


TASKS: dict[str, tuple[Callable[[Labelled], str | None], Callable[[Answer], str], tuple[str, ...] | None]] = {
    "language": (lambda r: r.language, lambda p: p.language, None),
    "sentiment": (lambda r: r.sentiment, lambda p: p.sentiment, SENTIMENTS),
    "intent": (lambda r: r.intents[0] if r.intents else None, lambda p: p.intent, INTENTS),
    "complaint": (
        lambda r: None if r.complaint is None else ("complaint" if r.complaint else "not"),
        lambda p: "complaint" if p.intent == "complaint" else "not",
        ("complaint", "not"),
    ),
    "spam": (
        lambda r: None if r.spam is None else ("spam" if r.spam else "not"),
        lambda p: "spam" if p.spam else "not",
        ("spam", "not"),
    ),
    "needs_reply": (
        lambda r: None if r.needs_reply is None else ("reply" if r.needs_reply else "no"),
        lambda p: "reply" if p.needs_reply else "no",
        ("reply", "no"),
    ),
}


def evaluate_rows(
    rows: Sequence[Labelled], predict: Callable[[list[TriageInput]], list[TriageResult]], batch: int = 256
) -> dict[str, dict[str, Report]]:
    """For every task that ``rows`` label: {task: {language or "all": Report}}.

    The language hint is *not* passed to the triager (except for the language task itself, which
    would otherwise be trivial): rows are scored as a customer's post would be.
    """
    results: list[TriageResult] = []
    for i in range(0, len(rows), batch):
        results += predict([TriageInput(id=str(i + k), text=r.text) for k, r in enumerate(rows[i : i + batch])])
    return score_tasks(list(zip(rows, results, strict=True)))


def score_tasks(
    examples: Sequence[tuple[Labelled, Answer]], tasks: Sequence[str] = tuple(TASKS)
) -> dict[str, dict[str, Report]]:
    """{task: {"all" and each language: Report}} of labelled rows and triage's answers to them,
    for each of ``tasks`` that some row labels."""
    out: dict[str, dict[str, Report]] = {}
    for task in tasks:
        truth_of, pred_of, labels = TASKS[task]
        pairs = [(r.language or "?", truth, pred_of(p)) for r, p in examples if (truth := truth_of(r)) is not None]
        if pairs:
            out[task] = reports_by_language(pairs, labels)
    return out


def reports_by_language(pairs: Sequence[tuple[str, str, str]], labels: Sequence[str] | None) -> dict[str, Report]:
    """``(language, truth, predicted)`` triples -> {"all" and each language: Report with interval}."""
    truth_by_lang: dict[str, list[str]] = defaultdict(list)
    predicted_by_lang: dict[str, list[str]] = defaultdict(list)
    for lang, truth, predicted in pairs:  # one pass: a team's history has 100,000 labels
        truth_by_lang[lang].append(truth)
        predicted_by_lang[lang].append(predicted)
    by_lang: dict[str, Report] = {
        "all": with_interval(score([t for _, t, _ in pairs], [p for _, _, p in pairs], labels))
    }
    for lang in sorted(truth_by_lang):
        by_lang[lang] = with_interval(score(truth_by_lang[lang], predicted_by_lang[lang], labels))
    return by_lang


def _interval_text(report: Report) -> str:
    return "" if report.interval is None else f" [{report.interval[0]:.3f}-{report.interval[1]:.3f}]"


MATRIX_MAX_LABELS = 12  # more classes (languages): the largest confusions as a list instead
MOST_CONFUSED = 10


def format_confusion(report: Report) -> list[str]:
    """The confusion matrix as text: one row per true class, one column per predicted class; for
    more than ``MATRIX_MAX_LABELS`` classes the ``MOST_CONFUSED`` largest off-diagonal cells."""
    if len(report.labels) > MATRIX_MAX_LABELS:
        cells = [
            (count, truth, predicted)
            for truth, row in zip(report.labels, report.confusion, strict=True)
            for predicted, count in zip(report.labels, row, strict=True)
            if truth != predicted and count
        ]
        cells.sort(key=lambda cell: (-cell[0], cell[1], cell[2]))
        listed = ", ".join(f"{t} as {p} {c}" for c, t, p in cells[:MOST_CONFUSED]) or "none"
        return [f"  most confused (true as predicted, posts): {listed}"]
    width = max([9, *(len(label) + 2 for label in report.labels)])
    corner = "true / predicted"
    lines = [f"  {corner:<24}" + "".join(f"{label:>{width}}" for label in report.labels)]
    for label, row in zip(report.labels, report.confusion, strict=True):
        lines.append(f"  {label:<24}" + "".join(f"{count:>{width}d}" for count in row))
    return lines


def format_reports(reports: dict[str, dict[str, Report]]) -> str:
    """Plain-text tables: per-class P/R/F1 over all rows, the confusion matrix, then macro-F1 per
    language; each macro-F1 with its 95 % bootstrap interval in brackets."""
    lines: list[str] = []
    for task, by_lang in reports.items():
        overall = by_lang["all"]
        lines.append(
            f"== {task}  (n={overall.n}, accuracy={overall.accuracy:.3f}, "
            f"macro-F1={overall.macro_f1:.3f}{_interval_text(overall)})"
        )
        lines.append(f"  {'class':<24}{'precision':>10}{'recall':>10}{'F1':>10}{'support':>10}")
        for label, s in overall.per_class.items():
            lines.append(f"  {label:<24}{s.precision:>10.3f}{s.recall:>10.3f}{s.f1:>10.3f}{s.support:>10d}")
        lines.append("")
        lines += format_confusion(overall)
        langs = [lang for lang in by_lang if lang != "all"]
        if langs:
            lines.append(
                "  macro-F1 per language: "
                + ", ".join(
                    f"{lang} {by_lang[lang].macro_f1:.3f}{_interval_text(by_lang[lang])} (n={by_lang[lang].n})"
                    for lang in langs
                )
            )
        lines.append("")
    lines.append("[low-high]: 95 % bootstrap interval of the macro-F1 (1,000 resamples of the posts)")
    return "\n".join(lines)


def reports_as_dict(reports: dict[str, dict[str, Report]]) -> dict[str, dict[str, object]]:
    return {
        task: {
            lang: {
                "n": r.n,
                "accuracy": round(r.accuracy, 4),
                "macro_f1": round(r.macro_f1, 4),
                "macro_f1_ci95": None if r.interval is None else [round(v, 4) for v in r.interval],
                "confusion": {"labels": list(r.labels), "matrix": [list(row) for row in r.confusion]},
                "per_class": {
                    k: {
                        "precision": round(v.precision, 4),
                        "recall": round(v.recall, 4),
                        "f1": round(v.f1, 4),
                        "support": v.support,
                    }
                    for k, v in r.per_class.items()
                },
            }
            for lang, r in by_lang.items()
        }
        for task, by_lang in reports.items()
    }
