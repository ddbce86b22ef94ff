"""The IMAP side: one logged-in connection with the watched folder selected, and the few
commands the connector needs, with the server's untyped answers checked into typed models.

`imapclient` parses the protocol (literals, FETCH responses, IDLE); this module decides what to
search, how much to fetch, and how processed mail is flagged or moved.
"""

from __future__ import annotations

import logging
import re
import select
import ssl
import threading
import time
from datetime import date, datetime
from types import TracebackType
from typing import Any

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError, LoginError
from pydantic import BaseModel, Field, ValidationError

from townsquare.channels.base import ConnectorError, ReconnectRequired
from townsquare.channels.email.settings import EmailSettings

log = logging.getLogger(__name__)

# imapclient logs every command and response, message bodies and LOGIN included, at DEBUG:
# never let that reach the application's log, whatever its level.
logging.getLogger("imapclient").setLevel(logging.INFO)

TIMEOUT_SECONDS = 30.0
MAX_FETCH_BYTES = 2_000_000
"""Bigger messages are fetched as their header and the first bytes of their body: the text
part comes first in practice, and what follows is attachments."""
_SAFE_ID = re.compile(r"^[\x21-\x7e]{1,500}$")
_SEEN = b"\\Seen"
_DELETED = b"\\Deleted"


class ImapUnavailable(ConnectorError):
    """The IMAP server could not be reached or broke off."""


class FolderState(BaseModel):
    uidvalidity: int = Field(ge=0)
    uidnext: int | None = Field(default=None, ge=0)


class FetchedMessage(BaseModel):
    uid: int = Field(ge=1)
    size: int = Field(default=0, ge=0)
    internal_date: datetime | None = None
    data: bytes
    partial: bool = False


def _select_state(response: dict[bytes, Any]) -> FolderState:
    return FolderState.model_validate(
        {"uidvalidity": response.get(b"UIDVALIDITY", 0), "uidnext": response.get(b"UIDNEXT")}
    )


def _uids(found: Any) -> list[int]:
    return sorted(int(uid) for uid in found)


