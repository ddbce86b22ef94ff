"""A real Synapse homeserver for the Matrix tests: installed from PyPI into its own venv under
~/.cache/townsquare-test-peers/synapse (never the project's venv), configured in a temp folder
(SQLite, client API only on 127.0.0.1, federation off, open registration, raised rate limits),
started once per test session, with users registered through the client API."""

from __future__ import annotations

import base64
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

SYNAPSE_VERSION = "1.163.2"
PEERS = Path(os.environ.get("TOWNSQUARE_TEST_PEERS", Path.home() / ".cache" / "townsquare-test-peers"))
VENV = PEERS / "synapse"
MARKER = VENV / f".installed-{SYNAPSE_VERSION}"
SERVER_NAME = "localhost"


class SynapseUnavailable(RuntimeError):
    """Synapse could not be installed or started here."""


def venv_python() -> Path:
    return VENV / "bin" / "python"


def install() -> Path:
    """Install Synapse into its own venv if it is not there yet (~15-50 s, ~240 MB)."""
    if MARKER.exists() and venv_python().exists():
        return venv_python()
    shutil.rmtree(VENV, ignore_errors=True)  # a half-finished install from an interrupted run
    PEERS.mkdir(parents=True, exist_ok=True)
    # The base interpreter, not the project's venv: Synapse's dependencies must not mix with ours.
    base = getattr(sys, "_base_executable", sys.executable)
    try:
        subprocess.run([base, "-m", "venv", str(VENV)], check=True, capture_output=True, timeout=120)
        subprocess.run(
            [str(venv_python()), "-m", "pip", "install", "--quiet", f"matrix-synapse=={SYNAPSE_VERSION}"],
            check=True,
            capture_output=True,
            timeout=600,
        )
    except (OSError, subprocess.SubprocessError) as error:
        detail = getattr(error, "stderr", b"") or b""
        raise SynapseUnavailable(
            f"could not install matrix-synapse=={SYNAPSE_VERSION}: {error} {detail.decode(errors='replace')[-500:]}"
        ) from error
    MARKER.touch()
    return venv_python()


def _signing_key() -> str:
    # Synapse's key file format: "<algorithm> <version> <unpadded base64 of the 32-byte seed>".
    seed = base64.b64encode(secrets.token_bytes(32)).decode().rstrip("=")
    return f"ed25519 a_test {seed}\n"


def _rate(per_second: float = 1000, burst: int = 1000) -> dict[str, float]:
    return {"per_second": per_second, "burst_count": burst}


def write_config(folder: Path, port: int) -> Path:
    """homeserver.yaml (as JSON, which YAML reads) with the settings seen working here."""
    data = folder / "data"
    data.mkdir(parents=True, exist_ok=True)
    (folder / "signing.key").write_text(_signing_key())
    log_config = {
        "version": 1,
        "formatters": {"plain": {"format": "%(asctime)s %(name)s %(levelname)s %(message)s"}},
        "handlers": {
            "file": {"class": "logging.FileHandler", "formatter": "plain", "filename": str(folder / "homeserver.log")}
        },
        "root": {"level": "WARNING", "handlers": ["file"]},
        "disable_existing_loggers": False,
    }
    (folder / "log.config").write_text(json.dumps(log_config))
    config: dict[str, Any] = {
        "server_name": SERVER_NAME,
        "pid_file": str(data / "homeserver.pid"),
        "listeners": [
            {
                "port": port,
                "bind_addresses": ["127.0.0.1"],
                "type": "http",
                "tls": False,
                "x_forwarded": False,
                "resources": [{"names": ["client"], "compress": False}],
            }
        ],
        "database": {"name": "sqlite3", "args": {"database": str(data / "homeserver.db")}},
        "log_config": str(folder / "log.config"),
        "media_store_path": str(data / "media_store"),
        "signing_key_path": str(folder / "signing.key"),
        "registration_shared_secret": secrets.token_urlsafe(24),
        "macaroon_secret_key": secrets.token_urlsafe(24),
        "form_secret": secrets.token_urlsafe(24),
        "report_stats": False,
        "trusted_key_servers": [],
        "suppress_key_server_warning": True,
        "federation_domain_whitelist": [],
        "enable_registration": True,
        "enable_registration_without_verification": True,
        "rc_message": _rate(),
        "rc_registration": _rate(),
        "rc_login": {"address": _rate(), "account": _rate(), "failed_attempts": _rate()},
        "rc_joins": {"local": _rate(), "remote": _rate()},
        "rc_invites": {"per_room": _rate(), "per_user": _rate(), "per_issuer": _rate()},
        "rc_room_creation": _rate(),
        "rc_3pid_validation": _rate(),
        # Synapse answers a repeated identical /sync from a 2-minute cache by default.
        "caches": {"sync_response_cache_duration": 0},
        "bcrypt_rounds": 4,  # test passwords need no real hashing cost
    }
    path = folder / "homeserver.yaml"
    path.write_text(json.dumps(config, indent=2))
    return path


