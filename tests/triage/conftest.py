from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def shared_data() -> Path | None:
    env = os.environ.get("TOWNSQUARE_SHARED_DATA")
    path = Path(env) if env else REPO / ".." / "shared" / "data"
    return path.resolve() if (path / "sentiment-xlmt").is_dir() else None


@pytest.fixture
def data_dir() -> Path:
    path = shared_data()
    if path is None:
        pytest.skip("needs the labelled data in ../shared/data (or $TOWNSQUARE_SHARED_DATA); a fresh clone has none")
    return path
