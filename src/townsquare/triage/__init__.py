"""Triage of incoming posts: language, sentiment, intent, spam, needs-reply, urgency, personal data.

Importing this package is cheap: models load on the first ``Triager.triage`` call.

    from townsquare.triage import TriageInput, load_triager
    results = load_triager("fast").triage([TriageInput(id="1", text="Still down?")])
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence

from .guard import GuardDecision, check_public_reply
from .personal_data import find_personal_data
from .schema import CustomPattern, PersonalDataSpan, TriageInput, TriageResult, UrgencyReason
from .triager import MODES, Mode, Triager
from .urgency import CompanyWords, Signals, detect_signals, urgency_reasons, urgency_score

__all__ = [
    "CompanyWords",
    "CustomPattern",
    "GuardDecision",
    "Mode",
    "PersonalDataSpan",
    "Signals",
    "TriageInput",
    "TriageResult",
    "Triager",
    "UrgencyReason",
    "check_public_reply",
    "detect_signals",
    "find_personal_data",
    "load_triager",
    "urgency_reasons",
    "urgency_score",
]

_cache: dict[tuple[str, tuple[CustomPattern, ...], float | None, CompanyWords], Triager] = {}
_cache_lock = threading.Lock()


def load_triager(
    mode: Mode = "fast",
    patterns: Sequence[CustomPattern] = (),
    e5_share: float | None = None,
    urgency_words: Mapping[str, Sequence[str]] | None = None,
) -> Triager:
    """The process-wide triager for (mode, patterns, e5_share, urgency_words); models load lazily
    on first use. ``urgency_words``: the company's own words per urgency topic (``CompanyWords``)."""
    if mode not in MODES:
        raise ValueError(f"unknown triage mode {mode!r}: use one of {', '.join(MODES)}")
    words = CompanyWords.of(urgency_words or {})
    key = (mode, tuple(patterns), e5_share, words)
    with _cache_lock:
        if key not in _cache:
            _cache[key] = Triager(mode, patterns, e5_share=e5_share, urgency_words=words)
        return _cache[key]
