"""Cross-validated figures for the sets that have no held-out split here.

- the complaint tweets (Preotiuc-Pietro et al. 2019): 5-fold CV, F1 of the complaint class, as in
  the paper; fast = hashed n-grams + logistic regression blended with a logistic regression on
  fast mode's e5 word vectors, accurate = the n-grams blended with USE + e5 + logistic regression,
  each blend weight chosen by an inner 5-fold CV on the training folds only;
- our own intent set: 5-fold CV over the real posts; the written examples (see docs/triage.md)
  are always in the training folds and never scored;
- sentiment on the training rows themselves (XLM-T train, GermEval), the accurate cascade
  simulated out of fold: 5.7 times as many tweets per language as XLM-T val, so a steadier
  figure than val's for comparing builds.

Training here uses scikit-learn, like ``townsquare train``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from . import train as train_module
from .data import Labelled
from .evaluate import Report, score
from .features import HashedNgrams, document_frequency
from .linear import FloatArray, sigmoid
from .models import margin
from .schema import INTENTS, SENTIMENTS
from .sentiment_inputs import with_german_copy
from .train import (
    C_DENSE,
    C_INTENT,
    CASCADE_ENCODERS,
    CASCADE_SENTIMENT_QUANTILE,
    WEAK_COMPLAINT_WEIGHT,
    Embedder,
    EmbeddingCache,
    TrainingSet,
    WordEmbedder,
    _choose_blend,
    _fit_binary,
    _folds,
    _matrix,
    distilled_fit_predict,
    fit_small_heads,
    fit_stages,
    teacher_pool,
)
from .word_vectors import WordVectors


def _idf(featurizer: HashedNgrams, texts: Sequence[str]) -> FloatArray:
    ids, offsets = featurizer.transform(texts)
    return document_frequency(ids, offsets, featurizer.n_buckets)


def _dense_fit_predict(
    x_train: FloatArray, y_train: Sequence[bool], x_test: FloatArray, weights: Sequence[float] | None = None
) -> FloatArray:
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(C=C_DENSE, max_iter=3000, class_weight="balanced")
    clf.fit(x_train, np.asarray(y_train, dtype=int), sample_weight=None if weights is None else np.asarray(weights))
    out: FloatArray = clf.predict_proba(x_test)[:, 1].astype(np.float32)
    return out


def _sparse_fit_predict(
    featurizer: HashedNgrams,
    train: Sequence[str],
    y: Sequence[bool],
    test: Sequence[str],
    weights: Sequence[float] | None = None,
) -> FloatArray:
    idf = _idf(featurizer, train)
    w, b = _fit_binary(_matrix(featurizer, train, idf), list(y), C_INTENT, weights)
    z = np.asarray(_matrix(featurizer, test, idf) @ w).ravel() + b[0]
    return sigmoid(z.astype(np.float32).reshape(-1, 1))[:, 0]


@dataclass(frozen=True)
class AlwaysIn:
    """Rows every fold trains on and none scores, at ``weight`` each: the weak complaint labels
    (``train.weak_complaints``). ``embs``: their vectors per dense input, row for row (empty: the
    dense fits leave them out)."""

    texts: list[str]
    y: npt.NDArray[np.bool_]
    weight: float
    embs: list[FloatArray] = field(default_factory=list)

    def fit_predict_sparse(
        self, featurizer: HashedNgrams, texts: Sequence[str], y: Sequence[bool], test: Sequence[str]
    ) -> FloatArray:
        weights = [1.0] * len(texts) + [self.weight] * len(self.texts)
        return _sparse_fit_predict(featurizer, list(texts) + self.texts, list(y) + self.y.tolist(), test, weights)

    def fit_predict_dense(self, k: int, x: FloatArray, y: Sequence[bool], x_test: FloatArray) -> FloatArray:
        if not self.texts or not self.embs:
            return _dense_fit_predict(x, y, x_test)
        weights = [1.0] * len(x) + [self.weight] * len(self.texts)
        return _dense_fit_predict(np.vstack([x, self.embs[k]]), list(y) + self.y.tolist(), x_test, weights)


def _inner_blends(
    texts: list[str], embs: Sequence[FloatArray], y: list[bool], featurizer: HashedNgrams, always: AlwaysIn
) -> list[float]:
    """One blend weight per embedding, each chosen by 5-fold CV inside the training folds."""
    y_arr = np.asarray(y)
    p_fast = np.zeros(len(y), np.float32)
    p_dense = [np.zeros(len(y), np.float32) for _ in embs]
    for test in _folds(len(y)):
        train = np.setdiff1d(np.arange(len(y)), test)
        p_fast[test] = always.fit_predict_sparse(
            featurizer, [texts[i] for i in train], y_arr[train].tolist(), [texts[i] for i in test]
        )
        for k, (emb, out) in enumerate(zip(embs, p_dense, strict=True)):
            out[test] = always.fit_predict_dense(k, emb[train], y_arr[train].tolist(), emb[test])
    target = y_arr.astype(np.int64)
    return [_choose_blend(target, p_fast[:, None], pd[:, None], 1) for pd in p_dense]


@dataclass(frozen=True)
class CascadeCV:
    """How ``complaint_cv`` simulates the accurate model's cascade (``models.Cascade``): stage 1
    uses the ``cheap`` encoders' columns only; a tweet goes to the full model when its stage-1
    complaint probability is within ``complaint_margin / 2`` of 0.5, or when ``also_full`` (one
    flag per row: the shipped stage-1 sentiment head was unsure about it) says so."""

    cheap: tuple[str, ...]
    complaint_margin: float
    also_full: npt.NDArray[np.bool_] | None = None


def complaint_cv(
    rows: Sequence[Labelled],
    accurate: bool = False,
    cache: EmbeddingCache | None = None,
    pool: Sequence[str] = (),
    cascade: CascadeCV | None = None,
    words: WordVectors | None = None,
    weak: Sequence[Labelled] = (),
) -> dict[str, Any]:
    """5-fold CV on the complaint tweets; returns F1, precision, recall, accuracy (and blend weights).

    With ``pool`` texts, the n-gram model is distilled as in ``townsquare train``: a teacher on the
    training folds' embeddings labels the pool (minus the test fold's tweets). With ``cascade``
    (accurate only), each fold also fits the stage-1 model and routes as the triager does. With
    ``words`` (fast only), the n-gram column is blended with a head on those word vectors, as
    fast mode's word heads do (``train.fit_word_heads``). ``weak`` complaint labels join every
    fold's training rows as in ``townsquare train``: the n-gram column's always; fast's word head
    through a German copy of its inputs; accurate's embedding heads if
    ``train.WEAK_COMPLAINTS_IN_EMBEDDING_HEADS``.
    """
    if pool and weak:
        raise ValueError("complaint_cv: pool and weak together: the complaint column is not distilled (train.py)")
    featurizer = HashedNgrams()
    texts = [r.text for r in rows]
    y = np.array([bool(r.complaint) for r in rows])
    cache = cache or EmbeddingCache(None)
    dense: Embedder | None = cache if accurate else WordEmbedder(words) if words is not None else None
    emb = dense.embed(texts) if dense is not None else None
    emb1 = cache.embed(texts, only=cascade.cheap) if accurate and cascade is not None else None
    weak_texts = [r.text for r in weak]
    always = AlwaysIn(weak_texts, np.array([bool(r.complaint) for r in weak], dtype=bool), WEAK_COMPLAINT_WEIGHT)
    if dense is not None and emb is not None and weak_texts and not accurate:  # fast's word head: a German copy
        emb = with_german_copy(emb, [r.language or "" for r in rows])
        always.embs.append(with_german_copy(dense.embed(weak_texts), [r.language or "" for r in weak]))
    elif emb is not None and weak_texts and train_module.WEAK_COMPLAINTS_IN_EMBEDDING_HEADS:
        always.embs.append(cache.embed(weak_texts))
        if emb1 is not None and cascade is not None:
            always.embs.append(cache.embed(weak_texts, only=cascade.cheap))
    pred = np.zeros(len(rows), dtype=bool)
    routed = np.zeros(len(rows), dtype=bool)
    blends: list[float] = []
    for test in _folds(len(rows)):
        train = np.setdiff1d(np.arange(len(rows)), test)
        tr_texts = [texts[i] for i in train]
        te_texts = [texts[i] for i in test]
        if pool:
            held = set(te_texts)
            idf = _idf(featurizer, tr_texts + [t for t in pool if t not in held])
            p = distilled_fit_predict(featurizer, idf, tr_texts, y[train].astype(np.int64), pool, cache, te_texts)
        else:
            p = always.fit_predict_sparse(featurizer, tr_texts, y[train].tolist(), te_texts)
        if emb is not None:
            embs = [emb] if emb1 is None else [emb, emb1]
            betas = _inner_blends(tr_texts, [e[train] for e in embs], y[train].tolist(), featurizer, always)
            blends.append(betas[0])
            full = betas[0] * always.fit_predict_dense(0, emb[train], y[train].tolist(), emb[test]) + (1 - betas[0]) * p
            if emb1 is not None and cascade is not None:
                p1 = (
                    betas[1] * always.fit_predict_dense(1, emb1[train], y[train].tolist(), emb1[test])
                    + (1 - betas[1]) * p
                )
                go = np.abs(p1 - 0.5) * 2 < cascade.complaint_margin
                if cascade.also_full is not None:
                    go |= cascade.also_full[test]
                routed[test] = go
                full = np.where(go, full, p1)
            p = full
        pred[test] = p >= 0.5
    report = score(["c" if v else "n" for v in y], ["c" if v else "n" for v in pred], ["c", "n"])
    return {
        "f1": round(report.per_class["c"].f1, 4),
        "precision": round(report.per_class["c"].precision, 4),
        "recall": round(report.per_class["c"].recall, 4),
        "accuracy": round(report.accuracy, 4),
        "macro_f1": round(report.macro_f1, 4),
        "n": len(rows),
        "blend_per_fold": blends,
        "routed_to_full": round(float(routed.mean()), 4) if emb1 is not None else None,
    }


def intent_cv(
    intents: Sequence[Labelled],
    complaints: Sequence[Labelled],
    accurate: bool = False,
    cache: EmbeddingCache | None = None,
    blend: float | dict[str, float] = 0.5,
    pool: Sequence[str] = (),
    words: WordVectors | None = None,
    weak: Sequence[Labelled] = (),
) -> tuple[dict[str, dict[str, Report]], dict[str, float]]:
    """5-fold CV over the real posts of the intent set.

    Each fold trains the intent/spam/needs_reply heads exactly as ``townsquare train`` does (the
    complaint column also on the complaint tweets, minus any tweet in the test fold). Returns
    {task: {"all"|language: Report}} for intent (first label), spam and needs_reply, and the
    lenient intent accuracy (prediction is any of the post's labels). With ``pool`` texts, the
    fast heads learn from them as labelled by a teacher trained on the fold's training rows, as
    ``townsquare train`` does (test-fold posts are removed from the pool). ``blend``: the weight
    of the dense heads (accurate: the embeddings'; fast with ``words``: the word heads'), one for
    all or one per head (intent, spam, needs_reply) as the weight file has them.
    """
    real = [r for r in intents if r.extra.get("origin", "real") == "real"]
    written = [r for r in intents if r.extra.get("origin", "real") != "real"]
    featurizer = HashedNgrams()
    predictions: dict[int, tuple[str, bool, bool]] = {}
    cache = cache or EmbeddingCache(None)
    for test in _folds(len(real)):
        test_set = {int(i) for i in test}
        train_rows = [r for i, r in enumerate(real) if i not in test_set] + written
        test_rows = [real[i] for i in sorted(test_set)]
        held = {r.text for r in test_rows}
        ts = TrainingSet(
            intents=train_rows,
            complaint=[c for c in complaints if c.text not in held],
            weak_complaint=[r for r in weak if r.text not in held],
        )
        idf = _idf(featurizer, [r.text for r in train_rows + ts.complaint])
        fold_pool = None
        if pool:
            fold_pool = teacher_pool(ts, [t for t in pool if t not in held], cache)
        heads = {name: (w, b) for name, _, w, b in fit_small_heads(ts, featurizer, idf, fold_pool)}
        x = _matrix(featurizer, [r.text for r in test_rows], idf)
        probs = {name: sigmoid(np.asarray(x @ w, dtype=np.float32) + b) for name, (w, b) in heads.items()}
        if accurate:
            probs = _blend_dense(
                ts, test_rows, probs, cache, blend, train_module.WEAK_COMPLAINTS_IN_EMBEDDING_HEADS, False
            )
        elif words is not None:
            probs = _blend_dense(ts, test_rows, probs, WordEmbedder(words), blend, True, True)
        for k, i in enumerate(sorted(test_set)):
            predictions[i] = (
                INTENTS[int(np.argmax(probs["intent"][k]))],
                bool(probs["spam"][k, 0] >= 0.5),
                bool(probs["needs_reply"][k, 0] >= 0.5),
            )
    out: dict[str, dict[str, Report]] = {}
    tasks = {
        "intent": ([(r.intents or ["other"])[0] for r in real], [predictions[i][0] for i in range(len(real))], INTENTS),
        "spam": (
            ["spam" if r.spam else "not" for r in real],
            ["spam" if predictions[i][1] else "not" for i in range(len(real))],
            ("spam", "not"),
        ),
        "needs_reply": (
            ["reply" if r.needs_reply else "no" for r in real],
            ["reply" if predictions[i][2] else "no" for i in range(len(real))],
            ("reply", "no"),
        ),
    }
    for task, (truth, pred, labels) in tasks.items():
        out[task] = {"all": score(truth, pred, labels)}
        for lang in ("de", "en"):
            idx = [i for i, r in enumerate(real) if r.language == lang]
            out[task][lang] = score([truth[i] for i in idx], [pred[i] for i in idx], labels)
    lenient = float(np.mean([predictions[i][0] in (r.intents or []) for i, r in enumerate(real)]))
    return out, {"lenient_intent_accuracy": round(lenient, 4)}


def _blend_dense(
    ts: TrainingSet,
    test_rows: Sequence[Labelled],
    probs: dict[str, npt.NDArray[np.float32]],
    cache: Embedder,
    blend: float | dict[str, float],
    with_always: bool,
    german_copy: bool,
) -> dict[str, npt.NDArray[np.float32]]:
    """The dense columns fitted on ``ts`` (``with_always``: and a column's ``always_rows`` at their
    weight, read through a German copy of the inputs with ``german_copy``, as fast mode's word
    heads read them) and blended into ``probs`` for ``test_rows``."""
    from .train import always_rows, small_head_tasks

    blends = blend if isinstance(blend, dict) else dict.fromkeys(("intent", "spam", "needs_reply"), blend)
    test_emb = cache.embed([r.text for r in test_rows])
    cols: dict[str, FloatArray] = {}
    for name, rows, y in small_head_tasks(ts):
        if len(set(y)) < 2:
            cols[name] = np.full(len(test_rows), 1.0 if y[0] else 0.0, np.float32)
            continue
        weak = always_rows(ts, name) if with_always else []
        if not weak:
            cols[name] = _dense_fit_predict(cache.embed([r.text for r in rows]), y, test_emb)
            continue
        train_rows = list(rows) + weak
        emb, x_test = cache.embed([r.text for r in train_rows]), test_emb
        if german_copy:
            emb = with_german_copy(emb, [r.language or "" for r in train_rows])
            x_test = with_german_copy(test_emb, [r.language or "" for r in test_rows])
        weights = [1.0] * len(rows) + [WEAK_COMPLAINT_WEIGHT] * len(weak)
        cols[name] = _dense_fit_predict(emb, list(y) + [bool(r.complaint) for r in weak], x_test, weights)
    out = dict(probs)
    dense_intent = np.stack([cols[i] for i in INTENTS], axis=1)
    out["intent"] = (blends["intent"] * dense_intent + (1 - blends["intent"]) * probs["intent"]).astype(np.float32)
    for name in ("spam", "needs_reply"):
        out[name] = (blends[name] * cols[name][:, None] + (1 - blends[name]) * probs[name]).astype(np.float32)
    return out


@dataclass(frozen=True)
class SentimentCV:
    """Out-of-fold sentiment macro-F1 per language of the cascade, its stage 1 and its full model."""

    cascade: dict[str, float]
    stage1: dict[str, float]
    full: dict[str, float]
    routed: float  # share of the rows sent to the full model by sentiment doubt
    rows: dict[str, int]


@dataclass(frozen=True)
class SentimentOOF:
    """Both stages' out-of-fold sentiment probabilities on the accurate model's training rows
    (``fit_stages``: 5 folds, blends and biases chosen on the out-of-fold probabilities, which
    flatters both stages a little and alike), from which the cascade can be scored at any share
    of rows sent to the full model without fitting again."""

    y: npt.NDArray[np.int64]
    full: FloatArray
    first: FloatArray
    language: npt.NDArray[np.str_]
    tweets: npt.NDArray[np.bool_]  # the XLM-T training tweets: the rows that are scored

    def threshold(self, share: float) -> float:
        """The stage-1 sentiment margin below which ``share`` of the rows go on (``choose_cascade``'s rule)."""
        return float("inf") if share >= 1 else float(np.quantile(margin(self.first), share))

    def routed(self, share: float) -> npt.NDArray[np.bool_]:
        if share >= 1:
            return np.ones(len(self.y), dtype=bool)
        routed: npt.NDArray[np.bool_] = margin(self.first) < self.threshold(share)
        return routed

    def by_language(self, pred: npt.NDArray[np.int64]) -> dict[str, float]:
        out = {}
        for code in sorted(set(self.language[self.tweets].tolist())):
            pick = self.tweets & (self.language == code)
            truth = [SENTIMENTS[i] for i in self.y[pick]]
            out[code] = round(score(truth, [SENTIMENTS[i] for i in pred[pick]]).macro_f1, 4)
        return out

    def cascade(self, share: float) -> dict[str, float]:
        """Macro-F1 per set language when the ``share`` least sure rows get the full model's answer."""
        return self.by_language(np.where(self.routed(share), self.full.argmax(1), self.first.argmax(1)))

    def cv(self, share: float) -> SentimentCV:
        codes = sorted(set(self.language[self.tweets].tolist()))
        return SentimentCV(
            cascade=self.cascade(share),
            stage1=self.by_language(self.first.argmax(1)),
            full=self.by_language(self.full.argmax(1)),
            routed=round(float(self.routed(share).mean()), 4),
            rows={code: int((self.tweets & (self.language == code)).sum()) for code in codes},
        )


def sentiment_oof(
    rows: Sequence[Labelled], featurizer: HashedNgrams, idf: FloatArray, cache: EmbeddingCache
) -> SentimentOOF:
    """Fit the accurate model's sentiment stages as ``townsquare train`` does and keep their
    out-of-fold probabilities; scored on the XLM-T training tweets, per set language."""
    y = np.array([SENTIMENTS.index(r.sentiment or "") for r in rows])
    full, first = fit_stages("sentiment", SENTIMENTS, rows, y, featurizer, idf, cache, CASCADE_ENCODERS)
    return SentimentOOF(
        y=y,
        full=full.oof,
        first=first.oof,
        language=np.array([r.language or "" for r in rows]),
        tweets=np.array([r.source == "xlmt-train" for r in rows]),
    )


def sentiment_cascade_cv(
    rows: Sequence[Labelled],
    featurizer: HashedNgrams,
    idf: FloatArray,
    cache: EmbeddingCache,
    quantile: float = CASCADE_SENTIMENT_QUANTILE,
) -> SentimentCV:
    """The accurate model's sentiment out of fold on its own training rows (``sentiment_oof``). A
    row goes to the full model when its stage-1 margin is below the ``quantile`` of all rows'
    margins, as ``choose_cascade`` sets the shipped threshold (1: every row); complaint doubt,
    which also routes posts, is left out."""
    return sentiment_oof(rows, featurizer, idf, cache).cv(quantile)
