"""A bus that keeps messages in memory only: what a killed process had accepted is lost.

Not what `townsquare serve` uses (see `durable.py`); kept as the baseline `bench/bus.py` measures
the durable bus against.
"""

from __future__ import annotations

from townsquare.bus.base import Delivery
from townsquare.bus.local import LocalQueue
from townsquare.model import InboundMessage


class InMemoryBus:
    def __init__(self) -> None:
        self._queue: LocalQueue[InboundMessage] = LocalQueue()

    def publish(self, messages: list[InboundMessage]) -> None:
        self._queue.put_all(messages)

    def consume(self, max_items: int, timeout: float) -> Delivery | None:
        batch = self._queue.take(max_items, timeout)
        return Delivery(batch) if batch else None

    def ack(self, delivery: Delivery) -> None:
        self._queue.done(len(delivery.messages))

    def release(self, delivery: Delivery) -> None:
        self._queue.done(len(delivery.messages))  # nothing to keep it in

    def recover(self) -> int:
        return 0  # nothing outlives the process

    def drain(self, timeout: float) -> bool:
        return self._queue.drain(timeout)

    def pending(self) -> int:
        return self._queue.pending()
