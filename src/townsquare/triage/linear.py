"""Linear heads over shared features, stored as numpy arrays (never pickled).

Weights of all heads of a model sit side by side in one matrix so that one gather per batch
serves every head. They are stored as int8 with one scale per column: the models are a few MB
instead of tens, and the rounding error (< 0.4 % of the largest weight) does not move any
reported figure (checked in tests/triage/test_linear.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .features import SparseRows

FloatArray = npt.NDArray[np.float32]


def quantize(weights: npt.NDArray[np.floating]) -> tuple[npt.NDArray[np.int8], FloatArray]:
    """Symmetric int8 quantization with one scale per column."""
    w = np.asarray(weights, dtype=np.float32)
    scale = np.max(np.abs(w), axis=0) / 127.0
    scale[scale == 0] = 1.0
    q = np.clip(np.rint(w / scale), -127, 127).astype(np.int8)
    return q, scale.astype(np.float32)


def dequantize(q: npt.NDArray[np.int8], scale: FloatArray) -> FloatArray:
    out: FloatArray = (q.astype(np.float32) * scale[None, :]).astype(np.float32)
    return out


@dataclass(frozen=True)
class HeadSlice:
    """Which columns of the shared matrix belong to a head, and how to turn scores into probabilities."""

    name: str
    labels: tuple[str, ...]
    start: int
    multilabel: bool  # one sigmoid per label instead of one softmax over labels

    @property
    def stop(self) -> int:
        return self.start + len(self.labels)


def sparse_scores(x: SparseRows, weights: FloatArray, bias: FloatArray) -> FloatArray:
    """``X @ W + b`` for a batch in coordinate form, with numpy only."""
    contrib = weights[x.cols] * x.vals[:, None]
    out = np.empty((x.n_rows, weights.shape[1]), dtype=np.float32)
    for c in range(weights.shape[1]):
        out[:, c] = np.bincount(x.rows, weights=contrib[:, c], minlength=x.n_rows)
    return out + bias[None, :]


def softmax(z: FloatArray) -> FloatArray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    out: FloatArray = (e / e.sum(axis=1, keepdims=True)).astype(np.float32)
    return out


def sigmoid(z: FloatArray) -> FloatArray:
    return (1.0 / (1.0 + np.exp(-np.clip(z, -30.0, 30.0)))).astype(np.float32)


def probabilities(scores: FloatArray, heads: tuple[HeadSlice, ...]) -> dict[str, FloatArray]:
    """Split the shared score matrix into per-head probability matrices."""
    out: dict[str, FloatArray] = {}
    for head in heads:
        z = scores[:, head.start : head.stop]
        if head.multilabel or len(head.labels) == 1:
            out[head.name] = sigmoid(z)
        else:
            out[head.name] = softmax(z)
    return out
