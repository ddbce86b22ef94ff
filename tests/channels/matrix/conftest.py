"""One real Synapse homeserver per test session (installed into its own venv on first use)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.channels.matrix.synapse import Synapse, SynapseUnavailable
from tests.conftest import free_port, unavailable


@pytest.fixture(scope="session")
def synapse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synapse]:
    folder: Path = tmp_path_factory.mktemp("synapse")
    server = Synapse(folder, free_port())
    try:
        server.start()
    except SynapseUnavailable as error:
        unavailable(str(error))
    yield server
    server.stop()
