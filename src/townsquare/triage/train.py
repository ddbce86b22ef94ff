"""Build ``fast.npz`` and ``accurate.npz`` from labelled data (``townsquare train``).

scikit-learn fits the linear heads here; only numpy arrays are written (see ``models.py``).
Every choice that is tuned (the language mix ``alpha``, the fast/accurate blend weights) is tuned
by cross-validation on the training data, never on the val/dev splits we report.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from . import data as datasets
from . import word_vectors
from .data import Labelled
from .features import HashedNgrams, document_frequency, weigh
from .language import LANGUAGE_FILE, FastTextLid, clean_for_language, combine
from .linear import FloatArray, quantize, sigmoid
from .models import ACCURATE_FILE, ENCODER_PROBE_TEXTS, FAST_FILE, WORD_HEAD_PREFIX, apply_log_bias, margin
from .schema import INTENTS, SENTIMENTS
from .sentiment_inputs import (
    LEXICON_LANGUAGE,
    lexicon_stack_inputs,
    sentiment_inputs,
    with_german_copy,
    word_stack_inputs,
)
from .word_vectors import WordVectors

# Inverse regularization strengths, chosen by cross-validation on the training splits
# (5-fold for the small sets, a fixed 300-per-language hold-out for sentiment); see docs/triage.md.
C_SENTIMENT = 3.0
C_LANGUAGE = 10.0
C_INTENT = 10.0
C_DENSE = 1.0
# The sentiment heads read three copies of the embedding plus lexicon scores (``sentiment_inputs``)
# and want more regularization than the bare embedding: C 1 was lower on XLM-T val, and among 0.2,
# 0.3 and 0.5 none won clearly (docs/triage.md, "What we tried for sentiment").
C_DENSE_SENTIMENT = 0.3
POOL_WEIGHT = 1.0  # weight of a fully confident teacher label relative to a gold label
# GermEval's posts outside our intent set, a complaint when negative: weak German complaint
# labels (our set has 40 German complaints, the complaint tweets none), and loose ones: in our
# set 38 % of GermEval's negative posts are complaints, 73 % of its complaints negative. The
# complaint column always trains on them at this weight and no CV scores them; fast mode's word
# head reads them through a German copy of its inputs, so they teach German without moving the
# English weights (docs/triage.md, "German complaints from weak labels").
WEAK_COMPLAINT_WEIGHT = 0.3
# Whether the accurate model's complaint heads (USE, e5) train on them too, or only the n-gram
# column they blend with: see docs/triage.md.
WEAK_COMPLAINTS_IN_EMBEDDING_HEADS = False
BLEND_GRID = tuple(round(0.1 * k, 1) for k in range(11))
BIAS_GRID = tuple(round(0.1 * k, 1) for k in range(-10, 11))
SENTIMENT_BIAS = True  # tune per-class decision biases for sentiment (5-fold CV on the training data)
# Languages whose sentiment rows get a blend and decision biases of their own (chosen out of fold
# on those rows only): on XLM-T val with the same heads, stage 1 English 0.671 -> 0.683 and German
# 0.684 -> 0.713, the full model 0.705 -> 0.700 and 0.726 -> 0.731, against one blend and bias for
# all languages (docs/triage.md, "Sentiment blends and decision biases, per language").
BY_LANGUAGE: tuple[str, ...] = ("en", "de")
MIN_ROWS_BY_LANGUAGE = 300  # fewer (a company's small labelled set): the shared blend and biases
# The accurate model's cascade: these encoders embed every post; the others (e5) only the
# posts that the first stage is least sure about: the 25 % least sure of their sentiment and the
# 10 % least sure of complaint or not, as quantiles of the stage-1 out-of-fold margins on the
# training rows (the two sets overlap). Complaint: 4.5 % gave complaint F1 0.818 in CV, 7 % 0.822
# (target 0.82), and with e5's layers 8-12 7 % 0.8154, 10 % 0.8204. Sentiment: out of fold on the
# training rows every language gains with the share sent to e5 (English 0.671 with none, 0.680
# at 15 %, 0.686 at 25 %, 0.709 at all; docs/triage.md, "How much goes to e5"), so the share is
# what the throughput target allows on a slow CPU. With e5 in numpy, 25 % kept only 1.0-1.1x the
# issue's 100 posts/s on an AVX2-only machine and the share was 15 %; e5 in 8 bits on ONNX
# Runtime (``e5_onnx``) takes 2.4x less time, so 25 % now costs less e5 time per post than 15 %
# did. Faster machines can send more (setting ``triage_e5_share``).
CASCADE_ENCODERS: tuple[str, ...] = ("use",)
CASCADE_SENTIMENT_QUANTILE = 0.25
CASCADE_COMPLAINT_QUANTILE = 0.10
ALPHA_GRID = tuple(round(0.1 * k, 1) for k in range(11))
SEED = 13

Progress = Callable[[str, int], Callable[[int], None]]
"""progress(description, total) -> advance(n): the command passes a rich progress bar."""


def no_progress(description: str, total: int) -> Callable[[int], None]:
    return lambda n: None


@dataclass
class TrainingSet:
    sentiment: list[Labelled] = field(default_factory=list)
    language: list[Labelled] = field(default_factory=list)
    complaint: list[Labelled] = field(default_factory=list)
    intents: list[Labelled] = field(default_factory=list)
    weak_complaint: list[Labelled] = field(default_factory=list)  # see ``weak_complaints``

    def sizes(self) -> dict[str, int]:
        return {k: len(v) for k, v in vars(self).items()}


def _limit(rows: Iterable[Labelled], limit: int | None, key: Callable[[Labelled], str]) -> list[Labelled]:
    """At most ``limit`` rows per key (language or source), sampled reproducibly."""
    rows = list(rows)
    if limit is None:
        return rows
    groups: dict[str, list[Labelled]] = {}
    for row in rows:
        groups.setdefault(key(row), []).append(row)
    rng = random.Random(SEED)
    out: list[Labelled] = []
    for group in groups.values():
        out.extend(rng.sample(group, min(limit, len(group))))
    return out


def collect(data_dir: Path | None, extra: Sequence[Path] = (), limit: int | None = None) -> TrainingSet:
    """The public training splits (if ``data_dir``), our intent set, and any labelled JSONL files."""
    ts = TrainingSet()
    if data_dir is not None:
        # Sentiment keeps each set's language: relabelling the English tweets of the Hindi and
        # German sets as English lowered English val macro-F1 by 1.5 points (their topics and
        # labelling differ from the English set's; docs/triage.md).
        ts.sentiment += _limit(datasets.xlmt(data_dir, "train"), limit, lambda r: r.language or "")
        # The language head learns each tweet with the language we found when we read it (the
        # Hindi set is a third English), so it learns romanized Hindi from Hindi tweets only.
        # Lines in other languages, or without words, teach it nothing.
        own_languages = set(datasets.XLMT_LANGUAGES.values())
        audited = datasets.xlmt(data_dir, "train", audited=True)
        ts.language += _limit([r for r in audited if r.language in own_languages], limit, lambda r: r.language or "")
        ts.sentiment += _limit(datasets.germeval(data_dir), limit, lambda r: r.source)
        ts.complaint += _limit(datasets.complaints(data_dir), limit, lambda r: r.source)
    own = datasets.intent_set()
    for path in extra:
        own += list(datasets.read_jsonl(path))
    own = _limit(own, limit, lambda r: r.source)
    ts.intents += [r for r in own if r.intents is not None]
    ts.sentiment += [r for r in own if r.sentiment is not None]
    ts.complaint += [r for r in own if r.complaint is not None]
    if data_dir is not None:
        germeval = _limit(datasets.germeval(data_dir), limit, lambda r: r.source)
        ts.weak_complaint += weak_complaints(germeval, (r.text for r in own))
    if not ts.sentiment or not ts.language:
        raise ValueError("no sentiment/language training data: pass --data with the shared data folder")
    return ts


def _matrix(featurizer: HashedNgrams, texts: Sequence[str], idf: FloatArray) -> Any:
    from scipy import sparse

    ids, offsets = featurizer.transform(texts)
    x = weigh(ids, offsets, featurizer.n_buckets, idf)
    return sparse.csr_matrix((x.vals, (x.rows, x.cols)), shape=(x.n_rows, featurizer.n_buckets))


def _logreg(c: float) -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=c, max_iter=3000, class_weight="balanced")


def _fit_softmax(x: Any, labels: Sequence[str], classes: Sequence[str], c: float) -> tuple[FloatArray, FloatArray]:
    y = np.array([classes.index(label) for label in labels])
    present = sorted(set(y.tolist()))
    clf = _logreg(c).fit(x, y)
    w = np.zeros((x.shape[1], len(classes)), dtype=np.float32)
    b = np.full(len(classes), -30.0, dtype=np.float32)  # a class absent from training is never chosen
    if len(present) == 2:  # sklearn gives one column for two classes
        w[:, present[1]] = clf.coef_[0] / 2
        w[:, present[0]] = -clf.coef_[0] / 2
        b[present[1]], b[present[0]] = clf.intercept_[0] / 2, -clf.intercept_[0] / 2
    else:
        for k, cls in enumerate(clf.classes_):
            w[:, cls] = clf.coef_[k]
            b[cls] = clf.intercept_[k]
    return w, b


def _fit_binary(
    x: Any, y: Sequence[bool], c: float, weights: Sequence[float] | None = None
) -> tuple[FloatArray, FloatArray]:
    y_arr = np.asarray(y, dtype=int)
    if y_arr.min() == y_arr.max():  # nothing to learn from: constant probability
        return np.zeros((x.shape[1], 1), np.float32), np.array([8.0 if y_arr[0] else -8.0], np.float32)
    clf = _logreg(c).fit(x, y_arr, sample_weight=None if weights is None else np.asarray(weights))
    return clf.coef_.T.astype(np.float32), clf.intercept_.astype(np.float32)


def complaint_rows(ts: TrainingSet) -> list[Labelled]:
    """Rows for the complaint column: the complaint tweets first, then our own set, one per text."""
    seen: set[str] = set()
    rows: list[Labelled] = []
    for r in ts.complaint + [r for r in ts.intents if r.complaint is not None]:
        if r.text not in seen:
            seen.add(r.text)
            rows.append(r)
    return rows


def weak_complaints(rows: Iterable[Labelled], exclude: Iterable[str] = ()) -> list[Labelled]:
    """Sentiment-labelled customer feedback as weak complaint labels: negative = complaint. Texts
    in ``exclude`` (those with gold intent labels) are left out."""
    skip = set(exclude)
    return [
        replace(r, complaint=r.sentiment == "negative", source=f"{r.source}:weak")
        for r in rows
        if r.sentiment is not None and r.text not in skip
    ]


def always_rows(ts: TrainingSet, column: str) -> list[Labelled]:
    """Rows that ``column`` always trains on (at ``WEAK_COMPLAINT_WEIGHT``) and no CV scores."""
    return ts.weak_complaint if column == "complaint" else []


def small_head_tasks(ts: TrainingSet) -> list[tuple[str, list[Labelled], list[bool]]]:
    """(column name, rows, targets) of every one-vs-rest column: the intents, spam, needs_reply."""
    tasks: list[tuple[str, list[Labelled], list[bool]]] = []
    for intent in INTENTS:
        if intent == "complaint":  # the complaint tweets add 2,800 examples for this column
            rows = complaint_rows(ts)
            tasks.append((intent, rows, [bool(r.complaint) for r in rows]))
        else:
            rows = [r for r in ts.intents if r.intents is not None]
            tasks.append((intent, rows, [intent in (r.intents or []) for r in rows]))
    for name in ("spam", "needs_reply"):
        rows = [r for r in ts.intents if getattr(r, name) is not None]
        tasks.append((name, rows, [bool(getattr(r, name)) for r in rows]))
    return tasks


@dataclass
class Pool:
    """Unlabelled posts with a teacher's probabilities per column (intents, spam, needs_reply)."""

    texts: list[str]
    probs: dict[str, FloatArray]


