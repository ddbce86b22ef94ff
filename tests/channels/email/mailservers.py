"""Real mail servers on 127.0.0.1 for the e-mail tests, started once per test session.

- SMTP: aiosmtpd (a pinned dev dependency) in this process, with a handler that delivers each
  accepted message into the recipient's Maildir, like a local delivery agent would. It offers
  AUTH PLAIN/LOGIN (without TLS, on loopback only); recipients named `defer*` are answered 451 and
  `reject*` 550, so the connector's error mapping meets real SMTP answers.
- IMAP: pymap serving the same Maildirs, in its own venv under
  ~/.cache/townsquare-test-peers/pymap (installed on first use), users in its passwd/shadow files.

Every test makes its own users (`MailServers.user()`), so tests share the servers, not mailboxes.
"""

from __future__ import annotations

import asyncio
import fcntl
import itertools
import mailbox
import re
import shutil
import smtplib
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from imapclient import IMAPClient

PEERS = Path.home() / ".cache" / "townsquare-test-peers"
PYMAP_VERSION = "0.36.7"
PYMAP_VENV = PEERS / "pymap"
PASSWORD = "correct horse battery"
# pbkdf2 with few rounds: every IMAP login checks it, and the default 500,000 rounds cost ~0.3 s.
HASH_SCRIPT = "import sys; from pysasl.hashing import BuiltinHash; print(BuiltinHash(rounds=1000).hash(sys.argv[1]))"


class PeerUnavailable(RuntimeError):
    pass


def ensure_pymap() -> Path:
    """pymap in its own venv (its dependencies never touch the project's), installed once; a
    lock keeps two test sessions from installing at the same time."""
    pymap = PYMAP_VENV / "bin" / "pymap"
    marker = PYMAP_VENV / f".installed-{PYMAP_VERSION}"
    PEERS.mkdir(parents=True, exist_ok=True)
    with (PEERS / "pymap.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if pymap.exists() and marker.exists():
            return pymap
        shutil.rmtree(PYMAP_VENV, ignore_errors=True)
        try:
            subprocess.run(
                [sys.executable, "-m", "venv", str(PYMAP_VENV)], check=True, capture_output=True, timeout=120
            )
            subprocess.run(
                [str(PYMAP_VENV / "bin" / "pip"), "install", "--quiet", f"pymap=={PYMAP_VERSION}"],
                check=True,
                capture_output=True,
                timeout=600,
            )
        except (subprocess.SubprocessError, OSError) as error:
            raise PeerUnavailable(f"pymap {PYMAP_VERSION} could not be installed: {error}") from error
        marker.touch()
    return pymap


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise PeerUnavailable(f"pymap exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                if sock.recv(64).startswith(b"* OK"):
                    return
        except OSError:
            time.sleep(0.05)
    raise PeerUnavailable("pymap did not answer in time")


class MaildirDelivery:
    """aiosmtpd handler: deliver into BASE/<local part>/ (a Maildir) or refuse the recipient.

    After writing the file it lets the IMAP server index it, as dovecot-lda updates Dovecot's
    index: pymap's Maildir backend gives new files their UIDs only when a session opens the
    folder, so an IDLE session would not hear of mail written behind its back until then.
    """

    def __init__(self, base: Path, index: Callable[[str], None]) -> None:
        self.base = base
        self.index = index

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any) -> str:
        local = address.rsplit("@", 1)[0].lower()
        if local.startswith("defer"):
            return "451 4.3.0 Mailbox temporarily unavailable, try again later"
        if local.startswith("reject") or not (self.base / local / "cur").is_dir():
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        for address in envelope.rcpt_tos:
            box = mailbox.Maildir(self.base / address.rsplit("@", 1)[0].lower(), create=False)
            box.add(envelope.original_content)  # written to tmp/, renamed into new/: atomic
            await asyncio.to_thread(self.index, address.rsplit("@", 1)[0].lower())
        return "250 2.0.0 Message accepted for delivery"


@dataclass
class MailUser:
    name: str
    domain: str
    password: str

    @property
    def address(self) -> str:
        return f"{self.name}@{self.domain}"


class MailServers:
    def __init__(self, base: Path) -> None:
        self.base = base
        self.imap_port = free_port()
        self.smtp_port = free_port()
        self._lock = threading.Lock()
        self._counter = itertools.count(1)
        self._passwords: dict[str, str] = {}
        self._hash: str | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._controller: Controller | None = None
        self._log = base / "pymap.log"

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        pymap = ensure_pymap()
        (self.base / "pymap-etc-passwd").write_text("")
        (self.base / "pymap-etc-shadow").write_text("")
        self._hash = subprocess.run(
            [str(pymap.parent / "python"), "-c", HASH_SCRIPT, PASSWORD],
            check=True,
            capture_output=True,
            text=True,
            timeout=60,
        ).stdout.strip()
        with self._log.open("wb") as log:
            self._process = subprocess.Popen(
                [
                    str(pymap),
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.imap_port),
                    "--no-tls",
                    "maildir",
                    str(self.base),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        _wait_for_port(self.imap_port, self._process)
        self._controller = Controller(
            MaildirDelivery(self.base, self._index),
            hostname="127.0.0.1",
            port=self.smtp_port,
            authenticator=self._authenticate,
            auth_require_tls=False,
        )
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(10)

    def _index(self, name: str) -> None:
        with IMAPClient("127.0.0.1", port=self.imap_port, ssl=False, timeout=10) as client:
            client.login(name, self._passwords[name])
            client.folder_status("INBOX", ["MESSAGES"])

    def _authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        if isinstance(auth_data, LoginPassword):
            login = auth_data.login.decode("utf-8", "replace")
            if self._passwords.get(login.split("@")[0]) == auth_data.password.decode("utf-8", "replace"):
                return AuthResult(success=True)
        return AuthResult(success=False, handled=False)

    # -- users and mail ----------------------------------------------------------------------

    def user(self, prefix: str, domain: str = "acme.example") -> MailUser:
        """A new mailbox with its own IMAP login and SMTP AUTH password."""
        with self._lock:
            name = f"{prefix}{next(self._counter)}"
            mailbox.Maildir(self.base / name, create=True)
            with (self.base / "pymap-etc-passwd").open("a") as passwd:
                passwd.write(f"{name}::1000:1000::{name}:/bin/false\n")
            with (self.base / "pymap-etc-shadow").open("a") as shadow:
                shadow.write(f"{name}:{self._hash}:::::::\n")
            self._passwords[name] = PASSWORD
        return MailUser(name, domain, PASSWORD)

    def send(self, message: EmailMessage | bytes, sender: str, recipients: list[str]) -> None:
        """Send like a customer's mail client would: SMTP to the server, no login."""
        # SMTP lines end in CRLF; smtplib sends bytes as they are.
        data = message if isinstance(message, bytes) else message.as_bytes(policy=policy.SMTP)
        data = re.sub(rb"\r?\n", b"\r\n", data)
        with smtplib.SMTP("127.0.0.1", self.smtp_port, timeout=10) as smtp:
            smtp.sendmail(sender, recipients, data)

    def maildir(self, user: MailUser) -> Path:
        return self.base / user.name
