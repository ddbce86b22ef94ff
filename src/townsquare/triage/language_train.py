"""Building ``models/language.npz``: the romanized-Hindi word list of the language identifier.

XLM-T's Hindi tweets are romanized Hindi-English code-mix ("Kya sai hai re"), and about a third
of them are plain English. We read the Hindi training set line by line and noted each line's
language (``data.LANGUAGE_AUDIT_FILE``). The word list keeps the words that mark romanized
Hindi: words found in at least ``MIN_COUNT`` of the training tweets we found to be Hindi, in at
most ``MAX_OTHER`` training tweets of the other seven sets, and rarer than
``MAX_ENGLISH_FREQUENCY`` in wordfreq's English list ("kya", "nahi", "bhai", but not "hai",
which Italian tweets use, nor "me", "to" or "are"). ``language.py`` says Hindi when a Latin-script post has two such words, or one
that makes up at least 15 % of its words.

Built from the XLM-T *train* splits only (``townsquare train`` calls :func:`train_language`). The
three thresholds were chosen on XLM-T val with our audited languages (Hindi found vs English
tweets wrongly called Hindi), as docs/triage.md says.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from . import data as datasets
from .language import LANGUAGE_FILE, clean_for_language, roman_words

MIN_COUNT = 2
MAX_OTHER = 2
# 1e-5 until the list held English words Hindi tweets borrow ("tab", "admin", "scam") and called
# "Admin tab not loading" Hindi; 5e-6 costs one audited XLM-T val line (docs/triage.md).
MAX_ENGLISH_FREQUENCY = 5e-6


def hindi_lexicon(data_dir: Path) -> list[str]:
    """The romanized-Hindi marker words, sorted (see the module docstring)."""
    import wordfreq

    hindi: Counter[str] = Counter()
    other: Counter[str] = Counter()
    for row in datasets.xlmt(data_dir, "train", audited=True):
        words = set(roman_words(clean_for_language(row.text)))
        if row.extra["set_language"] != "hi":
            other.update(words)
        elif row.language == "hi":  # not the English tweets of the Hindi set
            hindi.update(words)
    english = wordfreq.get_frequency_dict("en", wordlist="small")
    return sorted(
        w
        for w, c in hindi.items()
        if c >= MIN_COUNT and len(w) >= 2 and other[w] <= MAX_OTHER and english.get(w, 0.0) < MAX_ENGLISH_FREQUENCY
    )


def train_language(data_dir: Path, out_dir: Path | None = None) -> dict[str, object]:
    """Write ``language.npz`` (into ``out_dir`` or the package) and return a summary. Without
    Hindi training tweets the list is empty and romanized Hindi is never said."""
    words = hindi_lexicon(data_dir)
    path = (out_dir / LANGUAGE_FILE.name) if out_dir is not None else LANGUAGE_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        path,
        hindi_words=np.array(words, dtype=str),
        thresholds=np.array([MIN_COUNT, MAX_OTHER, MAX_ENGLISH_FREQUENCY], dtype=np.float64),
    )
    return {"file": str(path), "hindi_words": len(words)}
