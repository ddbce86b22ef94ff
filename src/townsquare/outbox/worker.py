"""The outbox worker: takes due replies, hands them to their network's connector, records the
network's id, and retries failures with exponential backoff (or the network's Retry-After)."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from datetime import datetime, timedelta
from typing import Any

from townsquare.channels.base import DeliveryError, ReconnectRequired
from townsquare.channels.hub import AccountNotConnected, ConnectorHub
from townsquare.channels.registry import UnknownChannel, connector_class
from townsquare.clock import as_utc, utcnow
from townsquare.config import Settings
from townsquare.events import Event, EventHub
from townsquare.model import AuthorIdentity, OutboundReply, Visibility
from townsquare.store import accounts, replies
from townsquare.store import conversations as convs
from townsquare.store import incidents as incident_store
from townsquare.store.db import Database
from townsquare.store.outbox import record_delivery

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=5)
BACKOFF_BASE_SECONDS = 2.0
BACKOFF_MAX_SECONDS = 3600.0


def backoff_seconds(attempt: int, retry_after: float | None) -> float:
    """Seconds before attempt number `attempt + 1`: doubling from 2 s, capped at an hour; the
    network's own Retry-After wins when it asks for longer."""
    delay: float = min(BACKOFF_BASE_SECONDS * 2.0 ** max(attempt - 1, 0), BACKOFF_MAX_SECONDS)
    return max(delay, retry_after or 0.0)


