"""Hashed character and word n-grams, computed with numpy only.

Why hashing: the fast models must run at thousands of messages per second and ship as a few
megabytes of weights, so there is no vocabulary to store; every n-gram lands in one of
``n_buckets`` rows of the weight matrix. The hash is our own (a polynomial rolling hash over
Unicode code points, then a 64-bit mixer), never Python's ``hash()``, which is salted per process
and would give different buckets in training and at run time.

A text becomes a bag of bucket ids; its feature value for bucket j is the usual sublinear tf-idf,
``(1 + log count_j) * idf_j``, L2-normalized per text, so long and short posts score on one scale.
``weigh`` computes exactly this with numpy for inference, and training builds its sparse matrix
from the same arrays, so the features can never drift apart between the two.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

_URL = re.compile(r"https?://\S+|www\.\S+", re.IGNORECASE)
_MENTION = re.compile(r"@\w+")
_DIGIT = re.compile(r"\d")
_REPEAT = re.compile(r"(.)\1{3,}")
_WORD = re.compile(r"\w+|[^\w\s]", re.UNICODE)

# Odd 64-bit constants for the rolling hash and the final mixer (splitmix64's).
_P = np.uint64(0x100000001B3)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_SEP = 0  # code point that separates texts in a batch; removed from the texts first


def normalize(text: str) -> str:
    """Lower-case and replace the parts of a post that carry no meaning by placeholders.

    URLs and @handles are different in every post and would only add noise; digits are mapped to
    0 so that "2h late" and "3h late" share n-grams; long letter runs ("soooooo") are cut to three.
    """
    text = _URL.sub(" http ", text)
    text = _MENTION.sub("@user", text)
    text = _DIGIT.sub("0", text.lower())
    text = _REPEAT.sub(r"\1\1\1", text)
    return " ".join(text.replace("\x00", " ").split())


def _mix(h: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    h = h ^ (h >> np.uint64(30))
    h = h * _M1
    h = h ^ (h >> np.uint64(27))
    h = h * _M2
    return h ^ (h >> np.uint64(31))


@dataclass(frozen=True)
class HashedNgrams:
    """Configuration of the featurizer; stored next to the weights so both always match."""

    n_buckets: int = 1 << 18
    char_min: int = 1
    char_max: int = 5
    word_max: int = 2

    def transform(self, texts: Sequence[str]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """Return (bucket ids of all texts concatenated, start offset of each text; len = n+1)."""
        norm = [" " + normalize(t) + " " for t in texts]
        char_ids, char_owner = self._char_ngrams(norm)
        word_ids, word_owner = self._word_ngrams(norm)
        ids = np.concatenate([char_ids, word_ids])
        owner = np.concatenate([char_owner, word_owner])
        order = np.argsort(owner, kind="stable")
        ids = ids[order]
        counts = np.bincount(owner, minlength=len(texts))
        offsets = np.zeros(len(texts) + 1, dtype=np.int64)
        np.cumsum(counts, out=offsets[1:])
        return ids, offsets

    def _char_ngrams(self, norm: Sequence[str]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        # One array for the whole batch: texts joined by a separator, n-grams that cross a
        # separator are dropped. Per-text Python loops would cap us at a few hundred texts/s.
        joined = "\x00".join(norm)
        cp = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
        is_sep = cp == _SEP
        owner_of_pos = np.cumsum(is_sep)  # text index of each position
        sep_cum = np.concatenate([[0], np.cumsum(is_sep)])
        out_ids: list[npt.NDArray[np.int64]] = []
        out_owner: list[npt.NDArray[np.int64]] = []
        h = np.zeros(len(cp), dtype=np.uint64)
        for n in range(1, self.char_max + 1):
            length = len(cp) - n + 1
            if length <= 0:
                break
            h = h[:length] * _P + cp[n - 1 : n - 1 + length] + np.uint64(1)
            if n < self.char_min:
                continue
            starts = np.arange(length)
            valid = sep_cum[starts + n] == sep_cum[starts]
            hv = _mix(h[valid] ^ np.uint64(n * 0x9E3779B97F4A7C15 % (1 << 64)))
            out_ids.append((hv % np.uint64(self.n_buckets)).astype(np.int64))
            out_owner.append(owner_of_pos[starts[valid]].astype(np.int64))
        if not out_ids:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        return np.concatenate(out_ids), np.concatenate(out_owner)

    def _word_ngrams(self, norm: Sequence[str]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        hashes: list[int] = []
        owner: list[int] = []
        for i, text in enumerate(norm):
            words = _WORD.findall(text)
            for n in range(1, self.word_max + 1):
                for k in range(len(words) - n + 1):
                    gram = "w" + str(n) + " " + " ".join(words[k : k + n])
                    hashes.append(zlib.crc32(gram.encode("utf-8")))
                    owner.append(i)
        if not hashes:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        hv = _mix(np.asarray(hashes, dtype=np.uint64))
        return (hv % np.uint64(self.n_buckets)).astype(np.int64), np.asarray(owner, dtype=np.int64)

    def as_dict(self) -> dict[str, int]:
        return {
            "n_buckets": self.n_buckets,
            "char_min": self.char_min,
            "char_max": self.char_max,
            "word_max": self.word_max,
        }


@dataclass(frozen=True)
class SparseRows:
    """A batch of feature vectors in coordinate form, sorted by row."""

    rows: npt.NDArray[np.int64]
    cols: npt.NDArray[np.int64]
    vals: npt.NDArray[np.float32]
    n_rows: int


def weigh(
    ids: npt.NDArray[np.int64],
    offsets: npt.NDArray[np.int64],
    n_buckets: int,
    idf: npt.NDArray[np.floating] | None,
) -> SparseRows:
    """Turn bucket ids into L2-normalized sublinear tf-idf values (see the module docstring)."""
    n = len(offsets) - 1
    owner = np.repeat(np.arange(n, dtype=np.int64), np.diff(offsets))
    keys, counts = np.unique(owner * n_buckets + ids, return_counts=True)
    rows = keys // n_buckets
    cols = keys % n_buckets
    vals = (1.0 + np.log(counts)).astype(np.float32)
    if idf is not None:
        vals *= idf[cols].astype(np.float32)
    norms = np.sqrt(np.bincount(rows, weights=vals * vals, minlength=n)).astype(np.float32)
    vals /= np.maximum(norms[rows], np.float32(1e-9))
    return SparseRows(rows=rows, cols=cols, vals=vals, n_rows=n)


def document_frequency(
    ids: npt.NDArray[np.int64], offsets: npt.NDArray[np.int64], n_buckets: int
) -> npt.NDArray[np.float32]:
    """Smoothed inverse document frequency per bucket, as scikit-learn computes it."""
    n = len(offsets) - 1
    owner = np.repeat(np.arange(n, dtype=np.int64), np.diff(offsets))
    keys = np.unique(owner * n_buckets + ids)
    df = np.bincount(keys % n_buckets, minlength=n_buckets)
    idf: npt.NDArray[np.float32] = (np.log((1.0 + n) / (1.0 + df)) + 1.0).astype(np.float32)
    return idf
