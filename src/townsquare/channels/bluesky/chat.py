"""Direct messages to the company: reading the chat service's event log.

`chat.bsky.convo.getLog` returns, after a `rev` (a TID, so revs sort as strings), the events of
all the account's conversations in order: a conversation began, a message was created or
deleted, a conversation was read, muted... The position is the `rev` of the last event handled,
the same thing the official app keeps. The first time (no position yet) the log is not read from
its beginning, which would import the account's whole DM history: the position starts at the
newest conversation's `rev` from `listConvos`, so DMs arrive from then on.

The chat service is reached through the PDS's service proxy and may be down, or refuse the app
password (created without "allow access to direct messages"). Neither may stop notifications:
failures are logged once per streak and the log is read again after a pause.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import TypeAdapter, ValidationError

from townsquare.channels.base import DeliveryError
from townsquare.channels.bluesky.lexicon import (
    LOG_BEGIN_CONVO,
    LOG_CREATE_MESSAGE,
    LOG_DELETE_MESSAGE,
    ChatProfile,
    ConvoRev,
    ConvosOutput,
    LogEntry,
    LoggedMessage,
    LogMessageEntry,
    LogOutput,
    UpdateReadInput,
)
from townsquare.channels.bluesky.xrpc import ScopeRefused, XrpcClient

log = logging.getLogger(__name__)

ZERO_REV = "2222222222222"  # the smallest TID: a log with no conversations starts here
MAX_LOG_PAGES = 10
CONVOS_PAGE = 100
RETRY_AFTER_FAILURE = 60.0  # seconds; the chat service was down or timed out
RETRY_AFTER_REFUSAL = 600.0  # it refused us: the app password needs changing, no need to hurry
TID = re.compile(r"[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}")

_json_object: TypeAdapter[dict[str, Any]] = TypeAdapter(dict[str, Any])


@dataclass(frozen=True)
class ReceivedMessage:
    convo_id: str
    message: LoggedMessage
    profiles: list[ChatProfile]
    raw: dict[str, Any]
    """The `logCreateMessage` entry as it came."""


@dataclass(frozen=True)
class LogBatch:
    messages: list[ReceivedMessage]
    rev: str | None
    """The position after these messages (unchanged when the chat service was not reached)."""


@dataclass
class ChatInbox:
    xrpc: XrpcClient
    proxy: str
    clock: Callable[[], float] = time.monotonic
    _retry_at: float = 0.0
    _failing: bool = False
    _unread: dict[str, str] = field(default_factory=dict)
    """Conversation id → newest message id handed over, marked read on the next poll (by then the
    listener has stored them)."""

    def poll(self, rev: str | None, own_did: str, limit: int) -> LogBatch:
        if self.clock() < self._retry_at:
            return LogBatch([], rev)
        self._mark_read()
        try:
            if rev is None:
                rev = self._start()
            batch = self._read(rev, own_did, limit)
        except DeliveryError as error:
            # ReconnectRequired included: notifications worked a moment ago with this session, so
            # a 401 here is the chat proxy's, not the account's.
            self._failed(error)
            return LogBatch([], rev)
        if self._failing:
            log.info("Bluesky direct messages are received again")
            self._failing = False
        for received in batch.messages:
            self._unread[received.convo_id] = received.message.id
        return batch

    def _failed(self, error: DeliveryError) -> None:
        if isinstance(error, ScopeRefused):
            pause, why = (
                RETRY_AFTER_REFUSAL,
                (
                    "the app password does not allow direct messages (create one with "
                    '"allow access to direct messages" and reconnect the account)'
                ),
            )
        elif not error.retryable:
            pause, why = RETRY_AFTER_REFUSAL, f"the chat service refused: {error}"
        else:
            pause, why = max(error.retry_after or 0.0, RETRY_AFTER_FAILURE), f"the chat service failed: {error}"
        self._retry_at = self.clock() + pause
        if not self._failing:
            log.warning(
                "Bluesky direct messages are not being received: %s; mentions and replies still are, "
                "direct messages are fetched again every %.0f s until it works",
                why,
                pause,
            )
            self._failing = True
        else:
            log.debug("Bluesky chat still unavailable: %s", error)

    def _start(self) -> str:
        output = self.xrpc.query("chat.bsky.convo.listConvos", {"limit": CONVOS_PAGE}, ConvosOutput, proxy=self.proxy)
        revs: list[str] = []
        for item in output.convos:
            try:
                revs.append(ConvoRev.model_validate(item).rev)
            except ValidationError:
                log.warning("skipping a malformed Bluesky conversation")
        log.info("Bluesky direct messages: receiving those sent from now on (earlier ones are not imported)")
        return max(revs, default=ZERO_REV)

    def _read(self, rev: str, own_did: str, limit: int) -> LogBatch:
        collected: list[ReceivedMessage] = []
        position = rev
        for _ in range(MAX_LOG_PAGES):
            page = self.xrpc.query("chat.bsky.convo.getLog", {"cursor": position}, LogOutput, proxy=self.proxy)
            entries: list[tuple[LogEntry, Any]] = []
            for item in page.logs:
                try:
                    entry = LogEntry.model_validate(item)
                except ValidationError as error:
                    log.warning("skipping a malformed Bluesky chat log entry (%d invalid fields)", error.error_count())
                    continue
                if entry.rev > position:
                    entries.append((entry, item))
            entries.sort(key=lambda pair: pair[0].rev)
            for entry, item in entries:
                self._handle(entry, item, own_did, collected)
            # The page's own cursor also moves past entries too broken to read, when it is a rev
            # like ours (an opaque one compared as a string could jump over future entries).
            following = page.cursor if page.cursor and TID.fullmatch(page.cursor) else position
            newest = max([position, *(entry.rev for entry, _ in entries), following])
            if newest == position:
                break
            position = newest
            if len(collected) >= limit:
                break
        return LogBatch(collected, position)

    @staticmethod
    def _handle(entry: LogEntry, item: Any, own_did: str, collected: list[ReceivedMessage]) -> None:
        if entry.type not in (LOG_CREATE_MESSAGE, LOG_DELETE_MESSAGE):
            if entry.type == LOG_BEGIN_CONVO:
                log.debug("a Bluesky conversation began")
            else:
                log.debug("ignoring a Bluesky chat log entry of type %s", entry.type[:100])
            return
        try:
            parsed = LogMessageEntry.model_validate(item)
            raw = _json_object.validate_python(item)
        except ValidationError as error:
            log.warning("skipping a malformed Bluesky direct message (%d invalid fields)", error.error_count())
            return
        message = parsed.message
        if entry.type == LOG_DELETE_MESSAGE:
            before = len(collected)
            collected[:] = [r for r in collected if (r.convo_id, r.message.id) != (parsed.convo_id, message.id)]
            if len(collected) == before:
                log.info("a Bluesky direct message received earlier was deleted by its sender; the stored copy stays")
            return
        if message.deleted:
            log.info("a Bluesky direct message was deleted before it was fetched; skipping it")
            return
        if message.sender.did == own_did:
            return  # Ours: sent by Townsquare (stored by the outbox) or from the app by hand.
        collected.append(ReceivedMessage(parsed.convo_id, message, parsed.related_profiles or [], raw))

    def _mark_read(self) -> None:
        """Clears the unread badge in the official app; the log position, not this, decides what
        is fetched, so a failure costs only a stale badge."""
        unread, self._unread = self._unread, {}
        for convo_id, message_id in unread.items():
            body = UpdateReadInput(convo_id=convo_id, message_id=message_id).wire()
            try:
                self.xrpc.procedure("chat.bsky.convo.updateRead", body, None, proxy=self.proxy)
            except DeliveryError as error:
                log.info("could not mark a Bluesky conversation read: %s", error)
                return
