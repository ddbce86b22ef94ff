from __future__ import annotations

import itertools

import pytest

from townsquare.triage import Signals, detect_signals, urgency_reasons, urgency_score
from townsquare.triage.urgency import REASON_FLOOR, CompanyWords, urgency_terms

LEVELS = (0.0, 0.3, 0.7, 1.0)
REACHES = (None, 0, 100, 10_000, 1_000_000, 50_000_000)
SIGNALS = [Signals(*flags) for flags in itertools.product((False, True), repeat=4)]


def test_bounds() -> None:
    assert urgency_score() == 0.0
    top = urgency_score(1.0, 1.0, 10**9, Signals(True, True, True, True), True)
    assert 0.95 < top <= 1.0
    assert urgency_score(-5.0, 7.0, None) == urgency_score(0.0, 1.0, None)


@pytest.mark.parametrize("field", ["negative", "complaint"])
def test_monotone_in_probabilities(field: str) -> None:
    for other, reach, signals, incident in itertools.product(LEVELS, REACHES, SIGNALS[::5], (False, True)):
        scores = []
        for level in LEVELS:
            kwargs = {"negative": other, "complaint": other, field: level}
            scores.append(urgency_score(kwargs["negative"], kwargs["complaint"], reach, signals, incident))
        assert scores == sorted(scores)


def test_monotone_in_reach_signals_and_incident() -> None:
    for neg, comp in itertools.product(LEVELS, LEVELS):
        by_reach = [urgency_score(neg, comp, r) for r in REACHES]
        assert by_reach == sorted(by_reach)
        for s in SIGNALS:
            base = urgency_score(neg, comp, 100, s)
            assert urgency_score(neg, comp, 100, s, in_incident=True) >= base
            for name in ("safety", "fraud", "legal", "outage"):
                more = Signals(**{**s.__dict__, name: True})
                assert urgency_score(neg, comp, 100, more) >= base


def test_every_reason_raises_a_calm_post() -> None:
    calm = urgency_score(0.1, 0.1, 10)
    for name in ("safety", "fraud", "legal", "outage"):
        assert urgency_score(0.1, 0.1, 10, Signals(**{name: True})) > calm + 0.2
    assert urgency_score(0.1, 0.1, 10, in_incident=True) > calm + 0.2
    assert urgency_score(0.9, 0.9, 10) > calm + 0.3


@pytest.mark.parametrize(
    ("text", "signal"),
    [
        ("My charger caught fire last night", "safety"),
        ("Der Akku ist überhitzt, Rauch aus dem Gerät!", "safety"),
        ("Someone hacked my account and ordered stuff", "fraud"),
        ("Betrug! Doppelt abgebucht ohne Grund", "fraud"),
        ("I'm calling my lawyer tomorrow", "legal"),
        ("Ich schalte die Verbraucherzentrale ein", "legal"),
        ("is the app down again?", "outage"),
        ("Seit heute morgen Störung, kein Internet", "outage"),
        ("la connexion est en panne depuis hier", "outage"),
    ],
)
def test_signals(text: str, signal: str) -> None:
    assert getattr(detect_signals(text), signal)


def test_no_signals_in_plain_praise() -> None:
    assert detect_signals("Thanks, the new app is lovely!") == Signals()


def test_reasons_recombine_into_the_score_and_come_strongest_first() -> None:
    """The reasons are the noisy-OR's own terms: the ones shown, with those below the floor,
    give the score back; a reader can trust that nothing else moved it."""
    for signals in SIGNALS:
        for reach in REACHES:
            for incident in (False, True):
                args = (0.8, 0.6, reach, signals, incident)
                reasons = urgency_reasons(*args)
                weights = [r.weight for r in reasons]
                assert weights == sorted(weights, reverse=True)
                assert all(w >= REASON_FLOOR for w in weights)
                keep = 1.0
                for term in urgency_terms(*args).values():
                    keep *= 1 - term
                assert urgency_score(*args) == round(1 - keep, 4)
                shown = {r.reason for r in reasons}
                assert ("incident" in shown) == incident
                for name in ("safety", "fraud", "legal", "outage"):
                    assert (name in shown) == getattr(signals, name)


def test_reasons_name_the_word_as_the_customer_wrote_it() -> None:
    """The stem or phrase matched ("verletz") is widened to the end of its word, cut at 60 characters."""
    signals = detect_signals("Mein Kind hat sich VERLETZT, der Akku ist überhitzt! Ich gehe zum Anwalt.")
    reasons = {r.reason: r for r in urgency_reasons(0.9, 0.9, 12_400, signals)}
    assert reasons["safety"].evidence == "VERLETZT"
    assert reasons["legal"].evidence == "Anwalt"
    assert reasons["reach"].evidence == "12,400 followers"
    assert reasons["mood"].evidence == "negative 0.90, complaint 0.90"
    assert next(iter(reasons)) == "safety"  # 0.70, the strongest
    long = detect_signals("explo" + "x" * 500)
    assert long.evidence == (("safety", "explo" + "x" * 55),)


def test_a_calm_post_has_no_reasons() -> None:
    assert urgency_reasons(0.05, 0.05, 3, detect_signals("Thanks, the new app is lovely!")) == []


def test_company_words_add_to_a_topic_matched_like_the_built_in_stems() -> None:
    words = CompanyWords.of({"outage": ["Glasfaser", "5G"], "fraud": ["chargeback"]})
    signals = detect_signals("Der GLASFASERAUSFALL nervt", words)
    assert signals.outage and ("outage", "GLASFASERAUSFALL") in signals.evidence
    assert detect_signals("kein 5G hier", words).outage
    assert not detect_signals("kein 45G hier", words).outage  # at a word start only
    assert detect_signals("filed a Chargeback today", words).fraud
    assert not detect_signals("Der Glasfaserausfall nervt").outage  # not a built-in word
    # Plain text, not regular expressions: an admin's "(a+)+" is six characters to look for.
    assert not detect_signals("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!", CompanyWords.of({"safety": ["(a+)+$"]})).safety
    assert detect_signals("see (a+)+$ here", CompanyWords.of({"safety": ["(a+)+$"]})).safety


@pytest.mark.parametrize(
    ("words", "message"),
    [
        ({"weather": ["storm"]}, "not a topic; the topics are safety, fraud, legal, outage"),
        ({"outage": ["  "]}, "words have 1 to 64 characters"),
        ({"outage": ["x" * 65]}, "words have 1 to 64 characters"),
        ({"outage": ["x"] * 501}, "at most 500 words"),
    ],
)
def test_unusable_company_words_are_refused_with_the_reason(words: dict[str, list[str]], message: str) -> None:
    from pydantic import ValidationError

    from townsquare.config import Settings

    with pytest.raises(ValueError, match=message):
        CompanyWords.of(words)
    with pytest.raises(ValidationError, match=message):
        Settings(urgency_words=words)
