"""The contract every bus keeps: publish, consume a batch, acknowledge it when stored.

A consumed batch that is never acknowledged (the worker died) is delivered again; the
pipeline's idempotent ingest (by channel and external id) makes that safe. The embedded default
(`DurableBus`) journals in the store's database; Redis Streams (consumer groups, pending entries)
is the planned scale-out transport.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from townsquare.model import InboundMessage


@dataclass(frozen=True)
class Delivery:
    messages: list[InboundMessage]
    # What the bus needs to acknowledge this batch (the durable bus: its journal ids).
    token: object = None


class Bus(Protocol):
    def publish(self, messages: list[InboundMessage]) -> None:
        """Accept messages; when this returns, the bus answers for them (a webhook may say 202)."""
        ...

    def consume(self, max_items: int, timeout: float) -> Delivery | None: ...

    def ack(self, delivery: Delivery) -> None:
        """The pipeline is done with the batch (stored, duplicate or dead-lettered)."""
        ...

    def release(self, delivery: Delivery) -> None:
        """The worker is done with the batch without having recorded every message: keep it for
        a later delivery if the bus can (the in-memory bus cannot)."""
        ...

    def recover(self) -> int:
        """Queue again what a process that died had accepted but not processed; call once, before
        the worker runs. Returns how many messages were queued."""
        ...

    def drain(self, timeout: float) -> bool:
        """Wait until everything published so far is acknowledged; False on timeout."""
        ...

    def pending(self) -> int:
        """Messages published or recovered and not yet acknowledged."""
        ...
