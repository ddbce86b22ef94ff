"""The embedded default: a thread-safe in-process queue."""

from __future__ import annotations

import queue
import time

from townsquare.bus.base import Delivery
from townsquare.model import InboundMessage


class InMemoryBus:
    def __init__(self) -> None:
        self._queue: queue.Queue[InboundMessage] = queue.Queue()

    def publish(self, messages: list[InboundMessage]) -> None:
        for message in messages:
            self._queue.put(message)

    def consume(self, max_items: int, timeout: float) -> Delivery | None:
        try:
            first = self._queue.get(timeout=timeout)
        except queue.Empty:
            return None
        batch = [first]
        while len(batch) < max_items:
            try:
                batch.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return Delivery(batch)

    def ack(self, delivery: Delivery) -> None:
        for _ in delivery.messages:
            self._queue.task_done()

    def drain(self, timeout: float) -> bool:
        """Wait until everything published so far is acknowledged; False on timeout."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    def pending(self) -> int:
        return self._queue.unfinished_tasks
