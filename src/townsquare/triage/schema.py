"""The typed records that go in and out of triage."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, field_validator

Sentiment = Literal["negative", "neutral", "positive"]
SENTIMENTS: tuple[Sentiment, ...] = ("negative", "neutral", "positive")
INTENTS: tuple[str, ...] = (
    "complaint",
    "question",
    "request",
    "praise",
    "recommendation_request",
    "other",
)


def valid_unicode(value: str) -> str:
    """``value`` if it is text every model can read; a lone surrogate is refused.

    JSON may escape half of a surrogate pair on its own ("\\ud800"), and Python decodes it into a
    string that cannot be encoded: the n-gram features, fastText and the encoders all fail on it,
    and one such line used to end a whole ``townsquare triage`` run.
    """
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(f"not valid Unicode: a lone surrogate at character {exc.start}") from None
    return value


class PersonalDataSpan(BaseModel):
    """Personal data found in a text: ``text[start:end]`` is the value."""

    kind: str
    start: int
    end: int


class CustomPattern(BaseModel):
    """A company's own identifier (customer, contract, order number) as a regular expression."""

    model_config = {"frozen": True}

    kind: str
    regex: str


class TriageInput(BaseModel):
    id: str
    text: str
    # A hint from the network (the post's declared language, e.g. "de", "en-US"); the same bound
    # as a stored message's language.
    language: str | None = Field(default=None, max_length=16)
    author_reach: int | None = Field(default=None, ge=0)
    in_incident: bool = False

    @field_validator("id", "text", "language")
    @classmethod
    def _valid_unicode(cls, value: str | None) -> str | None:
        return None if value is None else valid_unicode(value)


UrgencyReasonName = Literal["mood", "reach", "safety", "fraud", "legal", "outage", "incident"]


class UrgencyReason(BaseModel):
    """One reason a post is urgent (``urgency.urgency_reasons``): its own urgency ``weight`` (the
    reasons combine by noisy-OR into ``urgency``) and what raised it: the word as the customer
    wrote it for a topic signal, the reach, or the sentiment and complaint probabilities."""

    reason: UrgencyReasonName
    weight: float
    evidence: str | None = None


class TriageResult(BaseModel):
    id: str
    language: str
    language_confidence: float
    sentiment: Sentiment
    sentiment_scores: dict[str, float]
    intent: str
    intent_scores: dict[str, float]
    spam: bool
    needs_reply: bool
    urgency: float
    # Strongest first; empty for spam and for a post with nothing urgent about it.
    urgency_reasons: list[UrgencyReason] = Field(default_factory=list)
    personal_data: list[PersonalDataSpan]
    # Which model answered: the mode and its weight files' digests ("accurate 1a2b3c4d-5e6f7a8b"),
    # kept with the stored answer so that the corrections report can tell models apart.
    model: str | None = None
