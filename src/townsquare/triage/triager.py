"""The Triager: one batch of posts in, one ``TriageResult`` per post out."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Sequence
from typing import Literal, get_args

import numpy as np
import numpy.typing as npt

from .language import FastTextLid, clean_repaired, combine, decide, repair_encoding
from .linear import FloatArray
from .models import ENCODERS, MAX_CHARS, AccurateModel, Encoder, FastModel, Posts
from .personal_data import find_personal_data
from .schema import INTENTS, SENTIMENTS, CustomPattern, PersonalDataSpan, TriageInput, TriageResult
from .urgency import NO_COMPANY_WORDS, CompanyWords, detect_signals, urgency_reasons, urgency_score

# fast: n-gram heads, numpy only. accurate: the cascade (USE on every post, e5 on the posts it is
# unsure about; >= 100 posts/s on one core). full: USE + e5 on every post, the best figures at
# about a third of accurate's speed, for teams whose volume allows it (docs/triage.md).
Mode = Literal["fast", "accurate", "full"]
MODES: tuple[str, ...] = get_args(Mode)

_shared_lock = threading.Lock()
_lid: list[FastTextLid] = []
_encoders: dict[str, Encoder] = {}


def shared_lid() -> FastTextLid:
    """One fastText model per process, whatever the number of triagers."""
    with _shared_lock:
        if not _lid:
            _lid.append(FastTextLid())
        return _lid[0]


def shared_encoder(name: str) -> Encoder:
    """One instance of each sentence encoder per process."""
    with _shared_lock:
        if name not in _encoders:
            _encoders[name] = ENCODERS[name]()
        return _encoders[name]


def embed(names: Sequence[str], texts: Sequence[str]) -> FloatArray:
    """The concatenated embeddings of ``texts`` by the named encoders, in that order."""
    return np.hstack([shared_encoder(name).encode(texts) for name in names]).astype(np.float32)


def accurate_probabilities(
    accurate: AccurateModel,
    probs: dict[str, FloatArray],
    texts: Sequence[str],
    languages: Sequence[str],
    every_post: bool = False,
) -> tuple[dict[str, FloatArray], npt.NDArray[np.bool_]]:
    """The accurate model's probabilities, and which posts went through the full model.

    With a cascade, the cheap encoders (USE) embed every post and the expensive ones (e5) only
    the posts that stage 1 is unsure about; without one, or with ``every_post``, every post gets
    every encoder.
    ``languages`` (one code per post) feed the sentiment heads' language inputs.
    """
    cascade = accurate.cascade
    posts = Posts(texts, languages)
    if cascade is None or every_post:
        emb = embed(accurate.encoders, texts)
        return accurate.refine(probs, emb, posts), np.ones(len(texts), dtype=bool)
    cheap = {name: shared_encoder(name).encode(texts) for name in cascade.encoders}
    out = accurate.refine_stage1(probs, np.hstack([cheap[n] for n in cascade.encoders]).astype(np.float32), posts)
    unsure = cascade.uncertain(out)
    idx = np.flatnonzero(unsure)
    if idx.size:
        subset = [texts[int(i)] for i in idx]
        parts = [cheap[n][idx] if n in cheap else shared_encoder(n).encode(subset) for n in accurate.encoders]
        full = accurate.refine(
            {k: v[idx] for k, v in probs.items()},
            np.hstack(parts).astype(np.float32),
            Posts(subset, [languages[int(i)] for i in idx]),
        )
        for name, values in full.items():
            out[name] = out[name].copy()
            out[name][idx] = values
    return out, unsure


def _round(values: FloatArray, labels: Sequence[str]) -> dict[str, float]:
    return {label: round(float(v), 4) for label, v in zip(labels, values, strict=True)}


class Triager:
    """Batched and thread-safe: models load once (under a lock), scoring shares no mutable state."""

    def __init__(
        self,
        mode: Mode = "fast",
        patterns: Sequence[CustomPattern] = (),
        accurate: AccurateModel | None = None,
        e5_share: float | None = None,
        urgency_words: CompanyWords = NO_COMPANY_WORDS,
    ) -> None:
        """``accurate``: a model to use instead of the shipped ``accurate.npz`` (a benchmark's variant
        of it, say); its encoders are checked against it all the same. ``e5_share`` (accurate mode):
        about this share of posts goes on to e5 by sentiment doubt instead of the model's own
        (``Cascade.at_share``); None keeps the model's."""
        if e5_share is not None and not 0.0 <= e5_share <= 1.0:
            raise ValueError(f"the share of posts sent to e5 must lie in [0, 1], got {e5_share}")
        self.e5_share = e5_share
        self.mode: Mode = mode
        self.patterns: tuple[CustomPattern, ...] = tuple(patterns)
        self.urgency_words = urgency_words
        self._lock = threading.Lock()
        self._fast: FastModel | None = None
        self._given = accurate
        self._accurate: AccurateModel | None = None

    @property
    def model_id(self) -> str:
        """The mode and the digests of the weight files it runs ("fast 1a2b3c4d", "accurate
        1a2b3c4d-5e6f7a8b"; "e5 0.3" when the share sent to e5 is set; "custom" for a model given
        in memory): stored with every answer, so that a team comparing fast and accurate, or a
        retrained model with the shipped one, on its own customers can tell them apart."""
        fast, accurate = self._models()
        if accurate is None:
            return f"{self.mode} {fast.digest}"
        name = f"{self.mode} {fast.digest}-{accurate.digest or 'custom'}"
        if self.e5_share is not None and self.mode == "accurate":
            name += f" e5 {self.e5_share:g}"
        return name

    def load(self) -> None:
        """Load the weight files now (and, in accurate or full mode, check the encoders against them), so
        that a process with a missing or mismatched model fails when it starts, with the reason,
        instead of failing every batch it is given."""
        self._models()

    def _models(self) -> tuple[FastModel, AccurateModel | None]:
        with self._lock:
            if self._fast is None:
                self._fast = FastModel.load()
            if self.mode in ("accurate", "full") and self._accurate is None:
                accurate = self._given or AccurateModel.load()
                if self.e5_share is not None and self.mode == "accurate" and accurate.cascade is not None:
                    accurate = dataclasses.replace(accurate, cascade=accurate.cascade.at_share(self.e5_share))
                accurate.check_encoders({name: shared_encoder(name) for name in accurate.encoders})
                self._accurate = accurate
            return self._fast, self._accurate

    @staticmethod
    def _languages(
        items: Sequence[TriageInput], texts: Sequence[str], fast: FastModel, own: FloatArray
    ) -> list[tuple[str, float]]:
        """(language, confidence) per post: the hint when given (confidence 1.0), else detected."""
        out = [((item.language or "").lower(), 1.0) for item in items]
        need = [i for i, item in enumerate(items) if not item.language]
        # The first MAX_CHARS characters decide, as for the other heads: NFKC folding can make a
        # hostile post 18 times longer (one U+FDFA becomes 18 letters).
        cleaned = [clean_repaired(texts[i][:MAX_CHARS]) for i in need]
        ft = shared_lid().distribution(cleaned)
        labels = fast.head("language").labels
        alpha = float(fast.config.get("language_alpha", 0.5))
        for k, i in enumerate(need):
            out[i] = decide(combine(ft[k], own[i], labels, alpha), cleaned[k])
        return out

    def triage(self, items: Sequence[TriageInput]) -> list[TriageResult]:
        if not items:
            return []
        fast, accurate = self._models()
        # Mojibake ("StÃ¶rung") is repaired for every head, so that the models and the urgency
        # words read what the customer wrote; personal-data offsets stay on the text as received.
        # The heads read the first MAX_CHARS characters; the rest is kept, unrepaired, for the
        # urgency words, and a hostile megabyte of "Ã" costs no more than a post.
        texts = [repair_encoding(item.text[:MAX_CHARS]) + item.text[MAX_CHARS:] for item in items]
        probs = fast.predict(texts)
        languages = self._languages(items, texts, fast, probs["language"])
        # A hint may carry a region ("en-US", "de_AT"): the sentiment inputs want the language.
        codes = [code.replace("_", "-").split("-")[0] for code, _ in languages]
        if accurate is not None:
            # The accurate heads' blends were fitted on the n-gram head's own probabilities.
            probs, _ = accurate_probabilities(accurate, probs, texts, codes, every_post=self.mode == "full")
        else:
            probs = fast.refine(probs, texts, codes)

        spam_threshold = float(fast.config.get("spam_threshold", 0.5))
        reply_threshold = float(fast.config.get("needs_reply_threshold", 0.5))
        complaint_col = INTENTS.index("complaint")
        model = self.model_id
        results: list[TriageResult] = []
        for i, item in enumerate(items):
            language, confidence = languages[i]
            sentiment = probs["sentiment"][i]
            intent = probs["intent"][i]
            spam = bool(probs["spam"][i, 0] >= spam_threshold)
            needs_reply = bool(probs["needs_reply"][i, 0] >= reply_threshold) and not spam
            signals = detect_signals(texts[i], self.urgency_words)
            negative, complaint = float(sentiment[0]), float(intent[complaint_col])
            known = (negative, complaint, item.author_reach, signals, item.in_incident)
            urgency = 0.0 if spam else urgency_score(*known)
            reasons = [] if spam else urgency_reasons(*known)
            spans: list[PersonalDataSpan] = find_personal_data(item.text, self.patterns)
            results.append(
                TriageResult(
                    id=item.id,
                    language=language,
                    language_confidence=confidence,
                    sentiment=SENTIMENTS[int(np.argmax(sentiment))],
                    sentiment_scores=_round(sentiment, SENTIMENTS),
                    intent=INTENTS[int(np.argmax(intent))],
                    intent_scores=_round(intent, INTENTS),
                    spam=spam,
                    needs_reply=needs_reply,
                    urgency=urgency,
                    urgency_reasons=reasons,
                    personal_data=spans,
                    model=model,
                )
            )
        return results
