"""One feed server on 127.0.0.1 for the whole test session, emptied before each test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.channels.feeds.feedserver import FeedServer


@pytest.fixture(scope="session")
def feed_server_session() -> Iterator[FeedServer]:
    server = FeedServer().start()
    yield server
    server.stop()


@pytest.fixture
def feed_server(feed_server_session: FeedServer) -> FeedServer:
    feed_server_session.reset()
    return feed_server_session
