"""The in-process queue both embedded buses hand messages to the worker through."""

from __future__ import annotations

import queue
import time
from collections.abc import Iterable
from typing import Generic, TypeVar

T = TypeVar("T")


class LocalQueue(Generic[T]):
    """A thread-safe FIFO that counts what was taken but not yet marked done."""

    def __init__(self) -> None:
        self._queue: queue.Queue[T] = queue.Queue()

    def put_all(self, items: Iterable[T]) -> None:
        for item in items:
            self._queue.put(item)

    def take(self, max_items: int, timeout: float) -> list[T]:
        """Wait up to `timeout` for one item, then take what else is there, up to `max_items`."""
        try:
            batch = [self._queue.get(timeout=timeout)]
        except queue.Empty:
            return []
        while len(batch) < max_items:
            try:
                batch.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return batch

    def done(self, count: int) -> None:
        for _ in range(count):
            self._queue.task_done()

    def drain(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    def pending(self) -> int:
        return self._queue.unfinished_tasks
