"""Runs the stages over batches: preparing stages outside the database, storing stages inside one
write transaction per batch. A batch that fails is retried message by message, so one poisoned
message lands in `dead_letters` instead of taking its neighbours with it."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy.exc import IntegrityError

from townsquare.clock import utcnow
from townsquare.config import Settings
from townsquare.events import Event, EventHub
from townsquare.ids import new_id
from townsquare.model import InboundMessage
from townsquare.pipeline.batch import Batch, Stage, WorkItem
from townsquare.pipeline.stages.contacts import ContactsStage
from townsquare.pipeline.stages.dedupe import DedupeStage
from townsquare.pipeline.stages.normalize import NormalizeStage
from townsquare.pipeline.stages.persist import PersistStage
from townsquare.pipeline.stages.route import RouteStage
from townsquare.store import ingest
from townsquare.store.db import Database

log = logging.getLogger(__name__)


@dataclass
class IngestResult:
    stored: int = 0
    duplicates: int = 0
    failed: int = 0
    # Failed messages whose dead letter could not be written either: kept nowhere by the
    # pipeline, so the bus must keep them (the worker does not acknowledge such a batch).
    unrecorded: int = 0
    conversation_ids: set[str] = field(default_factory=set)
    new_conversation_ids: set[str] = field(default_factory=set)

    def add(self, other: IngestResult) -> None:
        self.stored += other.stored
        self.duplicates += other.duplicates
        self.failed += other.failed
        self.unrecorded += other.unrecorded
        self.conversation_ids |= other.conversation_ids
        self.new_conversation_ids |= other.new_conversation_ids


def default_prepare_stages(settings: Settings) -> list[Stage]:
    stages: list[Stage] = [NormalizeStage()]
    if settings.triage != "off":
        from townsquare.pipeline.stages.triage import TriageStage

        share = settings.triage_e5_share
        if share is not None and settings.triage != "accurate":
            log.warning(
                "triage_e5_share = %s applies to accurate triage only; ignored with triage = %s", share, settings.triage
            )
            share = None
        stages.append(TriageStage(settings.triage, settings.custom_patterns(), share, settings.urgency_words))
    return stages


def default_store_stages(db: Database, settings: Settings, events: EventHub | None = None) -> list[Stage]:
    from townsquare.pipeline.stages.thread import ThreadStage

    stages: list[Stage] = [DedupeStage(), ContactsStage(), ThreadStage(), RouteStage(), PersistStage()]
    if settings.incidents:
        from townsquare.pipeline.stages.incidents import IncidentStage

        stages.append(IncidentStage(db, settings, events))
    return stages


class Pipeline:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        events: EventHub | None = None,
        prepare: Sequence[Stage] | None = None,
        store: Sequence[Stage] | None = None,
    ) -> None:
        self.db = db
        self.settings = settings
        self.events = events
        self.prepare_stages = list(prepare) if prepare is not None else default_prepare_stages(settings)
        self._stored = 0
        self._next_analyze = 1_000
        self.store_stages = list(store) if store is not None else default_store_stages(db, settings, events)

    def close(self) -> None:
        """Let stages that keep state in memory save it (the incident detector)."""
        for stage in self.store_stages:
            save = getattr(stage, "save", None)
            if callable(save):
                try:
                    save()
                except Exception:
                    log.exception("stage %s could not save its state", stage.name)

    @property
    def stage_names(self) -> list[str]:
        return [stage.name for stage in [*self.prepare_stages, *self.store_stages]]

    def process(self, messages: Sequence[InboundMessage]) -> IngestResult:
        result = IngestResult()
        size = self.settings.pipeline_batch_size
        for start in range(0, len(messages), size):
            result.add(self._process_batch(messages[start : start + size]))
        return result

    def _process_batch(self, messages: Sequence[InboundMessage]) -> IngestResult:
        try:
            return self._run(messages)
        except Exception:
            if len(messages) == 1:
                return self._dead_letter(messages[0])
            log.warning("batch of %d failed; retrying one message at a time", len(messages), exc_info=True)
        result = IngestResult()
        for message in messages:
            try:
                result.add(self._run([message]))
            except IntegrityError:
                # Another worker stored the same message between our check and our insert.
                result.add(self._recheck_duplicate(message))
            except Exception:
                result.add(self._dead_letter(message))
        return result

    def _run(self, messages: Sequence[InboundMessage]) -> IngestResult:
        batch = Batch(
            items=[WorkItem(message=m, message_id=new_id()) for m in messages],
            settings=self.settings,
            now=utcnow(),
        )
        for stage in self.prepare_stages:
            stage.process(batch)
        with self.db.write() as conn:
            batch.conn = conn
            for stage in self.store_stages:
                stage.process(batch)
        batch.conn = None
        result = IngestResult(
            stored=len(batch.active()),
            duplicates=sum(1 for item in batch.items if item.skip_reason == "duplicate"),
            conversation_ids={str(item.conversation_id) for item in batch.active()},
            new_conversation_ids=set(batch.new_conversations),
        )
        self._announce(batch)
        self._stored += result.stored
        self._maybe_analyze()
        return result

    def _maybe_analyze(self) -> None:
        """Refresh PostgreSQL's statistics after 1k, 10k, 100k... stored messages. A new database
        starts with statistics of empty tables, and until autovacuum catches up (a minute or
        more) the planner scans instead of using the unique indexes: an import would slow
        down with every batch."""
        if self.db.is_sqlite or self._stored < self._next_analyze:
            return
        self._next_analyze *= 10
        try:
            with self.db.engine.connect() as conn:
                conn.exec_driver_sql("ANALYZE messages, identities, conversations, contacts")
                conn.commit()
        except Exception:
            log.warning("could not refresh table statistics", exc_info=True)

    def _recheck_duplicate(self, message: InboundMessage) -> IngestResult:
        with self.db.read() as conn:
            if ingest.existing_message_keys(conn, [(message.channel, message.external_id)]):
                return IngestResult(duplicates=1)
        return self._dead_letter(message)

    def _dead_letter(self, message: InboundMessage) -> IngestResult:
        # Logged by key only: the text and payload carry personal data.
        log.exception("message %s/%s could not be stored; kept in dead_letters", message.channel, message.external_id)
        try:
            with self.db.write() as conn:
                ingest.insert_dead_letter(
                    conn,
                    {
                        "id": new_id(),
                        "channel": message.channel,
                        "external_id": message.external_id,
                        "payload": message.model_dump(mode="json"),
                        "error": _last_error(),
                        "created_at": utcnow(),
                    },
                )
        except Exception:
            log.exception("could not write the dead letter for %s/%s", message.channel, message.external_id)
            return IngestResult(failed=1, unrecorded=1)
        return IngestResult(failed=1)

    def _announce(self, batch: Batch) -> None:
        if self.events is None:
            return
        for event in batch.events:
            self.events.publish(event)
        for conversation_id in batch.new_conversations:
            self.events.publish(Event("conversation.created", {"conversation_id": conversation_id}))
        for conversation_id in batch.changed_conversations:
            self.events.publish(Event("conversation.updated", {"conversation_id": conversation_id}))
        for item in batch.active():
            self.events.publish(
                Event(
                    "message.received",
                    {
                        "conversation_id": item.conversation_id,
                        "message_id": item.message_id,
                        "channel": item.message.channel,
                        "visibility": item.message.visibility.value,
                    },
                )
            )


def _last_error() -> str:
    import sys

    error = sys.exc_info()[1]
    return f"{type(error).__name__}: {error}"[:2000] if error else "unknown error"
