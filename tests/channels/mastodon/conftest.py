"""One mastodon-mock server per test session (installed on first use), reset before each test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.channels.mastodon.peer import MastodonMock, PeerUnavailable
from tests.conftest import free_port, unavailable


@pytest.fixture(scope="session")
def mastodon_server() -> Iterator[MastodonMock]:
    server = MastodonMock(free_port())
    try:
        server.start()
    except PeerUnavailable as error:
        unavailable(str(error))
    yield server
    server.stop()


@pytest.fixture
def mastodon(mastodon_server: MastodonMock) -> MastodonMock:
    mastodon_server.reset()
    return mastodon_server
