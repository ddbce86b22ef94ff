"""Fast mode's English sentiment: the n-gram head stacked with VADER (``models.LexiconStack``)."""

from __future__ import annotations

import numpy as np
import pytest

from townsquare.triage import TriageInput
from townsquare.triage import train as train_module
from townsquare.triage.data import Labelled
from townsquare.triage.features import HashedNgrams, document_frequency
from townsquare.triage.models import FastModel, LexiconStack
from townsquare.triage.schema import SENTIMENTS
from townsquare.triage.triager import Triager
from townsquare.triage.word_vectors import WordVectors


def fit_stack(rows: list[Labelled], words: WordVectors | None = None) -> train_module.FittedStack | None:
    """``train.fit_lexicon_stack`` on these sentiment rows, with n-gram features fitted on them."""
    featurizer = HashedNgrams()
    ids, offsets = featurizer.transform([r.text for r in rows])
    idf = document_frequency(ids, offsets, featurizer.n_buckets)
    return train_module.fit_lexicon_stack(train_module.TrainingSet(sentiment=rows), featurizer, idf, words=words)


def sentiment_rows(said: dict[str, list[str]], languages: list[str]) -> list[Labelled]:
    """Each text of each sentiment once per entry of ``languages``, numbered so no two are equal."""
    return [
        Labelled(text=f"{text} #{k}", source="test", language=lang, sentiment=label)
        for label, texts in said.items()
        for text in texts
        for k, lang in enumerate(languages)
    ]


def test_the_stack_replaces_the_english_rows_only() -> None:
    # weights that ignore the n-gram head and follow VADER's compound score alone
    weights = np.zeros((7, 3), np.float32)
    weights[3] = [-4.0, 0.0, 4.0]
    stack = LexiconStack(weights, np.zeros(3, np.float32))
    p_fast = np.full((3, 3), 1 / 3, np.float32)
    texts = ["I love it, wonderful!", "I love it, wonderful!", "This is terrible and I hate it."]
    out = stack.apply(p_fast, texts, ["en", "de", "en"])
    assert [SENTIMENTS[i] for i in out.argmax(1)][::2] == ["positive", "negative"]
    assert np.array_equal(out[1], p_fast[1])  # not English: the n-gram head's answer stays
    assert np.allclose(out.sum(1), 1.0)
    assert stack.apply(p_fast, texts, ["de"] * 3) is p_fast


def test_the_shipped_fast_model_stacks_every_language_with_word_vectors() -> None:
    fast = FastModel.load()
    assert fast.lexicon_stack is not None and fast.lexicon_stack.words is not None
    assert len(fast.lexicon_stack.words.index) > 20_000
    triager = Triager("fast")
    posts = [
        "Thank you so much, the new app is brilliant!",
        "Worst support ever, still no refund.",
        "Danke, jetzt läuft alles wieder super, tolle Hilfe!",  # the n-gram head alone: negative
        "Schlechtester Service, nie wieder!!!",
    ]
    results = triager.triage([TriageInput(id=str(i), text=t) for i, t in enumerate(posts)])
    assert [r.sentiment for r in results] == ["positive", "negative", "positive", "negative"]
    assert [r.language for r in results] == ["en", "en", "de", "de"]
    ngram = fast.predict(posts)["sentiment"]
    for result, alone in zip(results, ngram, strict=True):  # German is stacked too now
        assert [result.sentiment_scores[s] for s in SENTIMENTS] != pytest.approx(alone.tolist(), abs=1e-3)


def test_a_stack_without_word_vectors_stacks_english_only() -> None:
    """A fast.npz trained before the word vectors (or with ``--encoders use``): English with VADER,
    the other languages with the n-gram head alone."""
    weights = np.zeros((7, 3), np.float32)
    stack = LexiconStack(weights, np.zeros(3, np.float32))
    p_fast = np.array([[0.7, 0.2, 0.1]], np.float32)
    assert stack.apply(p_fast, ["Danke!"], ["de"]) is p_fast


def test_fit_lexicon_stack_learns_from_out_of_fold_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(train_module, "MIN_ROWS_BY_LANGUAGE", 30)
    words = {
        "negative": ["awful, I hate this", "terrible delay, so bad", "worst service, angry"],
        "neutral": ["the train leaves at nine", "my order number is here", "the shop opens on monday"],
        "positive": ["great job, love it", "wonderful staff, thank you", "excellent, happy with it"],
    }
    rows = sentiment_rows(words, ["en"] * 5)
    rows += [Labelled(text=f"Zug {k} pünktlich", source="test", language="de", sentiment="neutral") for k in range(10)]
    fitted = fit_stack(rows)
    assert fitted is not None
    weights, bias = fitted.weights, fitted.bias
    assert weights.shape == (7, 3) and bias.shape == (3,)
    assert 0.0 <= fitted.ngram_oof_macro_f1 <= 1.0
    assert set(fitted.oof_by_language) == {"en"}  # only English is stacked without word vectors
    stack = LexiconStack(weights, bias)
    p = stack.apply(np.full((2, 3), 1 / 3, np.float32), ["I love it, great", "I hate it, awful"], ["en", "en"])
    assert [SENTIMENTS[i] for i in p.argmax(1)] == ["positive", "negative"]
    monkeypatch.setattr(train_module, "MIN_ROWS_BY_LANGUAGE", 300)
    assert fit_stack(rows) is None  # too few English rows: no stack


def test_a_fast_model_without_the_stack_answers_with_the_ngram_head() -> None:
    """A fast.npz trained before the stack, or on too few English rows, still triages."""
    import dataclasses

    plain = dataclasses.replace(FastModel.load(), lexicon_stack=None)
    triager = Triager("fast")
    triager._fast = plain
    post = "Thank you so much, the new app is brilliant!"
    result = triager.triage([TriageInput(id="1", text=post)])[0]
    ngram = plain.predict([post])["sentiment"][0]
    assert [result.sentiment_scores[s] for s in SENTIMENTS] == pytest.approx(ngram.tolist(), abs=1e-3)
