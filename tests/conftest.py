"""Shared fixtures: a store on SQLite and on the real PostgreSQL server, a runtime, the API with
users of every role, and a live server on 127.0.0.1 for end-to-end tests."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from townsquare.actions import Actor
from townsquare.api.app import Service, create_app
from townsquare.config import Settings
from townsquare.model import Role
from townsquare.runtime import Runtime
from townsquare.store.db import Database
from townsquare.store.tables import metadata

IN_CI = os.environ.get("CI", "").lower() == "true"
POSTGRES_ADMIN_URL = os.environ.get("TOWNSQUARE_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
# One database per test session: parallel sessions on one server never drop each other's.
POSTGRES_TEST_DB = f"townsquare_test_{os.getpid()}"
SHARED = Path(os.environ.get("TOWNSQUARE_SHARED", Path(__file__).resolve().parents[1].parent / "shared"))


def unavailable(reason: str) -> None:
    """Skip on a user's machine without the service; under CI=true the service must be there."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: this test must not skip)")
    pytest.skip(reason)


def _postgres_url() -> str:
    return POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{POSTGRES_TEST_DB}"


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A fresh database on the real server, migrated once per test session."""
    try:
        admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{POSTGRES_TEST_DB}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{POSTGRES_TEST_DB}"'))
        admin.dispose()
    except Exception as error:
        unavailable(f"PostgreSQL not reachable at {POSTGRES_ADMIN_URL}: {type(error).__name__}")
    url = _postgres_url()
    db = Database(url)
    db.migrate()
    db.dispose()
    yield url
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{POSTGRES_TEST_DB}" WITH (FORCE)'))
    admin.dispose()


def _truncate_postgres(url: str) -> None:
    db = Database(url)
    names = ", ".join(f'"{table.name}"' for table in metadata.sorted_tables)
    with db.write() as conn:
        conn.execute(text(f"TRUNCATE {names} CASCADE"))
    db.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Every test that uses the store runs on both databases."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'townsquare.db'}"
    url: str = request.getfixturevalue("postgres_database")
    _truncate_postgres(url)
    return url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'townsquare.db'}"


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, triage="off", secret_key="test-secret-key-0123456789")


@pytest.fixture
def runtime(settings: Settings) -> Iterator[Runtime]:
    rt = Runtime.create(settings)
    yield rt
    rt.stop()


ADMIN = Actor(id=None, label="test setup", role=Role.ADMIN)


class Users:
    """Users of each role with API tokens, made through the actions like a real admin would."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.ids: dict[str, str] = {}
        self.tokens: dict[str, str] = {}
        for role in Role:
            user_id = runtime.actions.create_user(
                ADMIN,
                email=f"{role.value}@example.com",
                name=f"{role.value.title()} User",
                role=role,
                password="correct horse battery",
            )
            self.ids[role.value] = user_id
            self.tokens[role.value] = runtime.actions.create_token(ADMIN, user_id, "tests")[1]

    def headers(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}


@pytest.fixture
def users(runtime: Runtime) -> Users:
    return Users(runtime)


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime)) as test_client:
        yield test_client


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class LiveServer:
    """An ASGI app served by uvicorn on 127.0.0.1 in a thread, for end-to-end tests."""

    def __init__(self, app: object, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))  # type: ignore[arg-type]
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("live server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(15)


def townsquare_server(runtime: Runtime, services: list[Service] | None = None, port: int | None = None) -> LiveServer:
    return LiveServer(create_app(runtime, manage_runtime=True, services=services or []), port=port)


def wait_for(condition: Callable[[], object], timeout: float = 10.0, interval: float = 0.05) -> object:
    """Poll until `condition()` is truthy; fail with a clear message otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")


CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    """A Playwright context in Debian's Chromium (Playwright cannot download its own here)."""
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        unavailable("Chromium is not installed (Debian package 'chromium')")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"),
            executable_path=executable,
            args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 800},
        )
        yield context
        context.close()


@pytest.fixture
def screenshots(tmp_path: Path) -> Path:
    """Where browser tests save screenshots: $TOWNSQUARE_SCREENSHOT_DIR (docs/screenshots when
    refreshing the docs), else a temporary folder."""
    folder = Path(os.environ.get("TOWNSQUARE_SCREENSHOT_DIR", tmp_path / "screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder
