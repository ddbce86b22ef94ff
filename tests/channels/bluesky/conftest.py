"""The local AT Protocol network, installed (if missing) and started once per test session."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.channels.bluesky import peer
from tests.conftest import POSTGRES_ADMIN_URL, unavailable


def _node_postgres_url() -> str:
    # dev-env speaks node-postgres URLs: no SQLAlchemy driver suffix.
    return POSTGRES_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://")


@pytest.fixture(scope="session")
def bluesky_network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[peer.Network]:
    try:
        engine = create_engine(POSTGRES_ADMIN_URL)
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as error:
        unavailable(f"PostgreSQL (needed by the Bluesky AppView) not reachable: {type(error).__name__}")
    try:
        peer.install()
        network = peer.start(_node_postgres_url(), Path(tmp_path_factory.mktemp("bluesky")) / "dev-env.log")
    except peer.PeerUnavailable as error:
        unavailable(f"the local Bluesky network could not be set up: {error}")
    try:
        yield network
    finally:
        peer.stop(network)
        peer.drop_schemas(POSTGRES_ADMIN_URL, network.schema)


@pytest.fixture
def bluesky(bluesky_network: peer.Network) -> Iterator[peer.Client]:
    client = peer.Client(bluesky_network.pds)
    yield client
    client.close()


def unique_handle(prefix: str) -> str:
    return f"{prefix}{os.urandom(3).hex()}.test"