class ImapSession:
    """One connection. Not thread-safe: each thread (listener, outbox) opens its own."""

    def __init__(self, settings: EmailSettings, timeout: float = TIMEOUT_SECONDS) -> None:
        self.settings = settings
        self.timeout = timeout
        self._client: Any = None
        self._processed_folder_ready = False

    # -- connection --------------------------------------------------------------------------

    def open(self) -> ImapSession:
        settings = self.settings
        context = ssl.create_default_context()
        try:
            client = IMAPClient(
                settings.imap_host,
                port=settings.imap_port,
                ssl=settings.imap_ssl,
                ssl_context=context if settings.imap_ssl else None,
                timeout=self.timeout,
            )
        except (OSError, IMAPClientError) as error:
            raise ImapUnavailable(
                f"cannot reach IMAP server {settings.imap_host}:{settings.imap_port}: {error}"
            ) from error
        self._client = client
        client.normalise_times = False  # keep INTERNALDATE's zone: aware datetimes
        try:
            if settings.imap_starttls and not settings.imap_ssl:
                client.starttls(context)
            client.login(settings.username, settings.password.get_secret_value())
        except LoginError as error:
            self.close()
            raise ReconnectRequired(f"the IMAP server refused the login of {settings.username}") from error
        except (OSError, IMAPClientError) as error:
            self.close()
            raise ImapUnavailable(f"IMAP login failed: {error}") from error
        return self

    def __enter__(self) -> ImapSession:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        # After an error the dialogue may be out of step: a LOGOUT could wait for the timeout.
        self.close(graceful=error is None or isinstance(error, GeneratorExit))

    def close(self, *, graceful: bool = True) -> None:
        client, self._client = self._client, None
        if client is None:
            return
        try:
            if not graceful:
                raise ImapUnavailable("closing after an error")
            client.logout()
        except Exception:
            try:
                client.shutdown()
            except Exception as error:  # the socket is gone either way
                log.debug("IMAP connection closed uncleanly: %s", error)

    @property
    def client(self) -> Any:
        if self._client is None:
            raise ImapUnavailable("the IMAP connection is closed")
        return self._client

    def supports(self, capability: str) -> bool:
        return bool(self.client.has_capability(capability))

    # -- folder ------------------------------------------------------------------------------

    def select(self, folder: str | None = None) -> FolderState:
        return _select_state(self.client.select_folder(folder or self.settings.folder))

    def uids_after(self, last_uid: int) -> list[int]:
        # `N:*` always matches the highest UID, even below N (RFC 3501): filter.
        return [uid for uid in _uids(self.client.search(["UID", f"{last_uid + 1}:*"])) if uid > last_uid]

    def unseen_uids(self, since: date | None = None) -> list[int]:
        criteria: list[Any] = ["UNSEEN"] if since is None else ["OR", "UNSEEN", "SINCE", since]
        return _uids(self.client.search(criteria))

    def fetch(self, uids: list[int]) -> list[FetchedMessage]:
        if not uids:
            return []
        sizes = self.client.fetch(uids, ["RFC822.SIZE", "INTERNALDATE"])
        whole = [uid for uid in uids if int(sizes.get(uid, {}).get(b"RFC822.SIZE", 0)) <= MAX_FETCH_BYTES]
        huge = [uid for uid in uids if uid in sizes and uid not in whole]
        found: dict[int, FetchedMessage] = {}
        if whole:
            for uid, item in self.client.fetch(whole, ["BODY.PEEK[]"]).items():
                found[uid] = self._checked(uid, sizes.get(uid, {}), item.get(b"BODY[]"), partial=False)
        if huge:
            parts = self.client.fetch(huge, ["BODY.PEEK[HEADER]", f"BODY.PEEK[TEXT]<0.{MAX_FETCH_BYTES}>"])
            for uid, item in parts.items():
                data = (item.get(b"BODY[HEADER]") or b"") + (item.get(b"BODY[TEXT]<0>") or b"")
                found[uid] = self._checked(uid, sizes.get(uid, {}), data, partial=True)
        return [found[uid] for uid in uids if uid in found and found[uid].data]

    @staticmethod
    def _checked(uid: int, meta: dict[bytes, Any], data: Any, *, partial: bool) -> FetchedMessage:
        try:
            return FetchedMessage(
                uid=uid,
                size=int(meta.get(b"RFC822.SIZE", 0)),
                internal_date=meta.get(b"INTERNALDATE"),
                data=data if isinstance(data, bytes) else b"",
                partial=partial,
            )
        except (ValidationError, TypeError, ValueError):
            log.warning("IMAP server sent an unusable FETCH answer for UID %s; skipped", uid)
            return FetchedMessage(uid=uid, data=b"")

    # -- processed mail ----------------------------------------------------------------------

    def mark_processed(self, up_to_uid: int) -> int:
        """Flag (\\Seen) or move every message up to `up_to_uid`: all of them are stored."""
        if up_to_uid < 1:
            return 0
        if self.settings.processed == "flag":
            uids = _uids(self.client.search(["UNSEEN", "UID", f"1:{up_to_uid}"]))
            uids = [uid for uid in uids if uid <= up_to_uid]
            if uids:
                self.client.add_flags(uids, [_SEEN], silent=True)
            return len(uids)
        uids = [uid for uid in _uids(self.client.search(["UID", f"1:{up_to_uid}"])) if uid <= up_to_uid]
        if uids:
            self._move(uids, self.settings.processed_folder)
        return len(uids)

    def _move(self, uids: list[int], folder: str) -> None:
        if not self._processed_folder_ready:
            if not self.client.folder_exists(folder):
                self.client.create_folder(folder)
            self._processed_folder_ready = True
        if self.supports("MOVE"):
            self.client.move(uids, folder)
            return
        self.client.copy(uids, folder)
        self.client.add_flags(uids, [_DELETED], silent=True)
        if self.supports("UIDPLUS"):
            self.client.uid_expunge(uids)
        else:
            self.client.expunge()

    # -- waiting -----------------------------------------------------------------------------

    def wait_for_mail(self, stop: threading.Event, seconds: float) -> None:
        """Return when the server says something (new mail, mostly), `stop` is set, or `seconds`
        passed. Uses IDLE (RFC 2177) when the server offers it and the account allows it."""
        if not (self.settings.idle and self.supports("IDLE")):
            stop.wait(min(seconds, self.settings.poll_seconds))
            self.client.noop()
            return
        client = self.client
        client.idle()
        try:
            deadline = time.monotonic() + seconds
            while not stop.is_set() and time.monotonic() < deadline:
                # Any untagged data ends the wait; DONE then reads it whole, and the caller
                # searches. Reading lines here instead (imapclient's idle_check) breaks when a
                # response arrives split over two packets.
                if self._input_waiting(1.0):
                    return
        finally:
            try:
                _text, responses = client.idle_done()
            except (OSError, IMAPClientError) as error:
                raise ImapUnavailable(f"IMAP connection lost during IDLE: {error}") from error
            if any(_says_bye(response) for response in responses):
                raise ImapUnavailable("the IMAP server ended the session")

    def _input_waiting(self, timeout: float) -> bool:
        imap = self.client._imap
        sock = imap.sock
        sock.setblocking(False)
        try:
            # Data the buffered reader already holds never shows up in select().
            if imap.file.peek(1):
                return True
        except (BlockingIOError, ssl.SSLWantReadError):
            pass
        finally:
            sock.settimeout(self.timeout)
        readable, _, _ = select.select([sock], [], [], timeout)
        return bool(readable)

    # -- lookups for replies -----------------------------------------------------------------

    def find_header(self, message_id: str, folders: list[str]) -> bytes | None:
        """The header of the message with this Message-ID, from the first folder that has it."""
        if not _SAFE_ID.match(message_id):
            return None
        for folder in folders:
            try:
                self.client.select_folder(folder, readonly=True)
            except IMAPClientError:
                continue  # e.g. the processed folder does not exist yet
            uids = _uids(self.client.search(["HEADER", "Message-ID", f"<{message_id}>"]))
            if uids:
                fetched = self.client.fetch(uids[-1:], ["BODY.PEEK[HEADER]"])
                for item in fetched.values():
                    data = item.get(b"BODY[HEADER]")
                    if isinstance(data, bytes):
                        return data
        return None

    def append(self, folder: str, data: bytes) -> None:
        try:
            self.client.append(folder, data, flags=[_SEEN])
        except IMAPClientError:
            self.client.create_folder(folder)
            self.client.append(folder, data, flags=[_SEEN])


def _says_bye(response: Any) -> bool:
    return isinstance(response, tuple) and len(response) >= 1 and response[0] == b"BYE"


NETWORK_ERRORS: tuple[type[BaseException], ...] = (OSError, IMAPClientError)
