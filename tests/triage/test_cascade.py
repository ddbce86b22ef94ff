"""The accurate model's cascade and the sentiment decision biases (``models.py``, ``train.py``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from townsquare.triage import triager as triager_module
from townsquare.triage.linear import FloatArray
from townsquare.triage.models import (
    ENCODER_PROBE_TEXTS,
    AccurateModel,
    Cascade,
    DenseHead,
    Encoder,
    FastModel,
    apply_log_bias,
    margin,
)
from townsquare.triage.schema import INTENTS, SENTIMENTS
from townsquare.triage.train import choose_cascade, decision_bias


class FakeEncoder(Encoder):
    """Embeds a text as [1, 0] if it contains "sure", else [0, 1]; remembers what it was asked."""

    dim = 2

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name
        self.seen: list[str] = []

    def _load(self) -> Any:
        return object()

    def _encode(self, texts: list[str]) -> FloatArray:
        self.seen += texts
        return np.array([[1.0, 0.0] if "sure" in t else [0.0, 1.0] for t in texts], dtype=np.float32)


def _head(name: str, labels: tuple[str, ...], weights: FloatArray, multilabel: bool) -> DenseHead:
    return DenseHead(name, labels, weights.astype(np.float32), np.zeros(len(labels), np.float32), multilabel, 1.0)


def _model() -> AccurateModel:
    # Stage 1 (2 dims from "use"): a confident positive for "sure" posts, a coin toss otherwise.
    stage1 = (
        _head("sentiment", SENTIMENTS, np.array([[0.0, 0.0, 9.0], [0.0, 0.0, 0.0]]), False),
        _head("intent", INTENTS, np.array([[-9.0] * 6, [-9.0] * 6]), True),
    )
    # Full model (4 dims: use then e5): always says negative.
    full = (
        _head("sentiment", SENTIMENTS, np.array([[9.0, 0.0, 0.0]] * 4), False),
        _head("intent", INTENTS, np.zeros((4, 6)), True),
    )
    cascade = Cascade(("use",), stage1, sentiment_margin=0.2, complaint_margin=0.2, budget=0.5)
    return AccurateModel(heads=full, config={"encoders": ["use", "e5"]}, cascade=cascade)


@pytest.fixture
def fake_encoders(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, FakeEncoder]]:
    fakes = {"use": FakeEncoder("use"), "e5": FakeEncoder("e5")}
    monkeypatch.setattr(triager_module, "_encoders", fakes)
    yield fakes


def test_cascade_sends_only_unsure_posts_to_the_expensive_encoder(fake_encoders: dict[str, FakeEncoder]) -> None:
    texts = ["I am sure", "maybe", "so sure", "hmm"]
    fast = {
        "sentiment": np.full((4, 3), 1 / 3, np.float32),
        "intent": np.full((4, 6), 0.1, np.float32),
        "spam": np.zeros((4, 1), np.float32),
    }
    probs, unsure = triager_module.accurate_probabilities(_model(), fast, texts, ["en"] * len(texts))
    assert unsure.tolist() == [False, True, False, True]
    assert fake_encoders["use"].seen == texts  # the cheap encoder sees every post
    assert fake_encoders["e5"].seen == ["maybe", "hmm"]  # e5 only the unsure ones
    assert [SENTIMENTS[i] for i in probs["sentiment"].argmax(axis=1)] == [
        "positive",
        "negative",
        "positive",
        "negative",
    ]
    assert np.allclose(probs["sentiment"].sum(axis=1), 1.0)
    assert np.array_equal(probs["spam"], fast["spam"])  # heads the model does not have pass through


def test_no_cascade_sends_every_post_to_every_encoder(fake_encoders: dict[str, FakeEncoder]) -> None:
    model = _model()
    plain = AccurateModel(heads=model.heads, config=model.config)
    fast = {"sentiment": np.full((2, 3), 1 / 3, np.float32), "intent": np.full((2, 6), 0.1, np.float32)}
    _, unsure = triager_module.accurate_probabilities(plain, fast, ["sure", "maybe"], ["en", "de"])
    assert unsure.all()
    assert fake_encoders["e5"].seen == ["sure", "maybe"]


def test_full_mode_sends_every_post_to_every_encoder_despite_the_cascade(
    fake_encoders: dict[str, FakeEncoder],
) -> None:
    texts = ["I am sure", "maybe"]
    fast = {"sentiment": np.full((2, 3), 1 / 3, np.float32), "intent": np.full((2, 6), 0.1, np.float32)}
    probs, unsure = triager_module.accurate_probabilities(_model(), fast, texts, ["en", "en"], every_post=True)
    assert unsure.all()
    assert fake_encoders["e5"].seen == texts
    assert [SENTIMENTS[i] for i in probs["sentiment"].argmax(axis=1)] == ["negative", "negative"]  # the full model's


def test_the_full_triager_answers_with_the_full_model(fake_encoders: dict[str, FakeEncoder]) -> None:
    """``Triager("full")`` uses the shipped cascade's model but sends every post to e5."""
    from townsquare.triage.schema import TriageInput

    triager = triager_module.Triager("full")
    triager._fast, triager._accurate = FastModel.load(), _model()
    triager.triage([TriageInput(id="1", text="I am sure"), TriageInput(id="2", text="maybe")])
    assert fake_encoders["e5"].seen == ["I am sure", "maybe"]


