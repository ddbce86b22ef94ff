"""Triage of incoming posts: language, sentiment, intent, spam, needs-reply, urgency, personal data.

Importing this package is cheap: models load on the first ``Triager.triage`` call.

    from townsquare.triage import TriageInput, load_triager
    results = load_triager("fast").triage([TriageInput(id="1", text="Still down?")])
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from .guard import GuardDecision, check_public_reply
from .personal_data import find_personal_data
from .schema import CustomPattern, PersonalDataSpan, TriageInput, TriageResult, UrgencyReason
from .triager import MODES, Mode, Triager
from .urgency import Signals, detect_signals, urgency_reasons, urgency_score

__all__ = [
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

_cache: dict[tuple[str, tuple[CustomPattern, ...], float | None], Triager] = {}
_cache_lock = threading.Lock()


def load_triager(mode: Mode = "fast", patterns: Sequence[CustomPattern] = (), e5_share: float | None = None) -> Triager:
    """The process-wide triager for (mode, patterns, e5_share); models load lazily on first use."""
    if mode not in MODES:
        raise ValueError(f"unknown triage mode {mode!r}: use one of {', '.join(MODES)}")
    key = (mode, tuple(patterns), e5_share)
    with _cache_lock:
        if key not in _cache:
            _cache[key] = Triager(mode, patterns, e5_share=e5_share)
        return _cache[key]
