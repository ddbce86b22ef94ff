"""Fast mode's word heads: the intent, spam and needs_reply columns blended with heads on the e5
word vectors (``train.fit_word_heads``, ``FastModel.refine``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from townsquare.triage import TriageInput, Triager
from townsquare.triage.models import FastModel
from townsquare.triage.schema import INTENTS
from townsquare.triage.sentiment_inputs import with_german_copy

POSTS = [
    "Seit drei Tagen kein Internet und keiner ruft zurück.",
    "Still waiting for my refund, 6 weeks now",
    "Which phone should I buy for my mum?",
    "What a lovely day at the beach",
]
LANGUAGES = ["de", "en", "en", "en"]


def test_the_shipped_fast_model_blends_its_word_heads_into_the_small_columns() -> None:
    fast = FastModel.load()
    assert [h.name for h in fast.word_heads] == ["intent", "spam", "needs_reply"]
    assert fast.words is not None
    probs = fast.predict(POSTS)
    out = fast.refine(probs, POSTS, LANGUAGES)
    emb = fast.words.embed(POSTS)
    # Chosen out of fold against the distilled n-gram columns: the word heads carry weight for
    # intent and needs_reply; spam is the n-gram column's (distillation did most there).
    assert {h.name: 0.0 < h.blend < 1.0 for h in fast.word_heads} == {
        "intent": True,
        "spam": False,
        "needs_reply": True,
    }
    # The intent head reads a German copy of the vectors (its complaint column learnt German from
    # weak labels, test_weak_complaints.py); spam and needs_reply the vectors alone.
    assert [h.german_copy for h in fast.word_heads] == [True, False, False]
    for head in fast.word_heads:
        x = with_german_copy(emb, LANGUAGES) if head.german_copy else emb
        expected = head.blend * head.predict(x) + (1 - head.blend) * probs[head.name]
        assert out[head.name] == pytest.approx(expected, abs=1e-5)
    assert out["language"] is probs["language"]  # the language head is not touched


def test_word_heads_find_the_german_complaint_the_ngrams_doubt() -> None:
    """The complaint tweets are English; the word vectors carry what a German post says into the
    space the heads learned in (n-grams alone: 0.51, a coin toss)."""
    fast = FastModel.load()
    column = INTENTS.index("complaint")
    alone = fast.predict(POSTS[:1])["intent"][0, column]
    [result] = Triager("fast").triage([TriageInput(id="1", text=POSTS[0])])
    assert result.intent == "complaint"
    assert result.intent_scores["complaint"] > alone + 0.1


def test_a_fast_model_without_word_heads_answers_with_its_ngram_heads() -> None:
    """A fast.npz from before the word heads (or built with ``--encoders use``) still loads and
    answers; refine leaves its small columns as the n-gram heads gave them."""
    import dataclasses

    fast = dataclasses.replace(FastModel.load(), word_heads=())
    probs = fast.predict(POSTS)
    out = fast.refine(probs, POSTS, LANGUAGES)
    for name in ("intent", "spam", "needs_reply"):
        assert np.array_equal(out[name], probs[name])
    assert not np.array_equal(out["sentiment"], probs["sentiment"])  # the sentiment stack still runs


def test_a_fast_file_whose_word_head_does_not_fit_its_vectors_is_refused_at_load(tmp_path: Path) -> None:
    """A hand-edited or half-written fast.npz (here: the intent head's German copy flag dropped)
    gives a clear error naming the head when loaded, not a failed matrix product on the first post."""
    import json

    from townsquare.triage.models import FAST_FILE, ModelFileError

    with np.load(FAST_FILE, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    config = json.loads(str(arrays["config"]))
    config["word_heads"][0]["german_copy"] = False
    arrays["config"] = np.array(json.dumps(config))
    edited = tmp_path / "fast.npz"
    np.savez(edited, **arrays)  # type: ignore[arg-type]
    with pytest.raises(ModelFileError, match="word head 'intent' has 256 input rows, expected 128"):
        FastModel.load(edited)
