"""The accurate sentiment heads' inputs: language copies of the embedding and English lexicon scores."""

from __future__ import annotations

import numpy as np
import pytest

from townsquare.triage.sentiment_inputs import LEXICON_SCALE, input_width, lexicon_scores, sentiment_inputs


def test_english_posts_get_lexicon_scores_that_follow_their_mood() -> None:
    texts = ["This is the worst service ever, I hate it!", "Thanks so much, you are great :)", "Zug fällt aus"]
    scores = lexicon_scores(texts, ["en", "en", "de"])
    compound = scores[:, 0]
    assert compound[0] < -0.5 < 0.5 < compound[1]
    assert np.all(scores[2] == 0)  # the lexicon is English: other languages get zeros


def test_each_language_copy_is_filled_only_for_its_language() -> None:
    emb = np.ones((3, 4), np.float32)
    x = sentiment_inputs(emb, ["a", "b", "c"], ["en", "de", "fr"])
    assert x.shape == (3, input_width(4))
    shared, en, de = x[:, :4], x[:, 4:8], x[:, 8:12]
    assert np.all(shared == 1)
    assert en[:, 0].tolist() == [1, 0, 0]
    assert de[:, 0].tolist() == [0, 1, 0]


def test_lexicon_columns_are_scaled() -> None:
    x = sentiment_inputs(np.zeros((1, 2), np.float32), ["I love it"], ["en"])
    raw = lexicon_scores(["I love it"], ["en"])
    assert np.allclose(x[0, -4:], LEXICON_SCALE * raw[0])


def test_rows_must_line_up() -> None:
    with pytest.raises(ValueError):
        sentiment_inputs(np.zeros((2, 2), np.float32), ["one"], ["en", "de"])


def test_hostile_english_posts_give_finite_scores() -> None:
    texts = ["!" * 50_000, "not " * 5_000, "<script>alert(1)</script>' OR 1=1 --", "\ud800\x00 broken", ""]
    scores = lexicon_scores(texts, ["en"] * len(texts))
    assert scores.shape == (len(texts), 4)
    assert np.all(np.isfinite(scores))
