"""Weak German complaint labels: GermEval's negative posts teach the complaint column German
(``train.weak_complaints``, ``train.always_rows``), always in training and never scored; fast
mode's word head reads them through a German copy of its inputs (``DenseHead.german_copy``)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from tests.triage.fake_encoders import FunctionEncoder, knows_words

from townsquare.triage.data import Labelled
from townsquare.triage.features import HashedNgrams, document_frequency
from townsquare.triage.models import DenseHead, Posts, _refine
from townsquare.triage.schema import INTENTS
from townsquare.triage.train import (
    WEAK_COMPLAINT_WEIGHT,
    EmbeddingCache,
    Extra,
    TrainingSet,
    _matrix,
    _oof,
    always_rows,
    fit_small_heads,
    fit_stages,
    weak_complaints,
)


def _germeval(text: str, sentiment: str | None) -> Labelled:
    return Labelled(text=text, source="germeval2017", language="de", sentiment=sentiment)


def test_negative_feedback_becomes_a_weak_complaint_and_gold_texts_stay_out() -> None:
    rows = [
        _germeval("Schon wieder 40 Minuten Verspätung, danke für nichts", "negative"),
        _germeval("Der ICE fährt ab Gleis 5", "neutral"),
        _germeval("Nettes Personal im Bordbistro", "positive"),
        _germeval("Zug fällt aus, wie immer", "negative"),
        _germeval("ohne Label", None),
    ]
    weak = weak_complaints(rows, exclude=["Zug fällt aus, wie immer"])  # gold-labelled in our set
    assert [(r.text[:10], r.complaint) for r in weak] == [
        ("Schon wied", True),
        ("Der ICE fä", False),
        ("Nettes Per", False),
    ]
    assert {r.source for r in weak} == {"germeval2017:weak"}
    assert rows[0].complaint is None  # the sentiment rows themselves are not changed
    ts = TrainingSet(weak_complaint=weak)
    assert always_rows(ts, "complaint") == weak
    assert always_rows(ts, "question") == []


def _complaint_set(weak: list[Labelled]) -> TrainingSet:
    """English gold complaint rows (as the complaint tweets are) and two German intent rows."""
    english = [
        ("my parcel never arrived and nobody answers", True),
        ("broken on arrival, where is my refund", True),
        ("still no internet after three days", True),
        ("love the new store in town", False),
        ("what time do you open tomorrow", False),
        ("great service, thank you", False),
    ]
    gold = [Labelled(text=t, source="complaints", language="en", complaint=c) for t, c in english * 2]
    other = [
        Labelled(text="Wann öffnet der Laden?", source="own", language="de", intents=["question"], spam=False),
        Labelled(text="Gewinnspiel! Jetzt klicken", source="own", language="de", intents=["other"], spam=True),
    ]
    for row, needs_reply in zip(other, (True, False), strict=True):
        row.needs_reply = needs_reply
    return TrainingSet(complaint=gold, intents=other, weak_complaint=weak)


def test_the_complaint_column_learns_german_from_the_weak_rows() -> None:
    weak = weak_complaints(
        [_germeval(f"Zug {i} fällt aus, Verspätung ohne Ende", "negative") for i in range(8)]
        + [_germeval(f"Zug {i} pünktlich angekommen", "neutral") for i in range(8)]
    )
    featurizer = HashedNgrams()
    post = "Verspätung ohne Ende, Zug fällt aus"

    def complaint_probability(ts: TrainingSet) -> float:
        texts = [r.text for r in ts.complaint + ts.intents + ts.weak_complaint]
        ids, offsets = featurizer.transform(texts)
        idf = document_frequency(ids, offsets, featurizer.n_buckets)
        heads = {name: (w, b) for name, _, w, b in fit_small_heads(ts, featurizer, idf)}
        w, b = heads["intent"]
        z = np.asarray(_matrix(featurizer, [post], idf) @ w)[0] + b
        return float(1 / (1 + np.exp(-z[INTENTS.index("complaint")])))

    assert complaint_probability(_complaint_set(weak)) > complaint_probability(_complaint_set([])) + 0.2


def test_extra_rows_join_every_fold_and_are_never_scored() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 4)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    # Extra rows that say the opposite about feature 1, heavily: they must move the fits.
    x_extra = np.zeros((30, 4), np.float32)
    x_extra[:, 1] = np.r_[np.full(15, 3.0), np.full(15, -3.0)]
    y_extra = np.r_[np.zeros(15), np.ones(15)].astype(np.int64)
    plain_fast, [plain_dense] = _oof(x, [x], y, 2, lambda n: None)
    extra = Extra(x_extra, y_extra, 5.0)
    fast, [dense] = _oof(x, [x], y, 2, lambda n: None, extras=[extra, None])
    assert fast.shape == plain_fast.shape == (40, 1)  # scored: the 40 own rows only
    assert not np.allclose(fast, plain_fast)  # the sparse-side model saw the extra rows
    assert np.allclose(dense, plain_dense)  # the dense model, given none, did not
    assert 0 < WEAK_COMPLAINT_WEIGHT < 1


def test_a_head_with_a_german_copy_reads_the_correction_for_german_posts_only() -> None:
    dims = 3
    weights = np.zeros((2 * dims, 1), np.float32)
    weights[0, 0] = 1.0  # shared
    weights[dims + 1, 0] = 4.0  # German correction
    head = DenseHead("complaint", ("complaint",), weights, np.zeros(1, np.float32), True, 1.0, german_copy=True)
    emb = np.array([[1.0, 1.0, 0.0], [1.0, 1.0, 0.0]], np.float32)
    fast = {"complaint": np.full((2, 1), 0.5, np.float32)}
    out = _refine((head,), fast, emb, Posts(["a", "b"], ["en", "de"]))["complaint"][:, 0]
    assert out[0] == pytest.approx(1 / (1 + np.exp(-1.0)))
    assert out[1] == pytest.approx(1 / (1 + np.exp(-5.0)))


def test_the_accurate_complaint_heads_take_the_weak_rows_only_when_switched_on(monkeypatch: pytest.MonkeyPatch) -> None:
    """The n-gram side of the blend choice always trains on them; the embedding heads only with
    ``WEAK_COMPLAINTS_IN_EMBEDDING_HEADS`` (off as shipped: no gain in the accurate CV)."""
    from townsquare.triage import train as train_module
    from townsquare.triage import triager as triager_module

    # both encoders know whether a text says "kaputt" (German for broken): all the weak rows teach
    encoders = {name: FunctionEncoder(name, 2, knows_words("kaputt")) for name in ("use", "e5")}
    monkeypatch.setattr(triager_module, "_encoders", encoders)
    ts = _complaint_set([])
    rows = ts.complaint
    y = np.array([bool(r.complaint) for r in rows], dtype=np.int64)
    weak = weak_complaints(
        [_germeval(f"Automat {i} kaputt", "negative") for i in range(10)]
        + [_germeval(f"Automat {i} geht", "neutral") for i in range(10)]
    )
    featurizer = HashedNgrams()
    texts = [r.text for r in rows + weak]
    ids, offsets = featurizer.transform(texts)
    idf = document_frequency(ids, offsets, featurizer.n_buckets)
    cache = EmbeddingCache(None, ("use", "e5"))

    def heads(switch: bool, always: list[Labelled]) -> list[Any]:
        monkeypatch.setattr(train_module, "WEAK_COMPLAINTS_IN_EMBEDDING_HEADS", switch)
        return fit_stages("intent:complaint", ("complaint",), rows, y, featurizer, idf, cache, ("use",), always=always)

    plain, off, on = heads(False, []), heads(False, weak), heads(True, weak)
    for a, b in zip(plain, off, strict=True):  # switched off: the embedding heads are as without them
        assert np.allclose(a.weights, b.weights) and np.allclose(a.bias, b.bias)
    for a, b in zip(plain, on, strict=True):  # switched on: "kaputt" now means complaint to them
        assert b.weights[0, 0] - b.weights[1, 0] > a.weights[0, 0] - a.weights[1, 0] + 0.5
