"""How triage is doing on the company's own customers: its stored answers against the agents'
corrections (no model is run)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from townsquare.api.deps import ActorDep, RuntimeDep
from townsquare.api.schemas import CorrectionReportOut
from townsquare.store import labels
from townsquare.triage.corrections import compare_with_labels, correction_report_as_dict

router = APIRouter(prefix="/api/triage", tags=["triage"])


@router.get("/corrections", response_model=CorrectionReportOut)
def triage_corrections(
    runtime: RuntimeDep,
    actor: ActorDep,
    since: Annotated[datetime | None, Query(description="Only labels given at or after this time.")] = None,
    model: Annotated[
        str | None,
        Query(max_length=200, description="Only the answers of this model (a key of `models` in the report)."),
    ] = None,
) -> CorrectionReportOut:
    """Per task (sentiment, intent, spam, needs_reply): per-class precision, recall and F1 and
    macro-F1 per language of triage's stored answers, the agents' labels taken as the truth.
    ``models`` counts the labelled answers of each model that gave them (mode and weight digests),
    so that fast and accurate, or a retrained model and the shipped one, can be compared.
    Any signed-in user (viewers too: it holds counts, no customer text)."""
    with runtime.db.read() as conn:
        report = compare_with_labels(labels.labelled_messages(conn, since=since), model)
    return CorrectionReportOut.model_validate(correction_report_as_dict(report))