def pool_texts(data_dir: Path | None, exclude: Iterable[str] = (), limit: int | None = None) -> list[str]:
    """Real posts without our labels: the public sets' texts, minus our labelled ones."""
    if data_dir is None:
        return []
    skip = set(exclude)
    rows = _limit(
        list(datasets.xlmt(data_dir, "train"))
        + list(datasets.germeval(data_dir))
        + list(datasets.complaints(data_dir)),
        limit,
        lambda r: r.source,
    )
    return sorted({r.text for r in rows if r.text not in skip})


def teacher_pool(
    ts: TrainingSet, texts: Sequence[str], cache: EmbeddingCache, progress: Progress = no_progress
) -> Pool:
    """Label ``texts`` with embedding heads trained on our gold labels (the accurate model's heads).

    Why: 650 labelled posts are too few for n-gram features, which have to see each word; the
    sentence embeddings generalize from them. The fast heads then learn from 20,000 posts
    labelled this way plus the gold ones (knowledge distillation), and stay numpy-only at run time.
    """
    from sklearn.linear_model import LogisticRegression

    emb_pool = cache.embed(list(texts), progress)
    probs: dict[str, FloatArray] = {}
    for name, rows, y in small_head_tasks(ts):
        if len(set(y)) < 2:
            probs[name] = np.full(len(texts), 1.0 if y[0] else 0.0, np.float32)
            continue
        clf = LogisticRegression(C=C_DENSE, max_iter=3000, class_weight="balanced")
        clf.fit(cache.embed([r.text for r in rows]), np.asarray(y, dtype=int))
        probs[name] = clf.predict_proba(emb_pool)[:, 1].astype(np.float32)
    return Pool(list(texts), probs)