@dataclass(frozen=True)
class MatrixUser:
    user_id: str
    access_token: str
    password: str


class Synapse:
    """One running homeserver; `register` and `call` talk to it like a Matrix client would."""

    def __init__(self, folder: Path, port: int) -> None:
        self.folder = folder
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.process: subprocess.Popen[bytes] | None = None
        self._txn = 0
        self._http = httpx.Client(base_url=self.url, timeout=30)  # kept open: connection reuse

    def start(self, timeout: float = 60.0) -> None:
        python = install()
        config = write_config(self.folder, self.port)
        with (self.folder / "stderr.log").open("wb") as stderr:  # the child keeps its own copy
            self.process = subprocess.Popen(
                [str(python), "-m", "synapse.app.homeserver", "-c", str(config)],
                cwd=self.folder,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SynapseUnavailable(f"synapse exited with {self.process.returncode}: {self._tail()}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise SynapseUnavailable(f"synapse did not answer /health within {timeout:.0f}s: {self._tail()}")

    def _tail(self) -> str:
        log = self.folder / "stderr.log"
        return log.read_text(errors="replace")[-1500:] if log.exists() else ""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.process = None
        self._http.close()

    # A tiny client for the customers' side of the tests.

    def register(self, name: str, password: str = "correct horse battery") -> MatrixUser:  # noqa: S107
        body = {"username": name, "password": password, "auth": {"type": "m.login.dummy"}, "inhibit_login": False}
        response = self._http.post("/_matrix/client/v3/register", json=body)
        response.raise_for_status()
        data = response.json()
        return MatrixUser(data["user_id"], data["access_token"], password)

    def call(
        self, user: MatrixUser, method: str, path: str, body: dict[str, Any] | None = None, **params: Any
    ) -> dict[str, Any]:
        response = self._http.request(
            method,
            f"/_matrix/client/v3{path}",
            json=body,
            params=params or None,
            headers={"Authorization": f"Bearer {user.access_token}"},
        )
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    def send(self, user: MatrixUser, room_id: str, content: dict[str, Any], event_type: str = "m.room.message") -> str:
        self._txn += 1
        path = f"/rooms/{room_id}/send/{event_type}/t{time.time_ns()}-{self._txn}"
        return str(self.call(user, "PUT", path, content)["event_id"])

    def say(self, user: MatrixUser, room_id: str, text: str, reply_to: str | None = None) -> str:
        content: dict[str, Any] = {"msgtype": "m.text", "body": text}
        if reply_to:
            content["m.relates_to"] = {"m.in_reply_to": {"event_id": reply_to}}
        return self.send(user, room_id, content)

    def messages(self, user: MatrixUser, room_id: str, limit: int = 50) -> list[dict[str, Any]]:
        """The room's newest events, oldest first."""
        chunk: list[dict[str, Any]] = self.call(user, "GET", f"/rooms/{room_id}/messages", dir="b", limit=limit)[
            "chunk"
        ]
        return list(reversed(chunk))
