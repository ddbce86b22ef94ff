"""The "Triage on your customers" page: triage's stored answers scored against the agents'
corrections (``triage.corrections``), as tables, bars and a shaded confusion matrix."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from townsquare.api.deps import get_runtime
from townsquare.clock import utcnow
from townsquare.store import labels
from townsquare.triage.corrections import BIAS_NOTE, compare_with_labels
from townsquare.triage.evaluate import Report
from townsquare.web.routes import render, web_actor

router = APIRouter(include_in_schema=False)
PERIODS: dict[str, int | None] = {"7d": 7, "30d": 30, "90d": 90, "all": None}  # days back
PERIOD_TITLES = {"7d": "last 7 days", "30d": "last 30 days", "90d": "last 90 days", "all": "all time"}
TASK_TITLES = {"sentiment": "Sentiment", "intent": "Intent", "spam": "Spam", "needs_reply": "Needs a reply"}


@dataclass
class Cell:
    count: int
    share: float  # of the row's posts: how much of what agents called this class triage called that
    diagonal: bool


def confusion_rows(report: Report) -> list[tuple[str, int, list[Cell]]]:
    """The confusion matrix row by row (agent's class, its posts, cells), each cell with its share
    of the row so the template can shade it: a dark off-diagonal cell is where triage errs most."""
    rows = []
    for i, (label, counts) in enumerate(zip(report.labels, report.confusion, strict=True)):
        total = sum(counts)
        cells = [Cell(c, c / total if total else 0.0, i == j) for j, c in enumerate(counts)]
        rows.append((label, total, cells))
    return rows


@router.get("/triage")
def triage_quality(request: Request, period: str = "30d", model: str | None = None) -> HTMLResponse:
    """``model``: only that model's answers (the page offers the models that answered in the
    period, with how many labelled answers each has)."""
    actor = web_actor(request)
    if period not in PERIODS:
        period = "30d"
    days = PERIODS[period]
    since = None if days is None else utcnow() - timedelta(days=days)
    with get_runtime(request).db.read() as conn:
        report = compare_with_labels(labels.labelled_messages(conn, since=since), model or None)
    return render(
        request,
        "triage_quality.html",
        actor=actor,
        report=report,
        period=period,
        periods=PERIOD_TITLES,
        titles=TASK_TITLES,
        confusion_rows=confusion_rows,
        bias_note=BIAS_NOTE,
    )
