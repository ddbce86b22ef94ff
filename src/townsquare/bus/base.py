"""The contract every bus keeps: publish, consume a batch, acknowledge it when stored.

A consumed batch that is never acknowledged (the worker died) is delivered again; the
pipeline's idempotent ingest makes that safe. The in-process bus lives and dies with the
process; Redis Streams (consumer groups, pending entries) is the scale-out transport.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from townsquare.model import InboundMessage


@dataclass(frozen=True)
class Delivery:
    messages: list[InboundMessage]
    token: object = None


class Bus(Protocol):
    def publish(self, messages: list[InboundMessage]) -> None: ...

    def consume(self, max_items: int, timeout: float) -> Delivery | None: ...

    def ack(self, delivery: Delivery) -> None: ...
