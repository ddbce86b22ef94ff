from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from tests.triage.fake_encoders import FunctionEncoder, knows_words

from townsquare.triage import triager as triager_module
from townsquare.triage.crossval import complaint_cv, intent_cv, sentiment_cascade_cv
from townsquare.triage.data import Labelled, intent_set
from townsquare.triage.features import HashedNgrams, document_frequency
from townsquare.triage.linear import FloatArray
from townsquare.triage.train import EmbeddingCache


def test_intent_cv_scores_only_real_posts() -> None:
    rows = intent_set()
    sample = [r for r in rows if r.extra["origin"] == "real"][:80] + [r for r in rows if r.extra["origin"] != "real"][
        :10
    ]
    reports, extra = intent_cv(sample, complaints=[])
    assert reports["intent"]["all"].n == 80
    assert set(reports) == {"intent", "spam", "needs_reply"}
    assert 0.0 <= extra["lenient_intent_accuracy"] <= 1.0
    assert reports["intent"]["all"].accuracy <= extra["lenient_intent_accuracy"] + 1e-9


def _complaint_rows() -> list[Labelled]:
    """30 English rows of the complaint tweets' kind, each text made unique by its number."""
    texts = [
        ("my parcel never arrived, useless", True),
        ("what time do you open?", False),
        ("broken on arrival and no refund", True),
        ("love the new store", False),
        ("worst support ever, still waiting", True),
        ("can I pay by card?", False),
    ] * 5
    return [Labelled(text=f"{t} #{i}", source="t", language="en", complaint=c) for i, (t, c) in enumerate(texts)]


def test_complaint_cv_on_a_small_set() -> None:
    result = complaint_cv(_complaint_rows())
    assert result["n"] == 30
    assert 0.0 <= result["f1"] <= 1.0
    assert result["f1"] > 0.5


def _row_class(texts: list[str]) -> FloatArray:
    """e5 "knows" a row's class from its number (one-hot of number % 3); USE knows nothing."""
    out = np.zeros((len(texts), 3), dtype=np.float32)
    out[np.arange(len(texts)), [int(t.split()[-1]) % 3 for t in texts]] = 1.0
    return out


def test_sentiment_cascade_cv_routes_by_stage_one_doubt(monkeypatch: pytest.MonkeyPatch) -> None:
    """With no row routed the cascade is stage 1, with every row routed it is the full model."""
    use = FunctionEncoder("use", 3, lambda texts: np.zeros((len(texts), 3), np.float32))
    monkeypatch.setattr(triager_module, "_encoders", {"use": use, "e5": FunctionEncoder("e5", 3, _row_class)})
    labels = ("negative", "neutral", "positive")
    rows = [
        Labelled(text=f"row {n}", source="xlmt-train", language=lang, sentiment=labels[n % 3])
        for n in range(240)
        for lang in ("en", "de")
    ]
    featurizer = HashedNgrams()
    ids, offsets = featurizer.transform([r.text for r in rows])
    idf = document_frequency(ids, offsets, featurizer.n_buckets)
    cache = EmbeddingCache(None, ("use", "e5"))
    none = sentiment_cascade_cv(rows, featurizer, idf, cache, quantile=0.0)
    every = sentiment_cascade_cv(rows, featurizer, idf, cache, quantile=1.0)
    half = sentiment_cascade_cv(rows, featurizer, idf, cache, quantile=0.5)
    assert none.routed == 0.0 and none.cascade == none.stage1
    assert every.routed == 1.0 and every.cascade == every.full
    assert none.rows == {"de": 240, "en": 240}
    assert every.full["en"] > 0.95 and none.stage1["en"] < 0.8  # only e5 can tell the rows apart
    assert none.stage1["en"] <= half.cascade["en"] <= every.full["en"]


def test_distillation_teaches_the_ngram_column_words_only_the_pool_has(monkeypatch: pytest.MonkeyPatch) -> None:
    """``distilled_fit_predict`` (the fast columns as ``townsquare train`` fits them, used by the
    word heads' blend and the CV): the teacher labels the pool, so the n-gram column learns
    "refund" from unlabelled posts; the test texts never enter the pool."""
    from townsquare.triage.train import distilled_fit_predict

    # e5 knows one thing: whether a text speaks of something broken or refunded (the teacher's view)
    monkeypatch.setattr(triager_module, "_encoders", {"e5": FunctionEncoder("e5", 2, knows_words("broken", "refund"))})
    gold = [f"it arrived broken {n}" for n in range(12)] + [f"when do you open {n}" for n in range(12)]
    y = np.array([1] * 12 + [0] * 12, dtype=np.int64)
    pool = [f"refund my money {n}" for n in range(40)] + [f"nice weather today {n}" for n in range(40)]
    test = ["refund my money 3", "nice weather today 5"]
    featurizer = HashedNgrams()
    ids, offsets = featurizer.transform(gold + pool)
    idf = document_frequency(ids, offsets, featurizer.n_buckets)
    cache = EmbeddingCache(None, ("e5",))
    p = distilled_fit_predict(featurizer, idf, gold, y, pool, cache, test)
    assert p.shape == (2,)
    assert p[0] > 0.7 > 0.3 > p[1]


