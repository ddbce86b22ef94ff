"""Domain events: what happened, for whoever listens (live updates, later webhooks and alerts).

Actions and the pipeline publish from any thread; listeners are plain callables. The live-update
stream for browsers subscribes with an asyncio queue per client. At scale a Redis pub/sub relay
subscribes here and republishes on the other processes.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from townsquare.clock import utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Event:
    kind: str
    """Dotted name, e.g. `conversation.created`, `message.received`, `reply.sent`."""
    data: dict[str, Any]
    at: str = field(default_factory=lambda: utcnow().isoformat())


Listener = Callable[[Event], None]


class EventHub:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._listeners: list[Listener] = []
        self._queues: list[tuple[asyncio.AbstractEventLoop, asyncio.Queue[Event]]] = []

    def listen(self, listener: Listener) -> None:
        with self._lock:
            self._listeners.append(listener)

    def subscribe(self, max_pending: int = 1000) -> asyncio.Queue[Event]:
        """A queue for one live-update client, bound to the calling event loop."""
        queue: asyncio.Queue[Event] = asyncio.Queue(maxsize=max_pending)
        with self._lock:
            self._queues.append((asyncio.get_running_loop(), queue))
        return queue

    def unsubscribe(self, queue: asyncio.Queue[Event]) -> None:
        with self._lock:
            self._queues = [(loop, q) for loop, q in self._queues if q is not queue]

    def publish(self, event: Event) -> None:
        with self._lock:
            listeners = list(self._listeners)
            queues = list(self._queues)
        for listener in listeners:
            try:
                listener(event)
            except Exception:
                # A broken side effect must never undo or block the state change that caused it.
                log.exception("event listener failed for %s", event.kind)
        for loop, queue in queues:
            if loop.is_closed():
                continue
            loop.call_soon_threadsafe(_offer, queue, event)


def _offer(queue: asyncio.Queue[Event], event: Event) -> None:
    # A client too slow to keep up loses the oldest updates, not the server its memory.
    if queue.full():
        queue.get_nowait()
    queue.put_nowait(event)
