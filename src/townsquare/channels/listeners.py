"""Runs the receiving side of polling and streaming connectors: one thread per connected
account, resuming from the account's stored cursor.

The cursor is saved only after the messages before it are stored, so a crash or restart fetches
some messages again rather than losing any, and idempotent ingest stores them once.
"""

from __future__ import annotations

import logging
import threading

from fastapi import FastAPI

from townsquare.channels.base import DeliveryError, PollResult, ReconnectRequired
from townsquare.channels.registry import UnknownChannel, connector_class
from townsquare.runtime import Runtime
from townsquare.store import accounts

log = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 300.0
ACCOUNT_SCAN_SECONDS = 10.0


class UnrecordedMessages(Exception):
    """The pipeline could neither store nor dead-letter a fetched message."""


class AccountListener:
    def __init__(self, runtime: Runtime, channel: str, account: str, stop: threading.Event) -> None:
        self.runtime = runtime
        self.channel = channel
        self.account = account
        self.stop = stop
        self.thread = threading.Thread(target=self.run, name=f"listen-{channel}-{account}", daemon=True)

    def _cursor(self) -> tuple[str, str | None]:
        with self.runtime.db.read() as conn:
            row = accounts.get_account(conn, self.channel, self.account)
        if row is None:
            raise LookupError(f"{self.channel}/{self.account} was removed")
        return str(row["id"]), row["cursor"]

    def _store(self, account_id: str, before: str | None, result: PollResult) -> str | None:
        if result.messages and self.runtime.pipeline.process(result.messages).unrecorded:
            # A message is neither stored nor dead-lettered: keep the cursor where it is, so the
            # next poll (after the backoff) fetches it again instead of moving past it.
            raise UnrecordedMessages(f"{self.channel}/{self.account}: a message could not be recorded")
        if result.cursor is not None and result.cursor != before:
            with self.runtime.db.write() as conn:
                accounts.set_account_state(conn, account_id, cursor=result.cursor)
        return result.cursor if result.cursor is not None else before

    def run(self) -> None:
        backoff = 1.0
        while not self.stop.is_set():
            try:
                connector = self.runtime.hub.get(self.channel, self.account)
                account_id, cursor = self._cursor()
                caught_up = connector.poll(cursor)
                cursor = self._store(account_id, cursor, caught_up)
                if "stream" in connector.receives:
                    for result in connector.stream(cursor, self.stop):
                        cursor = self._store(account_id, cursor, result)
                elif not caught_up.messages:
                    self.stop.wait(connector.poll_interval())
                backoff = 1.0
            except ReconnectRequired as error:
                self._needs_reconnect(str(error))
                return
            except LookupError:
                return
            except DeliveryError as error:
                # The network asked us to slow down (or failed): wait as long as it says.
                wait = max(error.retry_after or backoff, 1.0)
                log.warning("listener %s/%s: %s; next try in %.0f s", self.channel, self.account, error, wait)
                self.stop.wait(min(wait, MAX_BACKOFF_SECONDS * 4))
                backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
            except Exception:
                log.exception("listener %s/%s failed; retrying in %.0f s", self.channel, self.account, backoff)
                self.stop.wait(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)

    def _needs_reconnect(self, detail: str) -> None:
        log.error("%s/%s needs to be reconnected: %s", self.channel, self.account, detail)
        with self.runtime.db.write() as conn:
            row = accounts.get_account(conn, self.channel, self.account)
            if row is not None:
                accounts.set_account_state(conn, row["id"], status="reconnect", detail=detail)
        self.runtime.hub.forget(self.channel, self.account)


class ListenerService:
    """Starts a listener for every active account whose connector polls or streams, and for
    accounts connected later (checked every few seconds)."""

    def __init__(self, runtime: Runtime, scan_seconds: float = ACCOUNT_SCAN_SECONDS) -> None:
        self.runtime = runtime
        self.scan_seconds = scan_seconds
        self._stop = threading.Event()
        self._listeners: dict[tuple[str, str], AccountListener] = {}
        self._scanner = threading.Thread(target=self._scan_loop, name="listener-scan", daemon=True)

    def mount(self, app: FastAPI) -> None:
        """Nothing to serve: listeners only reach out."""

    def scan(self) -> None:
        with self.runtime.db.read() as conn:
            rows = accounts.list_accounts(conn)
        for row in rows:
            key = (row["channel"], row["name"])
            if row["status"] != "active" or key in self._listeners:
                continue
            try:
                receives = connector_class(row["channel"]).receives
            except UnknownChannel:
                continue
            if "poll" in receives or "stream" in receives:
                listener = AccountListener(self.runtime, row["channel"], row["name"], self._stop)
                self._listeners[key] = listener
                listener.thread.start()

    def _scan_loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.scan()
            except Exception:
                log.exception("could not scan connected accounts")
            self._stop.wait(self.scan_seconds)

    def start(self) -> None:
        self._scanner.start()

    def stop(self) -> None:
        self._stop.set()
        for listener in self._listeners.values():
            listener.thread.join(10)
        self._scanner.join(10)
