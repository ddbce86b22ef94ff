"""The e-mail connector: one mailbox read over IMAP, private answers sent over SMTP.

Receiving: `poll` catches up from the cursor `"{uidvalidity}:{last_uid}"`; `stream` keeps one
connection open and waits with IMAP IDLE (or polls every `poll_seconds` when the server has no
IDLE). A batch's mail is flagged \\Seen or moved only after the runtime stored it (when the
generator resumes, or at the next `poll` with a cursor past it), so a crash re-reads mail rather
than losing it, and ingest drops what it already has by Message-ID.

Sending: e-mail is private by nature, so the connector declares no public replies and the reply
action offers only private ones.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import ClassVar

from townsquare.channels.base import (
    ChannelLimits,
    Connector,
    DeliveryError,
    PollResult,
    ReconnectRequired,
)
from townsquare.channels.email.compose import compose_reply, message_id_for, recipients
from townsquare.channels.email.imap import NETWORK_ERRORS, FetchedMessage, FolderState, ImapSession, ImapUnavailable
from townsquare.channels.email.parse import ImapPosition, ParsedEmail, read_message, to_inbound
from townsquare.channels.email.settings import EmailSettings
from townsquare.channels.email.smtp import deliver
from townsquare.clock import utcnow
from townsquare.model import InboundMessage, OutboundReply, SentReceipt, Visibility

log = logging.getLogger(__name__)

BATCH_SIZE = 25
IDLE_RESTART_SECONDS = 120.0
"""RFC 2177 asks clients to re-issue IDLE at least every 29 minutes; servers and NAT boxes often
drop quiet connections sooner, and some servers miss mail delivered behind their back until the
folder is opened again, which each restart does."""
RESYNC_DAYS = 3
"""After a UIDVALIDITY change, unread mail and everything from these last days is read again;
what is already stored is dropped by Message-ID."""
MAX_REPLY_CHARS = 50_000
LOOKUP_ERRORS: tuple[type[BaseException], ...] = (ImapUnavailable, *NETWORK_ERRORS)


@dataclass(frozen=True)
class Cursor:
    uidvalidity: int
    last_uid: int

    @classmethod
    def parse(cls, value: str | None) -> Cursor | None:
        if not value:
            return None
        validity, sep, last = value.partition(":")
        if not sep or not validity.isdigit() or not last.isdigit():
            log.warning("ignoring a malformed e-mail cursor; reading unread mail again")
            return None
        return cls(int(validity), int(last))

    def __str__(self) -> str:
        return f"{self.uidvalidity}:{self.last_uid}"


@dataclass
class Backlog:
    """Mail to read after a first connect or a UIDVALIDITY change: the unread messages found
    then, and the highest UID that existed then (the cursor once the backlog is read)."""

    uidvalidity: int
    uids: list[int]
    ceiling: int


class EmailConnector(Connector):
    name = "email"
    title = "E-mail"
    description = "A mailbox read over IMAP (IDLE where offered); private answers sent over SMTP, threaded."
    settings_model = EmailSettings
    limits = ChannelLimits(max_text_length=MAX_REPLY_CHARS, public_replies=False, private_messages=True, media=False)
    receives: ClassVar[tuple[str, ...]] = ("stream",)
    poll_interval_seconds = 60.0

    settings: EmailSettings
    _backlog: Backlog | None = None

    # -- receiving ---------------------------------------------------------------------------

    def _session(self) -> ImapSession:
        return ImapSession(self.settings).open()

    def poll(self, cursor: str | None) -> PollResult:
        with self._session() as session:
            state = session.select()
            stored = Cursor.parse(cursor)
            if stored is not None and stored.uidvalidity == state.uidvalidity:
                session.mark_processed(stored.last_uid)
            messages, after = self._next_batch(session, state, stored)
        return PollResult(messages, str(after) if after else cursor)

    def stream(self, cursor: str | None, stop: threading.Event) -> Iterator[PollResult]:
        with self._session() as session:
            state = session.select()
            position = Cursor.parse(cursor)
            if position is not None and position.uidvalidity == state.uidvalidity:
                session.mark_processed(position.last_uid)  # the runtime stored all up to here
            while not stop.is_set():
                messages, after = self._next_batch(session, state, position)
                if after != position and after is not None:
                    yield PollResult(messages, str(after))
                    # Resumed: the runtime stored the batch and its cursor.
                    session.mark_processed(after.last_uid)
                    position = after
                    if messages:
                        continue
                log.debug("e-mail %s: waiting for new mail after %s", self.account, position)
                # Re-open the folder at least every `poll_seconds` even under IDLE: some servers
                # (pymap among them) do not announce mail delivered behind their back.
                session.wait_for_mail(stop, min(IDLE_RESTART_SECONDS, self.settings.poll_seconds))
                state = session.select()

    def _next_batch(
        self, session: ImapSession, state: FolderState, position: Cursor | None
    ) -> tuple[list[InboundMessage], Cursor | None]:
        validity = state.uidvalidity
        backlog = self._backlog if self._backlog and self._backlog.uidvalidity == validity else None
        if position is not None and position.uidvalidity == validity and backlog is None:
            uids = session.uids_after(position.last_uid)[:BATCH_SIZE]
            after = Cursor(validity, uids[-1]) if uids else position
        else:
            if backlog is None:
                backlog = self._start_backlog(session, state, position)
            done = position.last_uid if position is not None and position.uidvalidity == validity else 0
            pending = [uid for uid in backlog.uids if uid > done]
            uids = pending[:BATCH_SIZE]
            if len(pending) > len(uids):
                after = Cursor(validity, uids[-1])
            else:
                after = Cursor(validity, max([backlog.ceiling, done, *uids]))
                self._backlog = None
        return self._read(session, session.fetch(uids), validity), after

    def _start_backlog(self, session: ImapSession, state: FolderState, position: Cursor | None) -> Backlog:
        if position is None:
            uids = session.unseen_uids()
        else:
            log.warning(
                "e-mail account %s: folder %s changed UIDVALIDITY (%s → %s); reading recent mail again",
                self.account,
                self.settings.folder,
                position.uidvalidity,
                state.uidvalidity,
            )
            uids = session.unseen_uids(since=(utcnow() - timedelta(days=RESYNC_DAYS)).date())
        ceiling = (state.uidnext - 1) if state.uidnext else max(session.uids_after(0), default=0)
        self._backlog = Backlog(state.uidvalidity, uids, max(ceiling, 0))
        return self._backlog

    def _read(self, session: ImapSession, fetched: list[FetchedMessage], validity: int) -> list[InboundMessage]:
        messages: list[InboundMessage] = []
        for item in fetched:
            message = self.parse_message(
                item.data,
                position=ImapPosition(folder=self.settings.folder, uidvalidity=validity, uid=item.uid),
                received_at=item.internal_date,
                partial=item.partial,
            )
            if message is not None:
                messages.append(message)
        return messages

    def parse_message(
        self,
        data: bytes,
        *,
        position: ImapPosition | None = None,
        received_at: datetime | None = None,
        partial: bool = False,
    ) -> InboundMessage | None:
        """One fetched message as an InboundMessage; None for the company's own mail and for
        what cannot be read at all (logged without its content)."""
        uid = position.uid if position else None
        try:
            parsed = read_message(data, fetched_partially=partial)
            if self._is_own(parsed):
                return None
            return to_inbound(
                parsed,
                channel=self.name,
                account=self.account,
                received_at=received_at,
                position=position,
            )
        except Exception as error:  # a message must never stop the mailbox
            log.warning("e-mail %s: skipping unreadable message (UID %s): %s", self.account, uid, type(error).__name__)
            return None

    def _is_own(self, parsed: ParsedEmail) -> bool:
        sender = parsed.record.sender
        return sender is not None and sender.address.lower() == self.settings.from_address.lower()

    # -- sending -----------------------------------------------------------------------------

    def send(self, reply: OutboundReply) -> SentReceipt:
        if reply.visibility != Visibility.PRIVATE:
            raise DeliveryError("e-mail has no public replies; answer privately", retryable=False)
        original = self._original(reply.in_reply_to)
        to = recipients(original, reply)
        if not to:
            raise DeliveryError("the message answered has no address to reply to", retryable=False)
        message = compose_reply(self.settings, reply, original, to, utcnow())
        deliver(self.settings, message, [address.address for address in to])
        if self.settings.sent_folder:
            self._keep_copy(message.as_bytes())
        return SentReceipt(external_id=message_id_for(reply, self.settings))

    def _original(self, message_id: str | None) -> ParsedEmail | None:
        """The header of the message answered, read back from the mailbox for its subject,
        references and Reply-To. Without it the reply still threads (In-Reply-To and References
        come from the stored ids) under a generic subject."""
        if not message_id:
            return None
        folders = [self.settings.folder]
        if self.settings.processed == "move":
            folders.append(self.settings.processed_folder)
        try:
            with self._session() as session:
                header = session.find_header(message_id, folders)
        except ReconnectRequired:
            raise
        except LOOKUP_ERRORS as error:
            log.warning("e-mail %s: could not look up the message answered: %s", self.account, error)
            return None
        return read_message(header) if header else None

    def _keep_copy(self, data: bytes) -> None:
        try:
            with self._session() as session:
                session.append(self.settings.sent_folder, data)
        except Exception as error:  # the reply is sent; a missing copy is not worth a retry
            log.warning(
                "e-mail %s: reply sent, but no copy kept in %s: %s", self.account, self.settings.sent_folder, error
            )
