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

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .data import Labelled
from .evaluate import Answer, Report, score_tasks

CORRECTION_TASKS: tuple[str, ...] = ("sentiment", "intent", "spam", "needs_reply")  # what an agent labels
UNRECORDED_MODEL = "unrecorded"  # answers stored before the model was kept with them


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    """The fields of a stored ``TriageResult`` that the tasks score: built in a microsecond, where
    a ``TriageResult`` of a stored answer with its nested scores took twelve (a team's history
    has 100,000 labelled posts)."""

    language: str
    sentiment: str
    intent: str
    spam: bool
    needs_reply: bool

    @classmethod
    def of(cls, stored: Mapping[str, Any]) -> StoredAnswer:
        return cls(
            language=str(stored.get("language") or "?"),
            sentiment=str(stored.get("sentiment")),
            intent=str(stored.get("intent")),
            spam=bool(stored.get("spam")),
            needs_reply=bool(stored.get("needs_reply")),
        )


@dataclass
class CorrectionReport:
    labelled: int = 0  # labelled posts read
    without_triage: int = 0  # of those, posts triage never answered (triage was off when they came)
    # per task: {"all" and each language: Report}; truth = the agent's answer, predicted = triage's
    reports: dict[str, dict[str, Report]] = field(default_factory=dict)
    model: str | None = None  # only this model's answers were scored; None: every model's
    models: dict[str, int] = field(default_factory=dict)  # labelled answers per model, in any case

    def changed(self, task: str) -> int:
        """Posts on which the agent's answer for ``task`` differs from triage's."""
        overall = self.reports[task]["all"]
        return overall.n - sum(overall.confusion[i][i] for i in range(len(overall.labels)))


def model_of(stored: Mapping[str, Any]) -> str:
    """The model that gave a stored answer (``TriageResult.model``); answers stored before models
    were recorded have none."""
    return str(stored.get("model") or UNRECORDED_MODEL)


def compare_with_labels(rows: Iterable[Mapping[str, Any]], model: str | None = None) -> CorrectionReport:
    """Score triage's stored answers against the agents' labels, with ``eval triage``'s tasks
    (``evaluate.TASKS``: the main intent is the truth for intent).

    Each row is a labelled message as ``store.labels.labelled_messages`` yields it: the label's
    fields (``None`` where the agent did not say), ``language`` and ``triage`` (the stored result,
    or ``None``). A task counts a post only where the agent set that field. With ``model``, only
    the answers of that model (``model_of``) are scored and counted; ``models`` counts every
    model's labelled answers either way, so that the choice can be offered.
    """
    report = CorrectionReport(model=model)
    examples: list[tuple[Labelled, Answer]] = []
    for row in rows:
        triage = row.get("triage")
        if not isinstance(triage, Mapping):
            if model is None:
                report.labelled += 1
                report.without_triage += 1
            continue
        answered_by = model_of(triage)
        report.models[answered_by] = report.models.get(answered_by, 0) + 1
        if model is not None and answered_by != model:
            continue
        report.labelled += 1
        agent = Labelled(
            text="",
            source="agents",
            language=row.get("language") or triage.get("language"),
            sentiment=row.get("sentiment"),
            intents=row.get("intents"),
            spam=row.get("spam"),
            needs_reply=row.get("needs_reply"),
        )
        examples.append((agent, StoredAnswer.of(triage)))
    report.reports = score_tasks(examples, CORRECTION_TASKS)
    return report


BIAS_NOTE = (
    "Agents label mostly the posts triage got wrong, so agreement here is a floor for triage's "
    "accuracy on all traffic, not an estimate of it."
)


def format_correction_report(report: CorrectionReport) -> str:
    """Plain text: how many labelled posts, then ``evaluate.format_reports``' tables per task."""
    from .evaluate import format_reports

    models = ", ".join(f"{name}: {count}" for name, count in sorted(report.models.items()))
    head = (
        f"{report.labelled} labelled posts, {report.labelled - report.without_triage} with triage's answer "
        f"(truth = the agent's label, predicted = triage's stored answer)\n"
        + (f"labelled answers per model: {models}\n" if report.models else "")
        + (f"scored: the answers of {report.model} only\n" if report.model else "")
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
        "model": report.model,
        "models": dict(sorted(report.models.items())),
        "changed": {task: report.changed(task) for task in report.reports},
        "tasks": reports_as_dict(report.reports),
        "note": BIAS_NOTE,
    }
