"""Word vectors distilled from e5, for fast mode's sentiment.

Fast mode cannot run a sentence encoder (1,000 posts/s on one core leaves about 1 ms a post, and
e5 takes 20), but it can look words up. At train time every word seen at least twice in the
training texts is embedded *alone* by e5 (the same engine, prefix and layers as accurate mode),
the vectors are centred, projected on their 128 main directions and stored as int8 (3.4 MB for
about 27,000 words). A post's vector is the mean of its known words' vectors, each weighted by
a / (a + p(word)) so that frequent words ("the", "@user") count little (Arora et al. 2017,
"smooth inverse frequency"), then L2-normalized. Splitting and looking up cost about 0.02 ms a
post. This is the idea of model2vec (static embeddings distilled from a sentence encoder) with
whole words instead of subword pieces, so that no tokenizer runs at serving time.

The n-gram head knows which character strings went with which label in the training tweets; these
vectors know what e5 learnt of a word's meaning from far more text, so a word the training
tweets never labelled still has neighbours ("fantastisch" near "super"). Measured in
docs/triage.md (fast mode's sentiment stack).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import regex

from .linear import FloatArray

# Words (letters and digits of any script), symbols such as emoji, and the two punctuation marks
# that carry tone; lower-cased. The same split at train and serving time.
WORD = regex.compile(r"\w+|\p{So}|[!?]")
MAX_CHARS = 2000  # as the other heads: the first 2,000 characters decide
MIN_COUNT = 2  # words seen once are mostly typos and names; they would double the file
DIMS = 128  # main directions kept (d128 and d384 measured alike, docs/triage.md)
SIF_A = 1e-3


def words(text: str) -> list[str]:
    return WORD.findall(text[:MAX_CHARS].lower())


@dataclass(frozen=True)
class WordVectors:
    index: dict[str, int]  # word -> row
    vectors: FloatArray  # (words, DIMS), centred and projected
    weights: FloatArray  # (words,) smooth-inverse-frequency weight of each word

    @property
    def dims(self) -> int:
        return int(self.vectors.shape[1])

    def embed(self, texts: Sequence[str]) -> FloatArray:
        """(len(texts), dims): each post's weighted mean of its known words' vectors, L2-normalized;
        zeros for a post with no known word."""
        rows: list[int] = []
        lengths = np.zeros(len(texts), np.int64)
        for n, text in enumerate(texts):
            known = [k for w in words(text) if (k := self.index.get(w)) is not None]
            rows += known
            lengths[n] = len(known)
        out = np.zeros((len(texts), self.dims), np.float32)
        has = lengths > 0
        if not has.any():
            return out
        picked = np.asarray(rows, np.int64)
        weights = self.weights[picked]
        starts = np.concatenate([[0], np.cumsum(lengths[has])[:-1]])
        summed = np.add.reduceat(self.vectors[picked] * weights[:, None], starts, axis=0)
        norms = np.linalg.norm(summed, axis=1, keepdims=True)
        out[has] = summed / np.maximum(norms, 1e-12)
        return out

    def arrays(self) -> dict[str, npt.NDArray[Any]]:
        """For the weight file: the words as one UTF-8 blob (no pickled strings), the vectors as
        int8 with a scale per word."""
        ordered = sorted(self.index, key=self.index.__getitem__)
        scale = np.maximum(np.abs(self.vectors).max(axis=1), 1e-12) / 127.0
        return {
            "words_blob": np.frombuffer("\n".join(ordered).encode("utf-8"), np.uint8),
            "words_q": np.round(self.vectors / scale[:, None]).astype(np.int8),
            "words_scale": scale.astype(np.float32),
            "words_weight": self.weights.astype(np.float32),
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, npt.NDArray[Any]]) -> WordVectors | None:
        if "words_blob" not in arrays:
            return None
        ordered = bytes(arrays["words_blob"]).decode("utf-8").split("\n")
        vectors = arrays["words_q"].astype(np.float32) * arrays["words_scale"][:, None]
        return cls({w: k for k, w in enumerate(ordered)}, vectors, arrays["words_weight"].astype(np.float32))


def vocabulary(texts: Iterable[str], min_count: int = MIN_COUNT) -> Counter[str]:
    """Every word of ``texts`` with its count, those seen fewer than ``min_count`` times left out."""
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(words(text))
    return Counter({w: c for w, c in counts.items() if c >= min_count})


def build(counts: Counter[str], encode: Callable[[list[str]], FloatArray], dims: int = DIMS) -> WordVectors:
    """Word vectors of the words in ``counts``: ``encode`` (e5 through the embedding cache) embeds
    each word alone; the vectors are centred and projected on their ``dims`` main directions.
    Raises ValueError without words to build from."""
    ordered = sorted(counts)
    if not ordered:
        raise ValueError("no words to build word vectors from")
    raw = np.asarray(encode(ordered), np.float32)
    centred = raw - raw.mean(axis=0)
    _, _, directions = np.linalg.svd(centred, full_matrices=False)
    projected = (centred @ directions[: min(dims, directions.shape[0])].T).astype(np.float32)
    total = sum(counts.values())
    weights = np.array([SIF_A / (SIF_A + counts[w] / total) for w in ordered], np.float32)
    return WordVectors({w: k for k, w in enumerate(ordered)}, projected, weights)
