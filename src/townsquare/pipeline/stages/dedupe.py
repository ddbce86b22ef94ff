"""Idempotent ingest: the same (channel, external id) is stored once, however often delivered."""

from __future__ import annotations

from townsquare.pipeline.batch import Batch
from townsquare.store import ingest


class DedupeStage:
    name = "dedupe"

    def process(self, batch: Batch) -> None:
        seen: set[tuple[str, str]] = set()
        for item in batch.active():
            if item.key in seen:
                item.skip_reason = "duplicate"
            seen.add(item.key)
        stored = ingest.existing_message_keys(batch.db, [item.key for item in batch.active()])
        for item in batch.active():
            if item.key in stored:
                item.skip_reason = "duplicate"
