"""The embedded default: every accepted message is journaled in the store's database before
`publish` returns, and handed to the worker through an in-process queue.

Why: a webhook answered 202 is never delivered again by the network, so the message must be on
disk before the answer, not only in memory. The journal row is deleted when the pipeline is done
with the batch; rows a killed process left are queued again at the next start. Ingest is
idempotent by (channel, external id), so a batch that was stored but not yet acknowledged when
the process died is recognized as duplicates on replay, never stored twice.

One process per database: a second process on the same PostgreSQL replays the first one's
unacknowledged rows when it starts. That is wasted work, not harm (idempotent ingest again);
several workers on one database are the Redis Streams bus's job.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import cast

from pydantic import ValidationError

from townsquare.bus.base import Delivery
from townsquare.bus.local import LocalQueue
from townsquare.clock import utcnow
from townsquare.model import InboundMessage
from townsquare.store import journal
from townsquare.store.db import Database

log = logging.getLogger(__name__)

_RECOVERY_PAGE = 1_000

Queued = tuple[int, InboundMessage]  # (journal id, message)


@dataclass
class _Waiting:
    """One publish call's entries, waiting for the group commit that writes them."""

    entries: list[journal.Entry]
    ids: list[int] = field(default_factory=list)
    error: BaseException | None = None
    done: bool = False


class DurableBus:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._queue: LocalQueue[Queued] = LocalQueue()
        # Rows already there when this bus opens were accepted by a process that is gone. Rows
        # above the mark are this process's own (published before `recover` ran, e.g. when a
        # test publishes before starting the worker) and are in the queue already.
        with db.read() as conn:
            self._left_over_upto = journal.newest_id(conn)
        self._recovered = False
        # Group commit: publishes that arrive while a journal write is in flight wait, and the
        # next write takes all of them in one transaction (one disk sync for many webhooks).
        self._group = threading.Condition()
        self._waiting: list[_Waiting] = []
        self._writing = False

    def publish(self, messages: list[InboundMessage]) -> None:
        """Journal the messages durably, then queue them. Concurrent publishes share one write
        transaction. Raises when the database refuses: the caller must not acknowledge what was
        not written."""
        if not messages:
            return
        mine = _Waiting([journal.Entry(m.channel, m.external_id, m.model_dump_json()) for m in messages])
        with self._group:
            self._waiting.append(mine)
            while not mine.done and self._writing:
                self._group.wait()
            if not mine.done:  # nobody is writing: this call writes everything waiting
                self._writing = True
                group, self._waiting = self._waiting, []
        if not mine.done:
            self._write(group)
        if mine.error is not None:
            raise mine.error
        self._queue.put_all(zip(mine.ids, messages, strict=True))

    def _write(self, group: list[_Waiting]) -> None:
        """One durable transaction for every waiting publish; each gets its ids or the error."""
        try:
            with self._db.write(durable=True) as conn:
                ids = journal.append(conn, [entry for waiting in group for entry in waiting.entries], utcnow())
            start = 0
            for waiting in group:
                waiting.ids = ids[start : start + len(waiting.entries)]
                start += len(waiting.entries)
        except BaseException as error:  # every publisher in the group must hear of it, then re-raise
            for waiting in group:
                waiting.error = error
        finally:
            with self._group:
                for waiting in group:
                    waiting.done = True
                self._writing = False
                self._group.notify_all()

    def consume(self, max_items: int, timeout: float) -> Delivery | None:
        batch = self._queue.take(max_items, timeout)
        if not batch:
            return None
        return Delivery([message for _, message in batch], token=tuple(journal_id for journal_id, _ in batch))

    def ack(self, delivery: Delivery) -> None:
        """Delete the batch's journal rows. Never raises: the worker calls this in `finally`, and a
        failed delete only means the batch is replayed at the next start and found stored."""
        ids = cast(tuple[int, ...], delivery.token or ())
        try:
            if ids:
                with self._db.write() as conn:
                    journal.remove(conn, ids)
        except Exception:
            log.exception(
                "could not remove %d processed messages from the bus journal; replayed at next start", len(ids)
            )
        finally:
            self._queue.done(len(delivery.messages))

    def release(self, delivery: Delivery) -> None:
        """The worker is done with the batch but could not record every message (not stored, no
        dead letter either): keep its journal rows, so the next start delivers it again."""
        self._queue.done(len(delivery.messages))

    def recover(self) -> int:
        """Queue, oldest first, what a previous process accepted and never finished. Rows that no
        longer read as a message (the model changed) go to `dead_letters`; start-up goes on."""
        if self._recovered:
            return 0
        self._recovered = True
        queued = 0
        after = 0
        while True:
            with self._db.read() as conn:
                rows = journal.left_over(conn, after=after, upto=self._left_over_upto, limit=_RECOVERY_PAGE)
            if not rows:
                break
            after = rows[-1].id
            batch: list[Queued] = []
            for row in rows:
                try:
                    batch.append((row.id, InboundMessage.model_validate_json(row.message)))
                except ValidationError as error:
                    self._set_aside(row, error)
            self._queue.put_all(batch)
            queued += len(batch)
        if queued:
            log.warning("bus journal: %d accepted messages left by a previous process queued again", queued)
        return queued

    def _set_aside(self, row: journal.JournalRow, error: ValidationError) -> None:
        reason = describe(error)
        # The id and what failed where; never the row's text (it is a customer's message).
        log.error("bus journal row %d is not a valid message (%s); moving it to dead_letters", row.id, reason)
        try:
            with self._db.write() as conn:
                journal.move_to_dead_letters(conn, row, f"bus journal row {row.id}: {reason}", utcnow())
        except Exception:
            log.exception("bus journal row %d could not be moved to dead_letters; it stays in the journal", row.id)

    def drain(self, timeout: float) -> bool:
        return self._queue.drain(timeout)

    def pending(self) -> int:
        return self._queue.pending()


def describe(error: ValidationError) -> str:
    """Which fields failed and how, without the input values pydantic's own message quotes."""
    problems = error.errors(include_url=False, include_context=False, include_input=False)
    parts = [
        f"{problem['type']} at {'.'.join(str(part) for part in problem['loc'])}" if problem["loc"] else problem["type"]
        for problem in problems[:5]
    ]
    more = f" and {len(problems) - 5} more" if len(problems) > 5 else ""
    return "; ".join(parts) + more
