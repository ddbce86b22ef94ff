"""The visitor hub: how an agent's reply reaches the visitor's open live stream.

The connector publishes (from the outbox thread) and the service's stream endpoint subscribes
(on the server's event loop), keyed by account and visitor id. The in-process hub below is enough
when one process runs both the web server and the outbox, as `townsquare serve` does.

With several web processes behind a load balancer the visitor's stream may be open on another
process than the one whose outbox sends the reply. A Redis pub/sub hub then replaces this one,
with the same two methods: `publish` becomes `PUBLISH townsquare:webchat:<account>:<visitor>`
(Redis answers with the number of receivers, as `publish` here does), and each process runs one
`PSUBSCRIBE townsquare:webchat:*` reader that hands what arrives to its local subscribers exactly
like `InProcessVisitorHub.publish` does. Install it with `use_hub(...)` before the server starts.
Nothing is lost either way when nobody listens: the reply is stored, and the widget reads the
transcript again whenever its stream (re)connects.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import dataclass, field
from typing import Protocol

from townsquare.channels.webchat.payloads import TranscriptMessage

log = logging.getLogger(__name__)

MAX_PENDING = 100


@dataclass(frozen=True)
class VisitorKey:
    account: str
    visitor_id: str


@dataclass(eq=False)
class Subscription:
    """One open live stream: messages arrive on `queue`; None means the hub closed it."""

    key: VisitorKey
    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue[TranscriptMessage | None] = field(default_factory=lambda: asyncio.Queue(maxsize=MAX_PENDING))


class VisitorHub(Protocol):
    def subscribe(self, key: VisitorKey) -> Subscription:
        """Called on the event loop that will read the subscription's queue."""
        ...

    def unsubscribe(self, subscription: Subscription) -> None: ...

    def publish(self, key: VisitorKey, message: TranscriptMessage) -> int:
        """Thread-safe; returns how many open streams it was handed to."""
        ...

    def end(self, subscription: Subscription) -> None:
        """Thread-safe: end one open stream (its server is stopping)."""
        ...


class InProcessVisitorHub:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscriptions: dict[VisitorKey, list[Subscription]] = {}

    def subscribe(self, key: VisitorKey) -> Subscription:
        subscription = Subscription(key, asyncio.get_running_loop())
        with self._lock:
            self._subscriptions.setdefault(key, []).append(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        with self._lock:
            remaining = [s for s in self._subscriptions.get(subscription.key, []) if s is not subscription]
            if remaining:
                self._subscriptions[subscription.key] = remaining
            else:
                self._subscriptions.pop(subscription.key, None)

    def publish(self, key: VisitorKey, message: TranscriptMessage) -> int:
        with self._lock:
            subscriptions = list(self._subscriptions.get(key, []))
        handed = 0
        for subscription in subscriptions:
            if subscription.loop.is_closed():
                continue
            subscription.loop.call_soon_threadsafe(_offer, subscription.queue, message)
            handed += 1
        return handed

    def end(self, subscription: Subscription) -> None:
        self.unsubscribe(subscription)
        if not subscription.loop.is_closed():
            subscription.loop.call_soon_threadsafe(_offer, subscription.queue, None)

    def connected(self, key: VisitorKey) -> int:
        with self._lock:
            return len(self._subscriptions.get(key, []))


def _offer(queue: asyncio.Queue[TranscriptMessage | None], message: TranscriptMessage | None) -> None:
    # A stream that does not read loses its oldest messages, not the server its memory; the
    # widget fetches the transcript again when it reconnects.
    if queue.full():
        queue.get_nowait()
    queue.put_nowait(message)


_hub: VisitorHub = InProcessVisitorHub()


def current_hub() -> VisitorHub:
    return _hub


def use_hub(hub: VisitorHub) -> None:
    """Replace the process's visitor hub (e.g. with a Redis pub/sub one for several processes)."""
    global _hub
    _hub = hub
    log.info("web chat visitor hub is now %s", type(hub).__name__)
