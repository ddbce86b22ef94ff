"""A stand-in sentence encoder for tests: its vectors are a function of the texts, so a test
says in one line what the encoder "knows"."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from townsquare.triage.linear import FloatArray
from townsquare.triage.models import Encoder


class FunctionEncoder(Encoder):
    def __init__(self, name: str, dim: int, vectors: Callable[[list[str]], FloatArray]) -> None:
        super().__init__()
        self.name = name
        self.dim = dim
        self._vectors = vectors

    def _load(self) -> Any:
        return object()

    def _encode(self, texts: list[str]) -> FloatArray:
        return np.asarray(self._vectors(texts), dtype=np.float32)


def knows_words(*words: str) -> Callable[[list[str]], FloatArray]:
    """Vectors ``[says one of words, does not]``: all such an encoder can tell."""

    def vectors(texts: list[str]) -> FloatArray:
        hit = np.array([any(w in t for w in words) for t in texts], dtype=np.float32)
        return np.stack([hit, 1.0 - hit], axis=1)

    return vectors