def test_the_cv_blends_fast_modes_word_heads_as_the_weight_file_says() -> None:
    """``words``: the complaint CV blends a word head per fold; the intent CV takes one blend per
    head, so blends of 0 give the n-gram columns' figures and blends of 1 the word heads' own."""
    from townsquare.triage.models import FastModel

    words = FastModel.load().words
    assert words is not None
    rows = _complaint_rows()
    assert len(complaint_cv(rows, words=words)["blend_per_fold"]) == 5
    assert complaint_cv(rows)["blend_per_fold"] == []

    real = [r for r in intent_set() if r.extra["origin"] == "real"][:80]

    def figures(**kwargs: Any) -> dict[str, float]:
        reports, _ = intent_cv(real, complaints=[], **kwargs)
        return {task: by_lang["all"].macro_f1 for task, by_lang in reports.items()}

    heads = ("intent", "spam", "needs_reply")
    assert figures(words=words, blend=dict.fromkeys(heads, 0.0)) == figures()
    assert figures(words=words, blend=dict.fromkeys(heads, 1.0)) != figures()


def test_weak_complaints_train_every_fold_and_are_never_scored() -> None:
    """The weak German rows join each fold's training (n-gram column and, through a German copy,
    fast's word head) as `townsquare train` uses them; the figures score the gold rows alone."""
    from townsquare.triage.models import FastModel
    from townsquare.triage.train import weak_complaints

    words = FastModel.load().words
    rows = _complaint_rows()
    feedback = [("Zug fällt aus, Verspätung", "negative"), ("Zug fährt pünktlich", "neutral")] * 10
    weak = weak_complaints(
        [Labelled(text=f"{t} {i}", source="g", language="de", sentiment=s) for i, (t, s) in enumerate(feedback)]
    )
    for kwargs in ({}, {"words": words}):
        with_weak = complaint_cv(rows, weak=weak, **kwargs)
        assert with_weak["n"] == 30
        assert with_weak["f1"] > 0.5
    with pytest.raises(ValueError, match="not distilled"):
        complaint_cv(rows, pool=["a pool post"], weak=weak)

    german = [
        Labelled(text=f"Zug fällt aus, Verspätung, Nr. {i}", source="own", language="de", intents=["complaint"])
        for i in range(10)
    ] + [Labelled(text=f"Wo ist Gleis {i}?", source="own", language="de", intents=["question"]) for i in range(10)]
    for r in german:
        r.extra["origin"] = "real"
        r.spam, r.needs_reply = False, True
    reports, _ = intent_cv(german, complaints=rows, weak=weak)
    assert reports["intent"]["all"].n == 20


def test_the_dense_columns_of_the_intent_cv_learn_german_from_the_weak_rows() -> None:
    """``_blend_dense`` with the word vectors reads the weak rows through the German copy, as fast
    mode's word head does: a German complaint the gold rows never showed gains complaint
    probability; switched off, the weak rows are ignored."""
    from townsquare.triage.crossval import _blend_dense
    from townsquare.triage.models import FastModel
    from townsquare.triage.schema import INTENTS
    from townsquare.triage.train import TrainingSet, WordEmbedder, weak_complaints

    words = FastModel.load().words
    assert words is not None
    intents = [
        Labelled(text=f"{t} {i}", source="own", language="en", intents=[k], spam=False, needs_reply=k != "other")
        for i in range(6)
        for t, k in (("where is my order", "question"), ("nice weather today", "other"))
    ]
    feedback = [("Zug fällt aus, wieder Verspätung", "negative"), ("Zug fährt pünktlich ab", "neutral")] * 15
    weak = weak_complaints(
        [Labelled(text=f"{t} {i}", source="g", language="de", sentiment=s) for i, (t, s) in enumerate(feedback)]
    )
    test = [
        Labelled(text="Schon wieder Verspätung, der Zug fällt aus", source="own", language="de"),
        Labelled(text="Der Zug fährt heute pünktlich ab", source="own", language="de"),
    ]
    probs = {
        "intent": np.full((2, len(INTENTS)), 0.5, np.float32),
        "spam": np.full((2, 1), 0.5, np.float32),
        "needs_reply": np.full((2, 1), 0.5, np.float32),
    }
    blend = dict.fromkeys(("intent", "spam", "needs_reply"), 1.0)
    ts = TrainingSet(intents=intents, complaint=_complaint_rows(), weak_complaint=weak)
    column = INTENTS.index("complaint")

    def gap(with_always: bool) -> float:
        """Complaint probability of the German complaint minus that of the German non-complaint."""
        p = _blend_dense(ts, test, probs, WordEmbedder(words), blend, with_always, True)["intent"][:, column]
        return float(p[0] - p[1])

    assert gap(True) > gap(False) + 0.2