class Outbox:
    def __init__(self, db: Database, hub: ConnectorHub, events: EventHub, settings: Settings) -> None:
        self.db = db
        self.hub = hub
        self.events = events
        self.settings = settings
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._recent: dict[tuple[str, str], deque[float]] = {}
        events.listen(self._on_event)

    def _on_event(self, event: Event) -> None:
        if event.kind == "reply.queued":
            self._wake.set()

    def deliver_due(self) -> int:
        """One pass over the due replies and status posts; returns how many were attempted."""
        now = utcnow()
        with self.db.read() as conn:
            due = replies.due_replies(conn, now)
            posts = incident_store.due_status_posts(conn, now)
        attempted = 0
        for reply in due:
            with self.db.write() as conn:
                if not replies.claim(conn, reply["id"], now, now + LEASE):
                    continue
            attempted += 1
            self._attempt(reply)
        for post in posts:
            with self.db.write() as conn:
                if not incident_store.claim_status_post(conn, post["id"], now, now + LEASE):
                    continue
            attempted += 1
            self._publish(post)
        return attempted

    def _paced(self, channel: str, account: str) -> datetime | None:
        """When the network's pace is used up for this account: the time a slot frees up."""
        try:
            per_minute = connector_class(channel).limits.sends_per_minute
        except UnknownChannel:
            return None
        if not per_minute:
            return None
        now = time.monotonic()
        sent = self._recent.setdefault((channel, account), deque())
        while sent and now - sent[0] >= 60:
            sent.popleft()
        if len(sent) >= per_minute:
            return utcnow() + timedelta(seconds=60 - (now - sent[0]) + 0.01)
        sent.append(now)
        return None

    def _publish(self, post: dict[str, Any]) -> None:
        values: dict[str, Any]
        try:
            connector = self.hub.get(post["channel"], post["account"])
            receipt = connector.publish(post["text"], post["id"])
        except (AccountNotConnected, ReconnectRequired) as error:
            values = {"status": "failed", "attempts": post["attempts"] + 1, "last_error": str(error)[:2000]}
        except DeliveryError as error:
            values = self._retry_values(post["attempts"] + 1, str(error), not error.retryable, error.retry_after)
        except Exception as error:
            log.exception("outbox: status post to %s failed unexpectedly", post["channel"])
            values = self._retry_values(post["attempts"] + 1, f"{type(error).__name__}: {error}", False, None)
        else:
            values = {
                "status": "sent",
                "attempts": post["attempts"] + 1,
                "external_id": receipt.external_id,
                "url": receipt.url,
                "sent_at": as_utc(receipt.created_at),
                "last_error": None,
                "next_attempt_at": None,
            }
        with self.db.write() as conn:
            incident_store.update_status_post(conn, post["id"], **values)
        self.events.publish(Event(f"status_post.{values['status']}", {"post_id": post["id"]}))

    def _retry_values(self, attempts: int, error: str, final: bool, retry_after: float | None) -> dict[str, Any]:
        final = final or attempts >= self.settings.outbox_max_attempts
        values: dict[str, Any] = {"attempts": attempts, "last_error": error[:2000]}
        if final:
            values.update(status="failed", next_attempt_at=None)
        else:
            values["next_attempt_at"] = utcnow() + timedelta(seconds=backoff_seconds(attempts, retry_after))
        return values

    def _attempt(self, reply: dict[str, Any]) -> None:
        with self.db.read() as conn:
            conversation = convs.get_conversation(conn, reply["conversation_id"])
            target = convs.reply_target(conn, reply["conversation_id"], reply["in_reply_to_message_id"])
        if conversation is None or target is None:
            self._fail(reply, "the conversation or the message answered no longer exists", final=True)
            return
        outbound = OutboundReply(
            reply_id=reply["id"],
            account=conversation["account"],
            text=reply["text"],
            visibility=Visibility(reply["visibility"]),
            recipient=AuthorIdentity(
                external_id=target["author_external_id"] or target["author_handle"] or "unknown",
                handle=target["identity_handle"] or target["author_handle"],
                display_name=target["identity_name"] or target["author_name"],
            ),
            in_reply_to=target["external_id"],
            thread_root=target["thread_root"] or target["external_id"],
            conversation_id=conversation["id"],
        )
        wait_until = self._paced(conversation["channel"], conversation["account"])
        if wait_until is not None:
            # Over the network's pace: wait for a free slot; this is not a failed attempt.
            with self.db.write() as conn:
                replies.update_reply(conn, reply["id"], next_attempt_at=wait_until)
            return
        try:
            connector = self.hub.get(conversation["channel"], conversation["account"])
            receipt = connector.send(outbound)
        except AccountNotConnected as error:
            self._fail(reply, str(error), final=True)
            return
        except ReconnectRequired as error:
            self._mark_reconnect(conversation["channel"], conversation["account"], str(error))
            self._fail(reply, str(error), final=True)
            return
        except DeliveryError as error:
            self._fail(reply, str(error), final=not error.retryable, retry_after=error.retry_after)
            return
        except Exception as error:
            log.exception("outbox: connector %s failed unexpectedly", conversation["channel"])
            self._fail(reply, f"{type(error).__name__}: {error}")
            return
        with self.db.write() as conn:
            record_delivery(
                conn,
                {**reply, "in_reply_to_external_id": target["external_id"]},
                conversation,
                external_id=receipt.external_id,
                url=receipt.url,
                sent_at=as_utc(receipt.created_at),
                author_name=conversation["account"],
                author_handle=conversation["account"],
            )
        self.events.publish(
            Event(
                "reply.sent",
                {"conversation_id": conversation["id"], "reply_id": reply["id"], "external_id": receipt.external_id},
            )
        )

    def _fail(
        self, reply: dict[str, Any], error: str, *, final: bool = False, retry_after: float | None = None
    ) -> None:
        attempts = int(reply["attempts"]) + 1
        values = self._retry_values(attempts, error, final, retry_after)
        final = values.get("status") == "failed"
        with self.db.write() as conn:
            replies.update_reply(conn, reply["id"], **values)
        log.warning(
            "outbox: reply %s attempt %d failed%s: %s", reply["id"], attempts, " for good" if final else "", error
        )
        kind = "reply.failed" if final else "reply.retrying"
        self.events.publish(
            Event(kind, {"conversation_id": reply["conversation_id"], "reply_id": reply["id"], "error": error[:500]})
        )

    def _mark_reconnect(self, channel: str, account: str, detail: str) -> None:
        with self.db.write() as conn:
            row = accounts.get_account(conn, channel, account)
            if row is not None:
                accounts.set_account_state(conn, row["id"], status="reconnect", detail=detail)
        self.hub.forget(channel, account)

    def run(self) -> None:
        while not self._stop.is_set():
            try:
                self.deliver_due()
            except Exception:
                log.exception("outbox pass failed")
            self._wake.wait(self.settings.outbox_poll_seconds)
            self._wake.clear()

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self.run, name="outbox", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
