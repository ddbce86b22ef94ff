"""The training embedding cache is used only when the installed encoder still gives the vectors the
file was written with: a cache from another encoder setup would train heads on vectors that the
triager never sees at run time."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from townsquare.triage import triager as triager_module
from townsquare.triage.linear import FloatArray
from townsquare.triage.models import Encoder
from townsquare.triage.train import EmbeddingCache


class ScaledEncoder(Encoder):
    """Embeds a text as (length, 1) times ``scale``; counts the texts it embedded."""

    name = "use"
    dim = 2

    def __init__(self, scale: float) -> None:
        super().__init__()
        self.scale = scale
        self.embedded = 0

    def _load(self) -> Any:
        return object()

    def _encode(self, texts: list[str]) -> FloatArray:
        self.embedded += len(texts)
        return np.array([[len(t) * self.scale, self.scale] for t in texts], dtype=np.float32)


def _install(monkeypatch: pytest.MonkeyPatch, encoder: ScaledEncoder) -> None:
    monkeypatch.setattr(triager_module, "_encoders", {"use": encoder})


def test_a_cache_written_by_the_same_encoder_is_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _install(monkeypatch, ScaledEncoder(1.0))
    EmbeddingCache(tmp_path, ("use",)).embed(["hallo", "hello there"])

    encoder = ScaledEncoder(1.0)
    _install(monkeypatch, encoder)
    cache = EmbeddingCache(tmp_path, ("use",))
    vectors = cache.embed(["hallo", "hello there"])
    assert cache.discarded == []
    assert encoder.embedded == 3  # the probe texts only: both posts came from the file
    assert vectors.tolist() == [[5.0, 1.0], [11.0, 1.0]]


def test_a_cache_written_by_another_encoder_setup_is_embedded_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _install(monkeypatch, ScaledEncoder(1.0))
    EmbeddingCache(tmp_path, ("use",)).embed(["hallo", "hello there"])

    _install(monkeypatch, ScaledEncoder(2.0))  # e.g. a new package version, or another prefix
    cache = EmbeddingCache(tmp_path, ("use",))
    assert cache.discarded == ["use"]
    assert cache.embed(["hallo"]).tolist() == [[10.0, 2.0]]  # the installed encoder's vector

    _install(monkeypatch, ScaledEncoder(2.0))
    assert EmbeddingCache(tmp_path, ("use",)).discarded == []  # rewritten with the new probe


def test_a_cache_file_without_probe_vectors_is_not_trusted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _install(monkeypatch, ScaledEncoder(1.0))
    np.savez(tmp_path / "use.npz", keys=np.array([EmbeddingCache.key("hallo")]), vectors=np.array([[99.0, 99.0]]))
    cache = EmbeddingCache(tmp_path, ("use",))
    assert cache.discarded == ["use"]
    assert cache.embed(["hallo"]).tolist() == [[5.0, 1.0]]
