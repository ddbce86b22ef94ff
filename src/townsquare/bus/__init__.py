"""Transports between the connectors and the pipeline workers."""

from townsquare.bus.base import Bus, Delivery
from townsquare.bus.durable import DurableBus
from townsquare.bus.memory import InMemoryBus

__all__ = ["Bus", "Delivery", "DurableBus", "InMemoryBus"]
