"""Triage as a pipeline stage: language, sentiment, intent, urgency and personal data of every
inbound message (the models live in `townsquare.triage`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from townsquare.model import Direction
from townsquare.pipeline.batch import Batch

if TYPE_CHECKING:
    from townsquare.triage import CustomPattern, Mode


class TriageStage:
    name = "triage"

    def __init__(
        self,
        mode: Mode = "fast",
        patterns: Sequence[CustomPattern] = (),
        e5_share: float | None = None,
        urgency_words: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        # Imported here so a pipeline without triage never loads the models.
        from townsquare.triage import load_triager

        self._triager = load_triager(mode, tuple(patterns), e5_share, urgency_words)
        # Now, not on the first batch: a model that cannot run (missing, or trained on another
        # encoder setup) stops the start with its reason instead of dead-lettering every message.
        self._triager.load()

    def process(self, batch: Batch) -> None:
        from townsquare.triage import TriageInput

        items = [item for item in batch.active() if item.message.direction == Direction.INBOUND]
        if not items:
            return
        inputs = [
            TriageInput(
                id=str(index),
                text=item.message.text,
                language=item.message.language,
                author_reach=item.message.author.reach,
            )
            for index, item in enumerate(items)
        ]
        for item, result in zip(items, self._triager.triage(inputs), strict=True):
            data: dict[str, Any] = result.model_dump(mode="json", exclude={"id"})
            item.triage = data
            if item.message.language is None:
                item.message = item.message.model_copy(update={"language": result.language})
