"""Incident detection as a pipeline stage: every inbound message goes through the streaming
burst detector (`townsquare.incidents.detector`) as it is stored; a burst opens a suspected
incident, and later reports that match it join it. Customers who report after an update was
published get that update at once.

The detector's state (baselines, open bursts) is saved in the database every minute and on
shutdown, and restored on start, so a restart neither forgets the usual volume nor reopens a
burst it already reported.
"""

from __future__ import annotations

import json
import logging
import threading
import time

from sqlalchemy import Connection

from townsquare.config import Settings
from townsquare.events import Event, EventHub
from townsquare.incidents import response
from townsquare.incidents.detector import DetectorSettings, IncidentDetector, IncidentSignal, ReportIn
from townsquare.model import Direction
from townsquare.pipeline.batch import Batch
from townsquare.store import incidents as store
from townsquare.store import state
from townsquare.store.db import Database

log = logging.getLogger(__name__)

STATE_KEY = "incident_detector"
SAVE_EVERY_SECONDS = 60.0


class IncidentStage:
    name = "incidents"

    def __init__(self, db: Database, settings: Settings, events: EventHub | None = None) -> None:
        self.db = db
        self.settings = settings
        self._lock = threading.Lock()
        self._detector = self._restore(db, settings)
        self._saved_at = time.monotonic()
        self._closed: list[str] = []
        if events is not None:
            events.listen(self._on_event)

    @staticmethod
    def _restore(db: Database, settings: Settings) -> IncidentDetector:
        with db.read() as conn:
            saved = state.get_value(conn, STATE_KEY)
        if saved:
            try:
                return IncidentDetector.restore(json.loads(saved))
            except Exception:
                log.exception("saved incident detector state unreadable; starting afresh")
        return IncidentDetector(
            DetectorSettings(sensitivity=settings.incident_sensitivity, min_reports=settings.incident_min_reports)
        )

    def _on_event(self, event: Event) -> None:
        # A resolved (or merged) incident stops taking reports; the next burst opens a new one.
        key = event.data.get("detector_key")
        if event.kind == "incident.resolved" and key:
            with self._lock:
                self._closed.append(str(key))

    def process(self, batch: Batch) -> None:
        items = [item for item in batch.active() if item.message.direction == Direction.INBOUND]
        reports = [
            ReportIn(
                id=item.message_id,
                created_at=item.message.created_at,
                text=item.message.text,
                channel=item.message.channel,
                language=item.message.language,
                author=item.contact_id,
            )
            for item in sorted(items, key=lambda item: item.message.created_at)
        ]
        with self._lock:
            for key in self._closed:
                self._detector.close(key)
            self._closed.clear()
            signals = self._detector.observe(reports) if reports else []
        conversation_of = {item.message_id: str(item.conversation_id) for item in items}
        for signal in signals:
            self._apply(batch, signal, conversation_of)
        if time.monotonic() - self._saved_at > SAVE_EVERY_SECONDS:
            self.save(batch.db)

    def _apply(self, batch: Batch, signal: IncidentSignal, conversation_of: dict[str, str]) -> None:
        conn = batch.db
        if signal.kind == "quiet":
            return
        missing = [mid for mid in signal.message_ids if mid not in conversation_of]
        if missing:
            conversation_of = {**conversation_of, **store.conversation_ids_of_messages(conn, missing)}
        conversation_ids = [conversation_of[mid] for mid in signal.message_ids if mid in conversation_of]
        incident = store.incident_by_key(conn, signal.incident_key)
        fields = {
            "title": signal.title[:280],
            "terms": signal.terms,
            "languages": signal.languages,
            "channels": signal.channels,
            "locations": signal.locations,
        }
        if incident is None:
            if signal.kind != "opened":
                return  # grew an incident an agent already closed and removed
            incident_id = store.create_incident(
                conn,
                detector_key=signal.incident_key,
                first_message_at=signal.first_message_at,
                detected_at=signal.detected_at,
                **fields,
            )
            added = store.add_conversations(conn, incident_id, conversation_ids, added_by="detector")
            batch.events.append(
                Event(
                    "incident.opened",
                    {"incident_id": incident_id, "title": signal.title, "size": signal.size, "by": "detector"},
                )
            )
            return
        if incident["status"] == "resolved":
            return
        incident_id = incident["id"]
        # Agents may have renamed it: keep their title, refresh what the detector knows.
        store.update_incident(conn, incident_id, **{k: v for k, v in fields.items() if k != "title"})
        added = store.add_conversations(conn, incident_id, conversation_ids, added_by="detector")
        if added:
            batch.events.append(
                Event("incident.grew", {"incident_id": incident_id, "added": len(added), "size": signal.size})
            )
            self._answer_late_reporters(conn, incident, set(added), batch)

    def _answer_late_reporters(
        self, conn: Connection, incident: dict[str, object], added: set[str], batch: Batch
    ) -> None:
        if not self.settings.incident_late_reply:
            return
        latest = store.latest_update(conn, str(incident["id"]))
        if latest is None or not latest["customer_templates"]:
            return
        status_url = self.settings.public_url.rstrip("/") + f"/status/incidents/{incident['id']}"
        reply_ids = response.queue_replies(
            conn,
            str(incident["id"]),
            latest["id"],
            latest["customer_templates"],
            default_language="en",
            title=str(incident["title"]),
            status_url=status_url,
            author_id=None,
            conversation_ids=added,
        )
        for reply_id in reply_ids:
            batch.events.append(Event("reply.queued", {"reply_id": reply_id, "incident_id": incident["id"]}))

    def save(self, conn: Connection | None = None) -> None:
        with self._lock:
            document = json.dumps(self._detector.snapshot())
            hours = self._detector.history_hours()
        if conn is not None:
            state.set_value(conn, STATE_KEY, document)
            store.save_detector_summary(conn, hours)
        else:
            with self.db.write() as fresh:
                state.set_value(fresh, STATE_KEY, document)
                store.save_detector_summary(fresh, hours)
        self._saved_at = time.monotonic()
