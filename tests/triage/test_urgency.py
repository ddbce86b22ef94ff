from __future__ import annotations

import itertools

import pytest

from townsquare.triage import Signals, detect_signals, urgency_reasons, urgency_score
from townsquare.triage.urgency import REASON_FLOOR, urgency_terms

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
