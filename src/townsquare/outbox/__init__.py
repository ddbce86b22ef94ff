"""Durable delivery of replies: queued in the database, sent by a worker, retried with backoff."""

from townsquare.outbox.worker import Outbox

__all__ = ["Outbox"]