def test_margin() -> None:
    p = np.array([[0.5, 0.3, 0.2], [0.34, 0.33, 0.33]], np.float32)
    assert np.allclose(margin(p), [0.2, 0.01])
    assert np.allclose(margin(np.array([[0.9], [0.45]], np.float32)), [0.8, 0.1])


def test_decision_bias_recovers_a_shifted_class() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 600)
    logits = rng.normal(size=(600, 3)).astype(np.float32)
    logits[np.arange(600), y] += 1.5
    logits[:, 1] += 1.0  # a model that over-predicts neutral
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    bias = decision_bias(p.astype(np.float32), y)
    before = np.mean(p.argmax(axis=1) == y)
    after = np.mean(apply_log_bias(p.astype(np.float32), bias).argmax(axis=1) == y)
    assert bias[1] == 0.0 and bias[0] > 0.3 and bias[2] > 0.3
    assert after > before
    assert np.allclose(apply_log_bias(p.astype(np.float32), bias).sum(axis=1), 1.0, atol=1e-5)


def test_choose_cascade_spends_the_budget() -> None:
    rng = np.random.default_rng(1)
    sent = rng.dirichlet([1, 1, 1], 5000).astype(np.float32)
    comp = rng.random((5000, 1)).astype(np.float32)
    t_sent, t_comp = choose_cascade(sent, comp, sentiment_quantile=0.14, complaint_quantile=0.06)
    assert 0.12 < np.mean(margin(sent) < t_sent) < 0.16
    assert 0.04 < np.mean(margin(comp) < t_comp) < 0.08


def test_full_model_reads_the_language_of_each_routed_post(fake_encoders: dict[str, FakeEncoder]) -> None:
    """Stage 2 sees only the unsure posts: their languages must come along in the same order."""
    from townsquare.triage.sentiment_inputs import input_width

    weights = np.zeros((input_width(4), 3), np.float32)
    weights[[5, 7], 2] = 9.0  # the English copy of the embedding says positive
    weights[[9, 11], 0] = 9.0  # the German copy says negative
    sentiment = DenseHead("sentiment", SENTIMENTS, weights, np.zeros(3, np.float32), False, 1.0, language_inputs=True)
    base = _model()
    model = AccurateModel(heads=(sentiment, base.heads[1]), config=base.config, cascade=base.cascade)
    fast = {"sentiment": np.full((4, 3), 1 / 3, np.float32), "intent": np.full((4, 6), 0.1, np.float32)}
    texts = ["I am sure", "maybe", "so sure", "hmm"]
    probs, unsure = triager_module.accurate_probabilities(model, fast, texts, ["en", "de", "en", "en"])
    assert unsure.tolist() == [False, True, False, True]
    assert [SENTIMENTS[i] for i in probs["sentiment"].argmax(axis=1)] == [
        "positive",
        "negative",
        "positive",
        "positive",
    ]


