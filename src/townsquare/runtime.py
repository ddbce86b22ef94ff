"""Wires the parts together for one process: store, event hub, bus, pipeline worker, actions,
connectors and outbox. `townsquare serve` and `townsquare demo` build one; tests build their own."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from townsquare.actions import Actions
from townsquare.actions.incidents import IncidentActions
from townsquare.alerts.webhooks import AlertSender
from townsquare.bus import Bus, DurableBus
from townsquare.channels.hub import ConnectorHub, TransportFactory
from townsquare.config import Settings
from townsquare.events import EventHub
from townsquare.outbox import Outbox
from townsquare.pipeline import Pipeline
from townsquare.pipeline.worker import PipelineWorker
from townsquare.store import state
from townsquare.store.db import Database

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    settings: Settings
    db: Database
    events: EventHub
    bus: Bus
    pipeline: Pipeline
    actions: Actions
    incident_actions: IncidentActions
    hub: ConnectorHub
    outbox: Outbox
    worker: PipelineWorker
    secret_key: str
    alerts: AlertSender
    started: bool = field(default=False)

    @classmethod
    def create(cls, settings: Settings, *, transport_for: TransportFactory | None = None) -> Runtime:
        db = Database(settings.database_url)
        db.migrate()
        with db.write() as conn:
            secret = settings.secret_key.get_secret_value() if settings.secret_key else state.get_or_create_secret(conn)
        events = EventHub()
        bus = DurableBus(db)
        pipeline = Pipeline(db, settings, events)
        hub = ConnectorHub(db, transport_for)
        return cls(
            settings=settings,
            db=db,
            events=events,
            bus=bus,
            pipeline=pipeline,
            actions=Actions(db, events, settings.custom_patterns()),
            incident_actions=IncidentActions(db, events, settings),
            hub=hub,
            outbox=Outbox(db, hub, events, settings),
            worker=PipelineWorker(bus, pipeline),
            secret_key=secret,
            alerts=AlertSender(settings.alert_webhooks, events, settings.public_url),
        )

    def start(self) -> None:
        """Start the background workers (pipeline and outbox). What a killed process had accepted
        but not stored is queued again before the worker runs."""
        if not self.started:
            self.bus.recover()
            self.worker.start()
            self.outbox.start()
            self.alerts.start()
            self.started = True

    def stop(self, drain_seconds: float = 30.0) -> None:
        """Stop after storing everything already accepted. The bus journal would replay it at
        the next start anyway; draining keeps a restart from waiting for it."""
        if self.started:
            if not self.bus.drain(drain_seconds):
                log.warning(
                    "stopping with %d accepted messages not yet stored; they stay in the bus journal for the next start",
                    self.bus.pending(),
                )
            self.worker.stop()
            self.outbox.stop()
            self.alerts.stop()
            self.started = False
        self.pipeline.close()
        self.hub.close()
        self.db.dispose()
