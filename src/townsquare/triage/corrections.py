"""How triage's stored answers compare with what the company's agents said about the same posts.

Every inbound message keeps triage's answer (``messages.triage``); an agent's correction is kept
beside it (``message_labels``, see docs/triage.md "Teaching it your customers"). Scoring the one
against the other answers the support lead's question "how often is triage wrong on *our*
customers, and about what?" without running a model again: the figures are those of the answers
agents actually saw, whatever model or settings produced them at the time.

Read them with their bias in mind: agents correct a post mostly when triage got it wrong, so the
agreement here is a floor for triage's accuracy on the whole traffic, not an estimate of it. For an
unbiased figure, label a random sample (docs/triage.md).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .evaluate import Report, reports_by_language
from .schema import INTENTS, SENTIMENTS

Answer = Mapping[str, Any]


def _yes_no(value: object, yes: str, no: str) -> str | None:
    return None if value is None else (yes if value else no)


def _main_intent(intents: object) -> str | None:
    return str(intents[0]) if isinstance(intents, list) and intents else None


# task: (the agent's answer from a label row, triage's from its stored result, the task's classes)
CORRECTION_TASKS: dict[str, tuple[Callable[[Answer], str | None], Callable[[Answer], str | None], tuple[str, ...]]] = {
    "sentiment": (
        lambda label: label.get("sentiment"),
        lambda triage: triage.get("sentiment"),
        SENTIMENTS,
    ),
    "intent": (
        lambda label: _main_intent(label.get("intents")),
        lambda triage: triage.get("intent"),
        INTENTS,
    ),
    "spam": (
        lambda label: _yes_no(label.get("spam"), "spam", "not"),
        lambda triage: _yes_no(triage.get("spam"), "spam", "not"),
        ("spam", "not"),
    ),
    "needs_reply": (
        lambda label: _yes_no(label.get("needs_reply"), "reply", "no"),
        lambda triage: _yes_no(triage.get("needs_reply"), "reply", "no"),
        ("reply", "no"),
    ),
}


@dataclass
class CorrectionReport:
    labelled: int = 0  # labelled posts read
    without_triage: int = 0  # of those, posts triage never answered (triage was off when they came)
    # per task: {"all" and each language: Report}; truth = the agent's answer, predicted = triage's
    reports: dict[str, dict[str, Report]] = field(default_factory=dict)

    def changed(self, task: str) -> int:
        """Posts on which the agent's answer for ``task`` differs from triage's."""
        overall = self.reports[task]["all"]
        return overall.n - sum(overall.confusion[i][i] for i in range(len(overall.labels)))


def compare_with_labels(rows: Iterable[Mapping[str, Any]]) -> CorrectionReport:
    """Score triage's stored answers against the agents' labels.

    Each row is a labelled message as ``store.labels.labelled_messages`` yields it: the label's
    fields (``None`` where the agent did not say), ``language`` and ``triage`` (the stored result,
    or ``None``). A task counts a post only where the agent set that field and triage answered it.
    """
    report = CorrectionReport()
    pairs: dict[str, list[tuple[str, str, str]]] = {task: [] for task in CORRECTION_TASKS}
    for row in rows:
        report.labelled += 1
        triage = row.get("triage")
        if not isinstance(triage, Mapping):
            report.without_triage += 1
            continue
        language = str(row.get("language") or triage.get("language") or "?")
        for task, (agent_of, triage_of, _) in CORRECTION_TASKS.items():
            truth, predicted = agent_of(row), triage_of(triage)
            if truth is not None and predicted is not None:
                pairs[task].append((language, truth, predicted))
    report.reports = {
        task: reports_by_language(pairs[task], CORRECTION_TASKS[task][2]) for task in CORRECTION_TASKS if pairs[task]
    }
    return report


BIAS_NOTE = (
    "Agents label mostly the posts triage got wrong, so agreement here is a floor for triage's "
    "accuracy on all traffic, not an estimate of it."
)


def format_correction_report(report: CorrectionReport) -> str:
    """Plain text: how many labelled posts, then ``evaluate.format_reports``' tables per task."""
    from .evaluate import format_reports

    head = (
        f"{report.labelled} labelled posts, {report.labelled - report.without_triage} with triage's answer "
        f"(truth = the agent's label, predicted = triage's stored answer)\n"
        + "".join(
            f"  {task}: agents changed {report.changed(task)} of {by_lang['all'].n}\n"
            for task, by_lang in report.reports.items()
        )
        + f"Note: {BIAS_NOTE}\n"
    )
    if not report.reports:
        return head + "nothing to compare yet: no post has both an agent's label and triage's answer\n"
    return head + "\n" + format_reports(report.reports)


def correction_report_as_dict(report: CorrectionReport) -> dict[str, Any]:
    from .evaluate import reports_as_dict

    return {
        "labelled": report.labelled,
        "without_triage": report.without_triage,
        "changed": {task: report.changed(task) for task in report.reports},
        "tasks": reports_as_dict(report.reports),
        "note": BIAS_NOTE,
    }
