"""What the accurate sentiment heads see besides the sentence embedding.

Fast mode borrows the second for English posts (``lexicon_stack_inputs``).

Two additions, both measured on XLM-T val (docs/triage.md, "What we tried for sentiment"):

- **Language copies.** ``[emb, emb·is_en, emb·is_de]``: one shared weight vector for every
  language plus a correction for English and one for German, the two languages the issue sets
  targets for ("frustratingly easy" domain adaptation). Tweets in other languages see the shared
  weights only.
- **English lexicon scores.** VADER (``vaderSentiment``, a rule-based lexicon built for social
  media text, MIT) gives compound, positive, negative and neutral scores. USE is weakest on English
  tweets; these four numbers carry what it misses (negation, intensifiers, "!!!", emoticons).
  Other languages get zeros: VADER applied to German was noise (3 points lower).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from .linear import FloatArray

COPIES: tuple[str, ...] = ("en", "de")
LEXICON_LANGUAGE = "en"
LEXICON_WIDTH = 4
# VADER's scores lie in [-1, 1]; scaled up so that the logistic regression's L2 penalty (tuned for
# unit-length embeddings spread over hundreds of dimensions) does not silence four features.
LEXICON_SCALE = 3.0

_analyzer: Any = None
_lock = threading.Lock()


def _vader() -> Any:
    global _analyzer
    with _lock:
        if _analyzer is None:
            from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

            _analyzer = SentimentIntensityAnalyzer()
        return _analyzer


def lexicon_scores(texts: Sequence[str], languages: Sequence[str]) -> FloatArray:
    """VADER's (compound, pos, neg, neu) for English posts, zeros for the others."""
    out = np.zeros((len(texts), LEXICON_WIDTH), dtype=np.float32)
    english = [i for i, lang in enumerate(languages) if lang == LEXICON_LANGUAGE]
    if english:
        vader = _vader()
        for i in english:
            s = vader.polarity_scores(texts[i][:2000])
            out[i] = (s["compound"], s["pos"], s["neg"], s["neu"])
    return out


def input_width(embedding_width: int) -> int:
    return embedding_width * (1 + len(COPIES)) + LEXICON_WIDTH


def sentiment_inputs(emb: FloatArray, texts: Sequence[str], languages: Sequence[str]) -> FloatArray:
    """``[emb, emb·is_en, emb·is_de, 3·vader(en)]``, one row per post."""
    if not (len(emb) == len(texts) == len(languages)):
        raise ValueError("one embedding, text and language per post")
    lang = np.asarray(languages)
    parts = [emb] + [emb * (lang == code)[:, None] for code in COPIES]
    parts.append(LEXICON_SCALE * lexicon_scores(texts, languages))
    return np.hstack(parts).astype(np.float32)


def lexicon_stack_inputs(p_fast: FloatArray, texts: Sequence[str]) -> FloatArray:
    """``[log p_fast, 3·vader]`` of English posts, what fast mode's English sentiment stack reads
    (``models.LexiconStack``): the n-gram head's opinion and VADER's, for a logistic regression
    to weigh."""
    lexicon = lexicon_scores(texts, [LEXICON_LANGUAGE] * len(texts))
    return np.hstack([np.log(np.maximum(p_fast, 1e-6)), LEXICON_SCALE * lexicon]).astype(np.float32)


def word_stack_inputs(
    p_fast: FloatArray, word_emb: FloatArray, texts: Sequence[str], languages: Sequence[str]
) -> FloatArray:
    """``[log p_fast, emb, emb·is_en, emb·is_de, 3·vader(en)]``, what fast mode's sentiment stack
    reads when it has word vectors (``word_vectors``): the n-gram head's opinion, the post's e5
    word vectors with the English and German corrections (as the accurate heads read their
    embeddings), and VADER for English posts."""
    return np.hstack([np.log(np.maximum(p_fast, 1e-6)), sentiment_inputs(word_emb, texts, languages)]).astype(
        np.float32
    )


def with_german_copy(emb: FloatArray, languages: Sequence[str]) -> FloatArray:
    """``[emb, emb·is_de]``: shared weights plus a German correction."""
    return np.hstack([emb, emb * (np.asarray(languages) == "de")[:, None]]).astype(np.float32)