def fit_small_heads(
    ts: TrainingSet, featurizer: HashedNgrams, idf: FloatArray, pool: Pool | None = None
) -> list[tuple[str, tuple[str, ...], FloatArray, FloatArray]]:
    """The intent head (one column per intent) and the spam and needs_reply heads.

    With a ``pool``, each column also learns from the pool's posts, labelled by the teacher's
    decision and weighted by its confidence (|p - 0.5| * 2), so that unsure ones count little.
    """
    fitted = {}
    for name, rows, y in small_head_tasks(ts):
        texts = [r.text for r in rows]
        labels = list(y)
        weights = [1.0] * len(rows)
        # Not the complaint column: it has 2,800 gold tweets, and distilling it did not help
        # (5-fold CV: fast F1 0.772 -> 0.773) but made the accurate blend worse (0.827 -> 0.819).
        if pool is not None and pool.texts and name != "complaint":
            p = pool.probs[name]
            texts += pool.texts
            labels += (p >= 0.5).tolist()
            weights += (np.abs(p - 0.5) * 2 * POOL_WEIGHT).tolist()
        weak = always_rows(ts, name)
        texts += [r.text for r in weak]
        labels += [bool(r.complaint) for r in weak]
        weights += [WEAK_COMPLAINT_WEIGHT] * len(weak)
        fitted[name] = _fit_binary(_matrix(featurizer, texts, idf), labels, C_INTENT, weights)
    out = [
        (
            "intent",
            INTENTS,
            np.hstack([fitted[i][0] for i in INTENTS]),
            np.concatenate([fitted[i][1] for i in INTENTS]),
        )
    ]
    for name in ("spam", "needs_reply"):
        out.append((name, (name,), fitted[name][0], fitted[name][1]))
    return out


