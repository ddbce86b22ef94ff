"""Signed alert webhooks: each incident event is POSTed as JSON to every configured receiver,
with `X-Townsquare-Signature: sha256=<HMAC of the body>` so the receiver can trust it. Delivered
from a background thread with retries, so a slow receiver never slows the pipeline."""

from __future__ import annotations

import json
import logging
import queue
import threading

import httpx

from townsquare.config import AlertWebhook
from townsquare.events import Event, EventHub
from townsquare.security.signatures import sign

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Townsquare-Signature"
ALERTED_EVENTS = ("incident.opened", "incident.grew", "incident.update_posted", "incident.resolved")
ATTEMPTS = 5


class AlertSender:
    def __init__(
        self, hooks: list[AlertWebhook], events: EventHub, public_url: str, transport: httpx.BaseTransport | None = None
    ) -> None:
        self.hooks = hooks
        self.public_url = public_url.rstrip("/")
        self.transport = transport
        self._queue: queue.Queue[tuple[AlertWebhook, bytes]] = queue.Queue(maxsize=10_000)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        events.listen(self._on_event)

    def _on_event(self, event: Event) -> None:
        if event.kind not in ALERTED_EVENTS or not self.hooks:
            return
        incident_id = event.data.get("incident_id")
        document = {
            "event": event.kind,
            "at": event.at,
            "incident_id": incident_id,
            "url": f"{self.public_url}/incidents/{incident_id}" if incident_id else None,
            "data": {k: v for k, v in event.data.items() if k != "incident_id"},
        }
        body = json.dumps(document, sort_keys=True).encode()
        for hook in self.hooks:
            try:
                self._queue.put_nowait((hook, body))
            except queue.Full:
                log.error("alert queue full; dropping an alert for %s", event.kind)

    def _run(self) -> None:
        with httpx.Client(timeout=10.0, transport=self.transport) as client:
            while not self._stop.is_set() or not self._queue.empty():
                try:
                    hook, body = self._queue.get(timeout=0.2)
                except queue.Empty:
                    continue
                self._deliver(client, hook, body)

    def _deliver(self, client: httpx.Client, hook: AlertWebhook, body: bytes) -> None:
        headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(hook.secret.get_secret_value(), body)}
        for attempt in range(ATTEMPTS):
            try:
                response = client.post(hook.url, content=body, headers=headers)
                if response.status_code < 500 and response.status_code != 429:
                    if response.status_code >= 400:
                        log.warning("alert webhook refused with %d", response.status_code)
                    return
            except httpx.HTTPError as error:
                log.warning("alert webhook unreachable: %s", type(error).__name__)
            if self._stop.wait(min(2**attempt, 30)):
                return
        log.error("alert webhook gave up after %d attempts", ATTEMPTS)

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="alert-webhooks", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