def test_a_language_with_its_own_blend_and_bias_gets_them() -> None:
    """English posts use the English blend (dense only) and bias; the others the default ones."""
    dense_negative = np.array([[9.0, 0.0, 0.0]], np.float32)  # the head says negative for any input
    by_language = {
        "en": (1.0, np.array([0.0, 0.0, 0.0], np.float32)),
        "de": (0.0, np.array([0.0, 0.0, 5.0], np.float32)),
    }
    head = DenseHead(
        "sentiment", SENTIMENTS, dense_negative, np.zeros(3, np.float32), False, 0.0, by_language=by_language
    )
    fast = np.tile(np.array([[0.1, 0.8, 0.1]], np.float32), (3, 1))  # the fast head says neutral
    p = head.blend_with(fast, np.ones((3, 1), np.float32), ["en", "fr", "de"])
    assert [SENTIMENTS[i] for i in p.argmax(axis=1)] == ["negative", "neutral", "positive"]
    assert np.allclose(p.sum(axis=1), 1.0, atol=1e-5)
    # Without languages (or with none of the listed ones) the default blend and bias apply.
    assert np.allclose(head.blend_with(fast, np.ones((3, 1), np.float32)), fast)


def test_fit_stage_chooses_a_blend_and_bias_per_listed_language() -> None:
    from townsquare.triage.train import BY_LANGUAGE, _fit_stage

    rng = np.random.default_rng(2)
    n = 900
    languages = np.array(["en", "de", "fr"] * (n // 3))
    y = rng.integers(0, 3, n)
    emb = np.eye(3, dtype=np.float32)[y] + rng.normal(scale=0.8, size=(n, 3)).astype(np.float32)
    good = np.full((n, 3), 0.1, np.float32)
    good[np.arange(n), y] = 0.8
    noise = rng.dirichlet([1, 1, 1], n).astype(np.float32)
    # The dense head is right on English rows only, the fast head on the others.
    p_dense = np.where((languages == "en")[:, None], good, noise)
    p_fast = np.where((languages == "en")[:, None], noise, good)
    fitted = _fit_stage(y, emb, p_fast, p_dense, 3, languages=languages)
    assert set(fitted.by_language) == set(BY_LANGUAGE) == {"en", "de"}
    # (the first blend on the grid that reaches the best F1 wins, so only the side is certain)
    assert fitted.by_language["en"][0] > 0.5 > fitted.by_language["de"][0] and fitted.blend < 0.5
    assert fitted.oof.shape == (n, 3)
    assert np.mean(fitted.oof.argmax(axis=1) == y) > 0.9


def test_fit_stage_shares_the_blend_when_a_language_has_few_rows() -> None:
    from townsquare.triage.train import MIN_ROWS_BY_LANGUAGE, _fit_stage

    rng = np.random.default_rng(3)
    n = MIN_ROWS_BY_LANGUAGE + 60  # enough English rows, 60 German ones: German shares the default
    languages = np.array(["en"] * MIN_ROWS_BY_LANGUAGE + ["de"] * 60)
    y = rng.integers(0, 3, n)
    p = rng.dirichlet([1, 1, 1], n).astype(np.float32)
    fitted = _fit_stage(y, np.eye(3, dtype=np.float32)[y], p, p, 3, languages=languages)
    assert set(fitted.by_language) == {"en"}
    assert fitted.oof.shape == (n, 3) and np.allclose(fitted.oof.sum(axis=1), 1.0, atol=1e-5)


def test_each_post_gets_the_blend_of_its_language_in_the_full_model(fake_encoders: dict[str, FakeEncoder]) -> None:
    """Through ``accurate_probabilities``: the languages reach ``blend_with`` row by row."""
    model = _model()
    negative = np.zeros((4, 3), np.float32)
    negative[:, 0] = 9.0  # the dense head says negative for any post
    sentiment = DenseHead(
        "sentiment",
        SENTIMENTS,
        negative,
        np.zeros(3, np.float32),
        False,
        0.0,  # others: the fast head only
        by_language={"de": (1.0, np.zeros(3, np.float32))},  # German: the dense head only
    )
    plain = AccurateModel(heads=(sentiment, model.heads[1]), config=model.config)
    fast = {
        "sentiment": np.tile([[0.1, 0.8, 0.1]], (3, 1)).astype(np.float32),
        "intent": np.full((3, 6), 0.1, np.float32),
    }
    probs, _ = triager_module.accurate_probabilities(plain, fast, ["a", "b", "c"], ["en", "de", "fr"])
    assert [SENTIMENTS[i] for i in probs["sentiment"].argmax(axis=1)] == ["neutral", "negative", "neutral"]


def test_the_shipped_model_carries_english_and_german_blends_in_both_stages() -> None:
    model = AccurateModel.load()
    assert model.cascade is not None
    for heads in (model.heads, model.cascade.heads):
        sentiment = next(h for h in heads if h.name == "sentiment")
        assert set(sentiment.by_language) == {"en", "de"}
        for blend, log_bias in sentiment.by_language.values():
            assert 0.0 <= blend <= 1.0 and log_bias.shape == (3,) and log_bias[1] == 0.0


def test_at_share_moves_the_sentiment_margin_along_the_training_quantiles() -> None:
    stage1 = _model().cascade
    assert stage1 is not None
    cascade = Cascade(
        stage1.encoders, stage1.heads, 0.2, 0.2, 0.5, margin_quantiles=tuple(np.linspace(0.0, 1.0, 101) ** 2)
    )
    assert cascade.at_share(0.5).sentiment_margin == pytest.approx(0.25)
    assert cascade.at_share(0.0).sentiment_margin == 0.0  # nothing routed by sentiment doubt
    assert cascade.at_share(1.0).sentiment_margin == float("inf")  # every post
    margins = [cascade.at_share(s).sentiment_margin for s in np.linspace(0, 1, 11)]
    assert margins == sorted(margins)
    assert cascade.at_share(0.3).complaint_margin == cascade.complaint_margin  # complaint doubt still routes
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        cascade.at_share(1.5)
    with pytest.raises(ValueError, match="townsquare train"):
        stage1.at_share(0.3)  # a model without the quantiles


def test_the_shipped_cascade_gives_its_own_margin_at_its_own_share() -> None:
    from townsquare.triage.train import CASCADE_SENTIMENT_QUANTILE

    cascade = AccurateModel.load().cascade
    assert cascade is not None and len(cascade.margin_quantiles) == 101
    assert cascade.at_share(CASCADE_SENTIMENT_QUANTILE).sentiment_margin == pytest.approx(cascade.sentiment_margin)


def test_a_triager_with_an_e5_share_routes_that_many_posts(fake_encoders: dict[str, FakeEncoder]) -> None:
    """e5_share 0: only posts unsure of complaint go on; 1: every post."""
    from townsquare.triage.schema import TriageInput

    base = _model()
    assert base.cascade is not None
    quantiles = tuple(np.linspace(0.0, 1.0, 101))
    cascade = Cascade(
        base.cascade.encoders, base.cascade.heads, 0.2, 0.0, 0.5, margin_quantiles=quantiles
    )  # complaint doubt off
    probes = {name: FakeEncoder(name).encode(ENCODER_PROBE_TEXTS) for name in ("use", "e5")}
    with_quantiles = AccurateModel(heads=base.heads, config=base.config, cascade=cascade, probes=probes)
    posts = [TriageInput(id="1", text="I am sure"), TriageInput(id="2", text="maybe")]
    for share, routed in ((0.0, []), (1.0, ["I am sure", "maybe"])):
        triager = triager_module.Triager("accurate", accurate=with_quantiles, e5_share=share)
        triager.load()  # checks the encoders against the probes
        fake_encoders["e5"].seen.clear()
        triager.triage(posts)
        assert fake_encoders["e5"].seen == routed
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        triager_module.Triager("accurate", e5_share=-0.1)
