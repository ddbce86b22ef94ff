from __future__ import annotations

import itertools

import pytest

from townsquare.triage import Signals, detect_signals, urgency_score

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