def _language_alpha(
    ts: TrainingSet, featurizer: HashedNgrams, idf: FloatArray, labels: Sequence[str], lexicon: Path = LANGUAGE_FILE
) -> float:
    """Pick the fastText/own-model mix on a hold-out of the training tweets and their 3-word snippets
    (with the romanized-Hindi list ``lexicon``, the one shipped next to the model being built)."""
    rng = random.Random(SEED)
    rows = list(ts.language)
    rng.shuffle(rows)
    cut = max(1, len(rows) // 5)
    held, fit = rows[:cut], rows[cut:]
    w, b = _fit_softmax(
        _matrix(featurizer, [r.text for r in fit], idf), [r.language or "" for r in fit], labels, C_LANGUAGE
    )
    texts, truth = [], []
    for r in held:
        texts.append(r.text)
        truth.append(r.language)
        words = clean_for_language(r.text).split()
        if len(words) >= 3:
            texts.append(" ".join(words[:3]))
            truth.append(r.language)
    from scipy.special import softmax as sp_softmax

    own = sp_softmax(_matrix(featurizer, texts, idf) @ w + b, axis=1)
    ft = FastTextLid(lexicon).distribution([clean_for_language(t) for t in texts])
    best, best_acc = 0.5, -1.0
    for alpha in ALPHA_GRID:
        hits = 0
        for k, dist in enumerate(ft):
            mixed = combine(dist, own[k], labels, alpha)
            hits += bool(mixed) and max(mixed, key=lambda lab: mixed[lab]) == truth[k]
        if hits / len(texts) > best_acc:
            best, best_acc = alpha, hits / len(texts)
    return best


C_LEXICON_STACK = 1.0


@dataclass(frozen=True)
class FittedStack:
    weights: FloatArray
    bias: FloatArray
    ngram_oof_macro_f1: float  # the n-gram head alone, out of fold, on the stacked rows
    oof_by_language: dict[str, dict[str, float]]  # ``stack_cv_by_language``


def fit_lexicon_stack(
    ts: TrainingSet,
    featurizer: HashedNgrams,
    idf: FloatArray,
    progress: Callable[[int], None] = lambda n: None,
    words: WordVectors | None = None,
) -> FittedStack | None:
    """Fast mode's sentiment stack (``models.LexiconStack``): the n-gram sentiment head refitted 5
    times, each time without a fifth of the rows it stacks (the other rows always in), gives each
    of them an out-of-fold probability; a logistic regression on those, VADER's scores for English
    posts and, with ``words``, the posts' e5 word vectors learns how far to trust each. With word
    vectors it stacks every sentiment row (every language); without, the English rows. Returns
    its weights, bias, and the out-of-fold macro-F1 of the n-gram head alone on those rows; None
    with fewer than ``MIN_ROWS_BY_LANGUAGE`` rows or a class missing (a quick ``--limit`` run):
    fast mode then keeps the n-gram head alone."""
    texts = [r.text for r in ts.sentiment]
    y = np.array([SENTIMENTS.index(r.sentiment or "") for r in ts.sentiment])
    languages = [r.language or "" for r in ts.sentiment]
    if words is not None:
        rows = np.arange(len(texts))
    else:
        rows = np.nonzero(np.array([lang == LEXICON_LANGUAGE for lang in languages]))[0]
    if len(rows) < MIN_ROWS_BY_LANGUAGE or len(set(y[rows].tolist())) < len(SENTIMENTS):
        return None
    x = _matrix(featurizer, texts, idf)
    p_oof = np.zeros((len(rows), len(SENTIMENTS)), np.float32)
    for fold in _folds(len(rows)):
        held_out = rows[fold]
        keep = np.setdiff1d(np.arange(len(texts)), held_out)
        model = _logreg(C_SENTIMENT).fit(x[keep], y[keep])
        p_oof[fold] = model.predict_proba(x[held_out])
        progress(1)
    stacked = [texts[i] for i in rows]
    if words is not None:
        inputs = word_stack_inputs(p_oof, words.embed(stacked), stacked, [languages[i] for i in rows])
    else:
        inputs = lexicon_stack_inputs(p_oof, stacked)
    stack = _logreg(C_LEXICON_STACK).fit(inputs, y[rows])
    return FittedStack(
        stack.coef_.T.astype(np.float32),
        stack.intercept_.astype(np.float32),
        _macro_f1(y[rows], p_oof.argmax(1), len(SENTIMENTS)),
        stack_cv_by_language(inputs, y[rows], p_oof, [languages[i] for i in rows]),
    )


def stack_cv_by_language(
    inputs: FloatArray, y: npt.NDArray[np.int64], p_ngram: FloatArray, languages: Sequence[str]
) -> dict[str, dict[str, float]]:
    """Out-of-fold macro-F1 per language of the stack (refitted 5 times on its own inputs, which are
    themselves out of fold) beside the n-gram head alone on the same rows: what the stack adds on
    posts it was not fitted on, written into the model's config."""
    pred = np.zeros(len(y), np.int64)
    for fold in _folds(len(y)):
        keep = np.setdiff1d(np.arange(len(y)), fold)
        pred[fold] = _logreg(C_LEXICON_STACK).fit(inputs[keep], y[keep]).predict(inputs[fold])
    lang = np.asarray(languages)
    return {
        code: {
            "stack": round(_macro_f1(y[lang == code], pred[lang == code], len(SENTIMENTS)), 4),
            "ngram_head": round(_macro_f1(y[lang == code], p_ngram[lang == code].argmax(1), len(SENTIMENTS)), 4),
        }
        for code in sorted(set(languages))
        if (lang == code).sum() >= MIN_ROWS_BY_LANGUAGE
    }


def build_word_vectors(ts: TrainingSet, cache: EmbeddingCache, progress: Progress = no_progress) -> WordVectors | None:
    """Fast mode's e5 word vectors (``word_vectors``) from the words of the training texts, as they
    will be read back from the weight file (int8), or None without e5 among the cache's encoders
    (``--encoders use``) or without words."""
    if "e5" not in cache.encoders:
        return None
    counts = word_vectors.vocabulary(r.text for r in ts.sentiment + ts.complaint + ts.intents)
    if not counts:
        return None
    built = word_vectors.build(counts, lambda batch: cache.embed(batch, progress, only=["e5"]))
    return WordVectors.from_arrays(built.arrays())


def train_fast(
    ts: TrainingSet,
    featurizer: HashedNgrams | None = None,
    progress: Progress = no_progress,
    pool: Pool | None = None,
    lexicon: Path = LANGUAGE_FILE,
    words: WordVectors | None = None,
    cache: EmbeddingCache | None = None,
) -> tuple[dict[str, npt.NDArray[Any]], dict[str, Any]]:
    """Fit every fast head; return the arrays and config of ``fast.npz``. ``words``: e5 word
    vectors for the sentiment stack and the word heads (``build_word_vectors``, ``fit_word_heads``);
    None stacks English with VADER only and fits no word heads."""
    featurizer = featurizer or HashedNgrams()
    steps = progress("fast model", 9)  # idf, language, sentiment, 3 small heads, mix, stack, word heads
    all_texts = [r.text for r in ts.sentiment + ts.complaint + ts.intents]
    ids, offsets = featurizer.transform(all_texts)
    idf = document_frequency(ids, offsets, featurizer.n_buckets)
    steps(1)

    blocks: list[tuple[str, tuple[str, ...], bool, FloatArray, FloatArray]] = []
    lang_labels = tuple(sorted({r.language or "" for r in ts.language}))
    x = _matrix(featurizer, [r.text for r in ts.language], idf)
    w, b = _fit_softmax(x, [r.language or "" for r in ts.language], lang_labels, C_LANGUAGE)
    blocks.append(("language", lang_labels, False, w, b))
    steps(1)

    x = _matrix(featurizer, [r.text for r in ts.sentiment], idf)
    w, b = _fit_softmax(x, [r.sentiment or "" for r in ts.sentiment], SENTIMENTS, C_SENTIMENT)
    blocks.append(("sentiment", SENTIMENTS, False, w, b))
    steps(1)

    for name, labels, w, b in fit_small_heads(ts, featurizer, idf, pool):
        blocks.append((name, labels, True, w, b))
        steps(1)

    alpha = _language_alpha(ts, featurizer, idf, lang_labels, lexicon)
    steps(1)
    stack = fit_lexicon_stack(ts, featurizer, idf, words=words)
    steps(1)
    word_heads = fit_word_heads(ts, featurizer, idf, words, pool, cache) if words is not None else None
    steps(1)

    heads, start = [], 0
    for name, labels, multilabel, w, _ in blocks:
        heads.append({"name": name, "labels": list(labels), "start": start, "multilabel": multilabel})
        start += w.shape[1]
    weights = np.hstack([blk[3] for blk in blocks])
    bias = np.concatenate([blk[4] for blk in blocks]).astype(np.float32)
    q, scale = quantize(weights)
    config = {
        "featurizer": featurizer.as_dict(),
        "heads": heads,
        "language_alpha": alpha,
        "spam_threshold": 0.5,
        "needs_reply_threshold": 0.5,
        "trained": datetime.now(UTC).strftime("%Y-%m-%d"),
        "training_examples": ts.sizes() | {"teacher_labelled_pool": len(pool.texts) if pool else 0},
        "c": {"sentiment": C_SENTIMENT, "language": C_LANGUAGE, "intent": C_INTENT},
    }
    arrays = {
        "config": np.array(json.dumps(config)),
        "idf": idf.astype(np.float16),
        "weights_q": q,
        "weights_scale": scale,
        "bias": bias,
    }
    if stack is not None:
        arrays["lexicon_W"], arrays["lexicon_b"] = stack.weights, stack.bias
        config["lexicon_stack"] = lexicon_stack_config(stack.ngram_oof_macro_f1, words) | {
            "oof_macro_f1_by_language": stack.oof_by_language
        }
    if words is not None:
        arrays |= words.arrays()
    if word_heads is not None:
        config["word_heads"], word_arrays = word_heads
        arrays |= word_arrays
    arrays["config"] = np.array(json.dumps(config))
    return arrays, config


def lexicon_stack_config(ngram_oof_macro_f1: float, words: WordVectors | None = None) -> dict[str, Any]:
    if words is None:
        return {
            "language": LEXICON_LANGUAGE,
            "inputs": "log p of the n-gram sentiment head (3) and 3 x VADER compound, pos, neg, neu (4)",
            "c": C_LEXICON_STACK,
            "ngram_head_oof_macro_f1": round(ngram_oof_macro_f1, 4),
        }
    return {
        "language": "all",
        "inputs": f"log p of the n-gram sentiment head (3), e5 word vectors (3 x {words.dims}: shared, "
        "English and German copies) and 3 x VADER for English posts (4)",
        "words": len(words.index),
        "c": C_LEXICON_STACK,
        "ngram_head_oof_macro_f1": round(ngram_oof_macro_f1, 4),
    }


DEFAULT_ENCODERS: tuple[str, ...] = ("use", "e5")


# Every cache file carries the vectors of ``ENCODER_PROBE_TEXTS``, embedded when it was written:
# a file whose probe vectors the installed encoder no longer gives was made by another encoder
# version or setup (a prefix, a text cleaning) and is not used. Keys are text hashes only, so
# without this check stale vectors would train heads that then see other vectors at run time.
# Stricter than the run-time check (``ENCODER_PROBE_TOLERANCE``): training vectors should be the
# very ones of this setup.
CACHE_PROBE_TOLERANCE = 1e-4

log = logging.getLogger(__name__)


class EmbeddingCache:
    """Sentence embeddings by text hash, one ``<directory>/<encoder>.npz`` per encoder, so that
    retraining and cross-validation do not embed the same 20,000 texts again. A file is used only
    when the installed encoder still gives its probe vectors (``ENCODER_PROBE_TEXTS``)."""

    def __init__(self, directory: Path | None, encoders: Sequence[str] = DEFAULT_ENCODERS) -> None:
        self.directory = directory
        self.encoders = tuple(encoders)
        self.vectors: dict[str, dict[str, FloatArray]] = {name: {} for name in self.encoders}
        self.discarded: list[str] = []  # encoders whose cache file was made by another encoder setup
        for name in self.encoders:
            path = self._path(name)
            if path is not None and path.exists():
                with np.load(path, allow_pickle=False) as data:
                    if not self._same_encoder(name, data):
                        log.warning("embedding cache %s was made by another %s setup; embedding again", path, name)
                        self.discarded.append(name)
                        continue
                    self.vectors[name] = dict(zip((str(k) for k in data["keys"]), data["vectors"], strict=True))

    @staticmethod
    def probe(name: str) -> FloatArray:
        """The installed encoder's vectors of ``ENCODER_PROBE_TEXTS``."""
        from .triager import shared_encoder

        return shared_encoder(name).encode(ENCODER_PROBE_TEXTS).astype(np.float32)

    def _same_encoder(self, name: str, data: Any) -> bool:
        if "probe" not in data.files:
            return False  # written before probes existed: nothing says which encoder made it
        saved = data["probe"]
        probe = self.probe(name)
        return bool(saved.shape == probe.shape and np.max(np.abs(saved - probe)) <= CACHE_PROBE_TOLERANCE)

    def _path(self, name: str) -> Path | None:
        return None if self.directory is None else self.directory / f"{name}.npz"

    @staticmethod
    def key(text: str) -> str:
        return hashlib.sha1(text.encode("utf-8"), usedforsecurity=False).hexdigest()

    def embed(
        self, texts: Sequence[str], progress: Progress = no_progress, only: Sequence[str] | None = None
    ) -> FloatArray:
        """Concatenated embeddings of ``texts`` by every encoder (or those in ``only``, in this
        cache's order), computing only the missing ones."""
        from .triager import shared_encoder

        parts = []
        for name in self.encoders:
            if only is not None and name not in only:
                continue
            store = self.vectors[name]
            todo = sorted({self.key(t): t for t in texts if self.key(t) not in store}.items())
            advance = progress(f"embedding ({name})", len(todo)) if todo else (lambda n: None)
            encoder = shared_encoder(name)
            for i in range(0, len(todo), 64):
                chunk = todo[i : i + 64]
                for (k, _), vec in zip(chunk, encoder.encode([t for _, t in chunk]), strict=True):
                    store[k] = vec
                advance(len(chunk))
            path = self._path(name)
            if todo and path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
                keys = np.array(list(store))
                np.savez(path, keys=keys, vectors=np.vstack([store[k] for k in keys]), probe=self.probe(name))
            if texts:
                parts.append(np.vstack([store[self.key(t)] for t in texts]))
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        return np.hstack(parts).astype(np.float32)


class Embedder(Protocol):
    """Where the cross-validation's dense heads read vectors from (``crossval``): an
    ``EmbeddingCache`` (the accurate heads) or fast mode's word vectors (``WordEmbedder``)."""

    def embed(
        self, texts: Sequence[str], progress: Progress = no_progress, only: Sequence[str] | None = None
    ) -> FloatArray: ...


@dataclass(frozen=True)
class WordEmbedder:
    """Fast mode's e5 word vectors (``word_vectors``) as an ``Embedder``, so that the
    cross-validation blends the word heads with the n-gram columns as it blends the accurate heads."""

    words: WordVectors

    def embed(
        self, texts: Sequence[str], progress: Progress = no_progress, only: Sequence[str] | None = None
    ) -> FloatArray:
        return self.words.embed(list(texts))


def _folds(n: int, k: int = 5) -> list[npt.NDArray[np.int64]]:
    order = np.random.RandomState(SEED).permutation(n)
    return [order[i::k] for i in range(k)]


def _macro_f1(y: npt.NDArray[np.int64], pred: npt.NDArray[np.int64], n_classes: int) -> float:
    f1s = []
    for c in range(n_classes):
        tp = np.sum((pred == c) & (y == c))
        denom = np.sum(pred == c) + np.sum(y == c)
        if np.sum(y == c):
            f1s.append(2 * tp / denom if denom else 0.0)
    return float(np.mean(f1s))


def _choose_blend(y: npt.NDArray[np.int64], p_fast: FloatArray, p_dense: FloatArray, n_classes: int) -> float:
    """The blend weight with the best out-of-fold macro-F1 (binary heads: F1 of the positive class)."""
    best, best_f1 = 1.0, -1.0
    for beta in BLEND_GRID:
        p = beta * p_dense + (1 - beta) * p_fast
        if n_classes == 1:
            pred = (p[:, 0] >= 0.5).astype(np.int64)
            f1 = _binary_f1(y, pred)
        else:
            f1 = _macro_f1(y, np.argmax(p, axis=1), n_classes)
        if f1 > best_f1 + 1e-9:
            best, best_f1 = beta, f1
    return best


def _binary_f1(y: npt.NDArray[np.int64], pred: npt.NDArray[np.int64]) -> float:
    tp = float(np.sum((pred == 1) & (y == 1)))
    denom = float(np.sum(pred == 1) + np.sum(y == 1))
    return 2 * tp / denom if denom else 0.0


def decision_bias(p: FloatArray, y: npt.NDArray[np.int64], grid: Sequence[float] = BIAS_GRID) -> FloatArray:
    """Per-class biases added to log p that give the best macro-F1 on ``(p, y)``.

    The middle class (neutral) stays at 0; the others are searched on ``grid``. Ties keep the
    bias nearest to 0.
    """
    logp = np.log(np.maximum(p, 1e-9))
    n = p.shape[1]
    best, best_f1 = np.zeros(n, np.float32), _macro_f1(y, np.argmax(logp, axis=1), n)
    for b0 in grid:
        for b2 in grid:
            bias = np.array([b0, 0.0, b2], dtype=np.float32)
            f1 = _macro_f1(y, np.argmax(logp + bias, axis=1), n)
            if f1 > best_f1 + 1e-9 or (abs(f1 - best_f1) <= 1e-9 and np.abs(bias).sum() < np.abs(best).sum()):
                best, best_f1 = bias, f1
    return best


@dataclass(frozen=True)
class Extra:
    """Rows a fit always adds to its own (``always_rows``), CV folds included, and never scores:
    their features ``x`` (sparse or dense, as the fit's), targets ``y``, at ``weight`` each."""

    x: Any
    y: npt.NDArray[np.int64]
    weight: float


def _fit_with(model: Any, x: Any, y: npt.NDArray[np.int64], extra: Extra | None) -> Any:
    """``model`` fitted on ``x, y`` and, at their weight, the ``extra`` rows."""
    if extra is None or not len(extra.y):
        return model.fit(x, y)
    from scipy import sparse

    stacked = sparse.vstack([x, extra.x]).tocsr() if sparse.issparse(x) else np.vstack([x, extra.x])
    weights = np.r_[np.ones(len(y)), np.full(len(extra.y), extra.weight)]
    return model.fit(stacked, np.r_[y, extra.y], sample_weight=weights)


def _oof(
    x_sparse: Any,
    embs: Sequence[FloatArray],
    y: npt.NDArray[np.int64],
    n_classes: int,
    progress: Callable[[int], None],
    c_dense: float = C_DENSE,
    extras: Sequence[Extra | None] = (),
) -> tuple[FloatArray, list[FloatArray]]:
    """Out-of-fold probabilities of the fast (sparse) model and of a dense model per embedding, 5
    folds; ``extras`` (sparse model first, then per embedding) join every fold's training rows."""
    extras = list(extras) or [None] * (1 + len(embs))
    width = 1 if n_classes == 2 else n_classes
    p_fast = np.zeros((len(y), width), dtype=np.float32)
    p_dense = [np.zeros((len(y), width), dtype=np.float32) for _ in embs]
    c_fast = C_SENTIMENT if n_classes == 3 else C_INTENT
    for test in _folds(len(y)):
        train = np.setdiff1d(np.arange(len(y)), test)
        if len(set(y[train].tolist())) >= 2:
            for model, xs, out, extra in zip(
                [_logreg(c_fast)] + [_logreg(c_dense) for _ in embs],
                [x_sparse, *embs],
                [p_fast, *p_dense],
                extras,
                strict=True,
            ):
                _fit_with(model, xs[train], y[train], extra)
                proba = model.predict_proba(xs[test])
                out[test] = proba[:, 1:2] if width == 1 else proba
        progress(1)
    return p_fast, p_dense


@dataclass
class _Fitted:
    weights: FloatArray
    bias: FloatArray
    blend: float
    log_bias: FloatArray | None
    oof: FloatArray  # out-of-fold blended probabilities (after the decision bias)
    by_language: dict[str, tuple[float, FloatArray]] = field(default_factory=dict)


def _blend_and_bias(
    y: npt.NDArray[np.int64], p_fast: FloatArray, p_dense: FloatArray, n_classes: int
) -> tuple[float, FloatArray | None, FloatArray]:
    """The blend weight and (sentiment) decision biases with the best out-of-fold macro-F1, and
    the out-of-fold probabilities they give."""
    blend = _choose_blend(y, p_fast, p_dense, 1 if n_classes == 2 else n_classes)
    oof = (blend * p_dense + (1 - blend) * p_fast).astype(np.float32)
    log_bias = None
    if n_classes == 3 and SENTIMENT_BIAS:
        log_bias = decision_bias(oof, y)
        oof = apply_log_bias(oof, log_bias)
    return blend, log_bias, oof


def _fit_stage(
    y: npt.NDArray[np.int64],
    emb: FloatArray,
    p_fast: FloatArray,
    p_dense: FloatArray,
    n_classes: int,
    c_dense: float = C_DENSE,
    languages: npt.NDArray[np.str_] | None = None,
    extra: Extra | None = None,
) -> _Fitted:
    """Fit the head on every row; choose its blend and decision biases out of fold. With
    ``languages``, the rows of each of ``BY_LANGUAGE`` get a blend and biases of their own, and the
    rest theirs."""
    if len(set(y.tolist())) < 2:
        w = np.zeros((emb.shape[1], 1), np.float32)
        b = np.array([8.0 if y[0] else -8.0], np.float32)
    else:
        clf = _fit_with(_logreg(c_dense), emb, y, extra)
        w, b = clf.coef_.T.astype(np.float32), clf.intercept_.astype(np.float32)
    own = [c for c in BY_LANGUAGE if languages is not None and _enough_rows(y[languages == c], n_classes)]
    if languages is None or not own:
        return _Fitted(w, b, *_blend_and_bias(y, p_fast, p_dense, n_classes))
    oof = np.zeros_like(p_dense)
    by_language: dict[str, tuple[float, FloatArray]] = {}
    for code in own:
        rows = languages == code
        blend, log_bias, oof[rows] = _blend_and_bias(y[rows], p_fast[rows], p_dense[rows], n_classes)
        assert log_bias is not None
        by_language[code] = (blend, log_bias)
    rest = ~np.isin(languages, own)
    # The other languages' blend and biases: chosen on their rows, or on all rows if they are few.
    chosen_on = rest if _enough_rows(y[rest], n_classes) else np.ones(len(y), dtype=bool)
    blend, log_bias, oof_rest = _blend_and_bias(y[chosen_on], p_fast[chosen_on], p_dense[chosen_on], n_classes)
    oof[rest] = oof_rest[rest[chosen_on]]
    return _Fitted(w, b, blend, log_bias, oof, by_language)


def _enough_rows(y: npt.NDArray[np.int64], n_classes: int) -> bool:
    """Enough out-of-fold rows to choose a blend and biases on: ``MIN_ROWS_BY_LANGUAGE``, every class."""
    return len(y) >= MIN_ROWS_BY_LANGUAGE and len(set(y.tolist())) == n_classes


def choose_cascade(
    sentiment_oof: FloatArray,
    complaint_oof: FloatArray,
    sentiment_quantile: float = CASCADE_SENTIMENT_QUANTILE,
    complaint_quantile: float = CASCADE_COMPLAINT_QUANTILE,
) -> tuple[float, float]:
    """Margins below which a post goes on to the full model: the quantiles ``sentiment_quantile``
    and ``complaint_quantile`` of the stage-1 out-of-fold margins on the training rows."""
    t_sent = float(np.quantile(margin(sentiment_oof), sentiment_quantile))
    t_comp = float(np.quantile(margin(complaint_oof), complaint_quantile))
    return round(t_sent, 4), round(t_comp, 4)


def margin_quantiles(sentiment_oof: FloatArray, steps: int = 100) -> list[float]:
    """The stage-1 out-of-fold sentiment margins at 0, 1/steps, ..., 1: stored with the cascade, so
    that a team can set another share of posts to send to e5 at run time (``Cascade.at_share``)."""
    return [round(float(v), 4) for v in np.quantile(margin(sentiment_oof), np.linspace(0.0, 1.0, steps + 1))]


def _head_arrays(fitted: dict[str, _Fitted], prefix: str) -> tuple[list[dict[str, Any]], dict[str, npt.NDArray[Any]]]:
    heads: list[dict[str, Any]] = []
    arrays: dict[str, npt.NDArray[Any]] = {}
    f = fitted["sentiment"]
    heads.append(
        {
            "name": "sentiment",
            "labels": list(SENTIMENTS),
            "multilabel": False,
            "blend": f.blend,
            "log_bias": None if f.log_bias is None else [round(float(v), 2) for v in f.log_bias],
            "language_inputs": True,
            "by_language": {
                code: {"blend": blend, "log_bias": [round(float(v), 2) for v in log_bias]}
                for code, (blend, log_bias) in f.by_language.items()
            },
        }
    )
    arrays[f"{prefix}W_sentiment"], arrays[f"{prefix}b_sentiment"] = f.weights, f.bias
    small_heads, small_arrays = _small_head_arrays(fitted, prefix)
    return heads + small_heads, arrays | small_arrays


def _small_head_arrays(
    fitted: dict[str, _Fitted], prefix: str
) -> tuple[list[dict[str, Any]], dict[str, npt.NDArray[Any]]]:
    """The intent, spam and needs_reply heads' config and arrays (``models._heads`` reads them)."""
    heads: list[dict[str, Any]] = []
    arrays: dict[str, npt.NDArray[Any]] = {}
    # One blend for the whole intent head (its columns are compared with each other by argmax):
    # the mean of the per-intent choices.
    intent_blend = round(float(np.mean([fitted[f"intent:{i}"].blend for i in INTENTS])), 2)
    heads.append({"name": "intent", "labels": list(INTENTS), "multilabel": True, "blend": intent_blend})
    arrays[f"{prefix}W_intent"] = np.hstack([fitted[f"intent:{i}"].weights for i in INTENTS])
    arrays[f"{prefix}b_intent"] = np.concatenate([fitted[f"intent:{i}"].bias for i in INTENTS])
    for name in ("spam", "needs_reply"):
        f = fitted[name]
        heads.append({"name": name, "labels": [name], "multilabel": True, "blend": f.blend})
        arrays[f"{prefix}W_{name}"], arrays[f"{prefix}b_{name}"] = f.weights, f.bias
    return heads, arrays


def fit_stages(
    name: str,
    labels: Sequence[str],
    rows: Sequence[Labelled],
    y: npt.NDArray[np.int64],
    featurizer: HashedNgrams,
    idf: FloatArray,
    cache: EmbeddingCache,
    cheap: Sequence[str] = (),
    advance: Callable[[int], None] = lambda n: None,
    always: Sequence[Labelled] = (),
) -> list[_Fitted]:
    """One head fitted for the full model and, with ``cheap`` encoders, for the cascade's first
    stage too, each with its blend and biases chosen out of fold (5 folds; ``advance`` per fold).
    The bench uses the out-of-fold probabilities to score the cascade on the training rows."""
    texts = [r.text for r in rows]
    embs = [cache.embed(texts)] + ([cache.embed(texts, only=cheap)] if cheap else [])
    c_dense = C_DENSE
    groups = None
    if name == "sentiment":
        languages = [r.language or "" for r in rows]
        embs = [sentiment_inputs(e, texts, languages) for e in embs]
        c_dense = C_DENSE_SENTIMENT
        groups = np.asarray(languages)
    x_sparse = _matrix(featurizer, texts, idf)
    n_classes = 2 if len(labels) == 1 else len(labels)
    extras: list[Extra | None] = [None] * (1 + len(embs))
    if always:  # one-column heads only (the complaint column's weak rows)
        always_texts = [r.text for r in always]
        always_y = np.array([bool(r.complaint) for r in always], dtype=np.int64)
        extras[0] = Extra(_matrix(featurizer, always_texts, idf), always_y, WEAK_COMPLAINT_WEIGHT)
        if WEAK_COMPLAINTS_IN_EMBEDDING_HEADS:
            only = [None] + ([cheap] if cheap else [])
            extras[1:] = [Extra(cache.embed(always_texts, only=o), always_y, WEAK_COMPLAINT_WEIGHT) for o in only]
    p_fast, p_dense = _oof(x_sparse, embs, y, n_classes, advance, c_dense, extras)
    return [
        _fit_stage(y, emb, p_fast, pd_, n_classes, c_dense, groups, extra)
        for emb, pd_, extra in zip(embs, p_dense, extras[1:], strict=True)
    ]


def fit_word_heads(
    ts: TrainingSet,
    featurizer: HashedNgrams,
    idf: FloatArray,
    words: WordVectors,
    pool: Pool | None = None,
    cache: EmbeddingCache | None = None,
) -> tuple[list[dict[str, Any]], dict[str, npt.NDArray[Any]]]:
    """Fast mode's heads on the e5 word vectors: every intent column, spam and needs_reply, each
    blended with its n-gram column at the weight with the best out-of-fold F1 (as the accurate
    heads are blended). With a ``pool`` and the ``cache`` its teacher reads, the n-gram side of
    that choice is the distilled column that ships (``fit_small_heads``), its teacher refitted
    per fold: against the plain n-gram column the blend over-trusted the word heads where
    distillation had done most (spam F1 in CV 0.787 -> 0.744 at the plain column's blend 0.6).
    In 5-fold CV complaint F1 on the complaint tweets went 0.772 -> 0.800 (docs/triage.md).
    The complaint column's weak German rows (``always_rows``) join every fold and the final fit,
    read through a German copy of the word vectors; the intent head then reads that copy, the
    other intent columns with zero weights for it."""
    fitted: dict[str, _Fitted] = {}
    for column, rows, targets in small_head_tasks(ts):
        key = column if column in ("spam", "needs_reply") else f"intent:{column}"
        texts = [r.text for r in rows]
        y = np.array(targets, dtype=np.int64)
        emb = words.embed(texts)
        weak = always_rows(ts, column)
        weak_y = np.array([bool(r.complaint) for r in weak], dtype=np.int64)
        weak_emb = np.zeros((0, emb.shape[1]), np.float32)
        if weak:  # the weak rows are German: a German copy keeps them off the shared weights
            emb = with_german_copy(emb, [r.language or "" for r in rows])
            weak_emb = with_german_copy(words.embed([r.text for r in weak]), [r.language or "" for r in weak])
        dense_extra = Extra(weak_emb, weak_y, WEAK_COMPLAINT_WEIGHT)
        sparse_extra = Extra(_matrix(featurizer, [r.text for r in weak], idf), weak_y, WEAK_COMPLAINT_WEIGHT)
        distilled = pool is not None and cache is not None and bool(pool.texts) and column != "complaint"
        p_fast = np.zeros((len(y), 1), np.float32)
        p_dense = np.zeros((len(y), 1), np.float32)
        for test in _folds(len(y)):
            train = np.setdiff1d(np.arange(len(y)), test)
            if len(set(y[train].tolist())) < 2:
                continue
            dense = _fit_with(_logreg(C_DENSE), emb[train], y[train], dense_extra)
            p_dense[test, 0] = dense.predict_proba(emb[test])[:, 1]
            train_texts, test_texts = [texts[i] for i in train], [texts[i] for i in test]
            if distilled:
                assert pool is not None and cache is not None
                p_fast[test, 0] = distilled_fit_predict(
                    featurizer, idf, train_texts, y[train], pool.texts, cache, test_texts
                )
            else:
                ngrams = _fit_with(_logreg(C_INTENT), _matrix(featurizer, train_texts, idf), y[train], sparse_extra)
                p_fast[test, 0] = ngrams.predict_proba(_matrix(featurizer, test_texts, idf))[:, 1]
        # a constant column when y has one class
        weights = [1.0] * len(y) + [WEAK_COMPLAINT_WEIGHT] * len(weak)
        w, b = _fit_binary(np.vstack([emb, weak_emb]), y.tolist() + weak_y.tolist(), C_DENSE, weights)
        blend = _choose_blend(y, p_fast, p_dense, 1)
        fitted[key] = _Fitted(w, b, blend, None, (blend * p_dense + (1 - blend) * p_fast).astype(np.float32))
    if any(f.weights.shape[0] == 2 * words.dims for f in fitted.values()):
        for key, f in fitted.items():  # the intent columns without a German copy: zero weights for it
            if key.startswith("intent:") and f.weights.shape[0] == words.dims:
                f.weights = np.vstack([f.weights, np.zeros_like(f.weights)])
    heads, arrays = _small_head_arrays(fitted, WORD_HEAD_PREFIX)
    for head in heads:  # the head reads ``[emb, emb·is_de]`` (``with_german_copy``)
        head["german_copy"] = arrays[f"{WORD_HEAD_PREFIX}W_{head['name']}"].shape[0] == 2 * words.dims
    return heads, arrays


def distilled_fit_predict(
    featurizer: HashedNgrams,
    idf: FloatArray,
    texts: Sequence[str],
    y: npt.NDArray[np.int64],
    pool: Sequence[str],
    cache: EmbeddingCache,
    test: Sequence[str],
) -> FloatArray:
    """An n-gram column distilled as ``fit_small_heads`` distils it, from ``texts`` alone: a teacher
    on their embeddings labels the ``pool`` (minus the ``test`` texts), the column learns from
    both, and its probabilities for ``test`` are returned."""
    held = set(test)
    fold_pool = [t for t in pool if t not in held]
    teacher = _logreg(C_DENSE).fit(cache.embed(list(texts)), y)
    p_pool = teacher.predict_proba(cache.embed(fold_pool))[:, 1].astype(np.float32)
    labels = y.tolist() + (p_pool >= 0.5).tolist()
    weights = [1.0] * len(texts) + (np.abs(p_pool - 0.5) * 2 * POOL_WEIGHT).tolist()
    w, b = _fit_binary(_matrix(featurizer, list(texts) + fold_pool, idf), labels, C_INTENT, weights)
    out: FloatArray = sigmoid(np.asarray(_matrix(featurizer, test, idf) @ w) + b)[:, 0]
    return out


def train_accurate(
    ts: TrainingSet,
    fast_arrays: dict[str, npt.NDArray[Any]],
    cache: EmbeddingCache,
    progress: Progress = no_progress,
) -> tuple[dict[str, npt.NDArray[Any]], dict[str, Any]]:
    """Fit embedding heads and choose each head's blend with the fast head by 5-fold CV.

    When the cache has both cheap (``CASCADE_ENCODERS``) and expensive encoders, a second set of
    heads on the cheap embeddings alone is fitted too: the cascade's first stage (see
    ``models.Cascade``), with its thresholds chosen from the out-of-fold margins.
    """
    config_fast = json.loads(str(fast_arrays["config"]))
    featurizer = HashedNgrams(**config_fast["featurizer"])
    idf = fast_arrays["idf"].astype(np.float32)

    tasks: list[tuple[str, tuple[str, ...], list[Labelled], npt.NDArray[np.int64]]] = []
    tasks.append(
        (
            "sentiment",
            SENTIMENTS,
            ts.sentiment,
            np.array([SENTIMENTS.index(r.sentiment or "") for r in ts.sentiment]),
        )
    )
    for column, column_rows, targets in small_head_tasks(ts):
        key = column if column in ("spam", "needs_reply") else f"intent:{column}"
        tasks.append((key, (column,), column_rows, np.array(targets, dtype=np.int64)))

    cheap = tuple(e for e in cache.encoders if e in CASCADE_ENCODERS)
    cascade = 0 < len(cheap) < len(cache.encoders)
    every_text = sorted({r.text for _, _, rows, _ in tasks for r in rows})
    cache.embed(every_text, progress)
    advance = progress("accurate heads (5-fold blend)", 6 * len(tasks))

    stages: list[dict[str, _Fitted]] = [{}, {}] if cascade else [{}]
    for name, labels, rows, y in tasks:
        always = always_rows(ts, name.removeprefix("intent:"))
        fitted = fit_stages(name, labels, rows, y, featurizer, idf, cache, cheap if cascade else (), advance, always)
        for stage, head in zip(stages, fitted, strict=True):
            stage[name] = head
        advance(1)

    heads, arrays = _head_arrays(stages[0], "")
    config: dict[str, Any] = {
        "encoders": list(cache.encoders),
        "heads": heads,
        "blend_per_intent": {i: stages[0][f"intent:{i}"].blend for i in INTENTS},
        "trained": datetime.now(UTC).strftime("%Y-%m-%d"),
        "c_dense": C_DENSE,
        "c_dense_sentiment": C_DENSE_SENTIMENT,
        "sentiment_bias_tuned_on": "5-fold CV on the training data" if SENTIMENT_BIAS else None,
    }
    if cascade:
        heads1, arrays1 = _head_arrays(stages[1], "stage1_")
        arrays |= arrays1
        t_sent, t_comp = choose_cascade(stages[1]["sentiment"].oof, stages[1]["intent:complaint"].oof)
        config["cascade"] = {
            "encoders": list(cheap),
            "heads": heads1,
            "sentiment_margin": t_sent,
            "complaint_margin": t_comp,
            "sentiment_margin_quantiles": margin_quantiles(stages[1]["sentiment"].oof),
            "budget": round(CASCADE_SENTIMENT_QUANTILE + CASCADE_COMPLAINT_QUANTILE, 4),
        }
    for name in cache.encoders:  # checked at load: the heads read these encoders' vectors
        arrays[f"probe_{name}"] = cache.probe(name)
    arrays["config"] = np.array(json.dumps(config))
    return arrays, config


def save(arrays: dict[str, npt.NDArray[Any]], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **arrays)  # type: ignore[arg-type]


def train(
    data_dir: Path | None,
    extra: Sequence[Path] = (),
    mode: str = "both",
    out_dir: Path | None = None,
    limit: int | None = None,
    embedding_cache: Path | None = None,
    progress: Progress = no_progress,
    encoders: Sequence[str] = DEFAULT_ENCODERS,
) -> dict[str, Any]:
    """Rebuild the weight files; returns a summary for the command to print."""
    ts = collect(data_dir, extra, limit)
    fast_path = (out_dir / FAST_FILE.name) if out_dir else FAST_FILE
    acc_path = (out_dir / ACCURATE_FILE.name) if out_dir else ACCURATE_FILE
    summary: dict[str, Any] = {"examples": ts.sizes()}
    cache = EmbeddingCache(embedding_cache, encoders)
    if cache.discarded:
        summary["embedding_cache_discarded"] = cache.discarded
    pool = teacher_pool(ts, pool_texts(data_dir, (r.text for r in ts.intents), limit), cache, progress)
    # The romanized-Hindi list that will ship with this model: the one just built into out_dir
    # (``townsquare train`` builds it first), else the package's.
    lexicon = out_dir / LANGUAGE_FILE.name if out_dir and (out_dir / LANGUAGE_FILE.name).exists() else LANGUAGE_FILE
    words = build_word_vectors(ts, cache, progress)
    fast_arrays, fast_config = train_fast(ts, progress=progress, pool=pool, lexicon=lexicon, words=words, cache=cache)
    save(fast_arrays, fast_path)
    summary["fast"] = {
        "path": str(fast_path),
        "bytes": fast_path.stat().st_size,
        "language_alpha": fast_config["language_alpha"],
        "word_head_blends": {h["name"]: h["blend"] for h in fast_config.get("word_heads", [])},
    }
    if mode in ("both", "accurate"):
        acc_arrays, acc_config = train_accurate(ts, fast_arrays, cache, progress)
        save(acc_arrays, acc_path)
        summary["accurate"] = {
            "path": str(acc_path),
            "bytes": acc_path.stat().st_size,
            "blend": {h["name"]: h["blend"] for h in acc_config["heads"]},
        }
    return summary
