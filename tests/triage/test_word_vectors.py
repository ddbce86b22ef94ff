"""Fast mode's e5 word vectors (`triage.word_vectors`) and the sentiment stack that reads them."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from tests.triage.test_lexicon_stack import fit_stack, sentiment_rows

from townsquare.triage import train as train_module
from townsquare.triage.models import LexiconStack
from townsquare.triage.schema import SENTIMENTS
from townsquare.triage.word_vectors import WordVectors, build, vocabulary, words

# A stand-in for e5: a word's vector says how positive (axis 0) or negative (axis 1) it is.
TONE = {"great": (1.0, 0.0), "love": (0.9, 0.1), "awful": (0.0, 1.0), "hate": (0.1, 0.9), "toll": (0.8, 0.0)}


def fake_e5(batch: list[str]) -> np.ndarray:
    rng = np.random.RandomState(len(batch))
    out = rng.normal(0, 0.01, (len(batch), 8)).astype(np.float32)
    for k, word in enumerate(batch):
        out[k, :2] += TONE.get(word, (0.0, 0.0))
    return out


def test_words_are_lower_cased_letters_digits_emoji_and_tone_marks() -> None:
    assert words("Super Service!!! 😡 @user 2x, Störung?") == [
        "super", "service", "!", "!", "!", "😡", "user", "2x", "störung", "?"
    ]  # fmt: skip
    assert words("شكرا جزيلا") == ["شكرا", "جزيلا"]
    assert len(words("a " * 50_000)) == 1000  # the first 2,000 characters decide, as for every head


def test_build_keeps_words_seen_twice_and_weighs_frequent_ones_less() -> None:
    counts = vocabulary(["great great love", "the the the the awful", "hate toll once"], min_count=1)
    assert counts["the"] == 4 and counts["once"] == 1
    assert "once" not in vocabulary(["great great love", "once"])  # MIN_COUNT = 2
    vectors = build(counts, fake_e5, dims=4)
    assert vectors.dims == 4 and len(vectors.index) == len(counts)
    weight = dict(zip(sorted(counts), vectors.weights, strict=True))
    assert weight["the"] < weight["great"] < weight["love"]  # smooth inverse frequency
    with pytest.raises(ValueError, match="no words"):
        build(Counter(), fake_e5)


def test_a_post_is_the_weighted_mean_of_its_known_words() -> None:
    vectors = build(vocabulary(["great love awful hate toll", "great love awful hate toll"]), fake_e5, dims=4)
    out = vectors.embed(["great love!", "awful, I hate it", "nothing known here", ""])
    assert out.shape == (4, 4)
    assert np.allclose(np.linalg.norm(out[:2], axis=1), 1.0, atol=1e-5)
    assert not out[2].any() and not out[3].any()  # no known word: zeros, not NaN
    assert float(out[0] @ out[1]) < 0  # praise and anger point apart
    # The weight file stores int8 vectors and the words as one UTF-8 blob; reading it back
    # gives the same posts' vectors to int8 precision.
    arrays = vectors.arrays()
    assert arrays["words_q"].dtype == np.int8 and arrays["words_blob"].dtype == np.uint8
    again = WordVectors.from_arrays(arrays)
    assert again is not None and again.index == vectors.index
    assert np.allclose(again.embed(["great love!"]), out[:1], atol=0.02)
    assert WordVectors.from_arrays({"weights_q": arrays["words_q"]}) is None  # a file without them


def test_the_stack_with_word_vectors_answers_every_language(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(train_module, "MIN_ROWS_BY_LANGUAGE", 15)
    said = {
        "positive": ["great, love it", "toll, great", "love love"],
        "negative": ["awful, hate it", "hate this awful thing", "awful awful"],
        "neutral": ["the train at nine", "order number here", "shop opens monday"],
    }
    rows = sentiment_rows(said, ["en", "de", "fr"] * 2)
    vectors = build(vocabulary(r.text for r in rows), fake_e5, dims=4)
    fitted = fit_stack(rows, words=vectors)
    assert fitted is not None
    weights, bias = fitted.weights, fitted.bias
    assert weights.shape == (3 + 3 * 4 + 4, 3)
    assert set(fitted.oof_by_language) == {"en", "de", "fr"}  # every language is stacked
    assert set(fitted.oof_by_language["de"]) == {"stack", "ngram_head"}
    stack = LexiconStack(weights, bias, words=vectors)
    p_fast = np.full((3, 3), 1 / 3, np.float32)
    out = stack.apply(p_fast, ["toll, great!", "awful, hate", "great love"], ["de", "fr", "en"])
    assert [SENTIMENTS[i] for i in out.argmax(1)] == ["positive", "negative", "positive"]
    assert np.allclose(out.sum(1), 1.0, atol=1e-5)
