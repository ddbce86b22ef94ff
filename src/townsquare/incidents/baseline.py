"""What normal traffic looks like: volume by time of day and each term's usual share.

The expected rate of reports carrying a term ``f`` at time ``t`` is factorised as

    expected(f, t) = share(f) * volume(hour_of_day(t))

``volume`` is the usual number of problem reports per hour at that hour of the day (an EWMA over
days, as Downdetector compares report volume with the usual volume for the time of day), and
``share(f)`` is the long-run fraction of reports that carry ``f``. One number per term keeps the
memory small with a large vocabulary, where a per-term, per-hour table would not.
"""

from __future__ import annotations

import math
from typing import Any, Final

_HOUR: Final = 3600.0
_REBASE_AFTER: Final = 60.0  # exp(60) is far from overflow; rebase before values get huge


class DecayingCounts:
    """Many exponentially decaying counters sharing one clock.

    Values are stored inflated by ``exp((t - origin) / mean_life)`` so that adding is one
    multiplication and no per-key timestamp is needed; reading deflates. ``rebase`` moves the
    origin forward (and drops counters that have decayed to nothing) before the inflation factor
    grows too large.
    """

    def __init__(self, mean_life_s: float, prune_below: float = 0.01) -> None:
        self.mean_life_s = mean_life_s
        self.prune_below = prune_below
        self.origin = 0.0
        self.values: dict[str, float] = {}
        self.total = 0.0

    def scale(self, t: float) -> float:
        """Inflation factor at time ``t``; rebases first when it would get too large."""
        exponent = (t - self.origin) / self.mean_life_s
        if exponent > _REBASE_AFTER or (not self.values and exponent > 1.0):
            self.rebase(t)
            exponent = 0.0
        return math.exp(exponent)

    def rebase(self, t: float) -> None:
        factor = math.exp(-(t - self.origin) / self.mean_life_s)
        floor = self.prune_below
        self.values = {key: value * factor for key, value in self.values.items() if value * factor >= floor}
        self.total *= factor
        self.origin = t

    def add(self, keys: frozenset[str] | set[str], scale: float) -> None:
        values = self.values
        for key in keys:
            values[key] = values.get(key, 0.0) + scale
        self.total += scale

    def remove(self, keys: frozenset[str] | set[str], t_added: float) -> None:
        """Take back what :meth:`add` added at time ``t_added`` (never below zero)."""
        amount = math.exp((t_added - self.origin) / self.mean_life_s)
        values = self.values
        for key in keys:
            value = values.get(key)
            if value is not None:
                values[key] = max(0.0, value - amount)
        self.total = max(0.0, self.total - amount)

    def get(self, key: str, scale: float) -> float:
        """Current value of ``key``; ``scale`` is :meth:`scale` at the current time."""
        return self.values.get(key, 0.0) / scale

    def current_total(self, scale: float) -> float:
        return self.total / scale

    def to_json(self) -> dict[str, Any]:
        return {"origin": self.origin, "total": self.total, "values": self.values}

    def load_json(self, data: dict[str, Any]) -> None:
        self.origin = float(data["origin"])
        self.total = float(data["total"])
        self.values = {str(key): float(value) for key, value in data["values"].items()}


class VolumeProfile:
    """Usual number of problem reports per hour, for each hour of the day (UTC).

    Each finished hour updates its slot by an EWMA over days; until a slot has been seen once,
    the rate of the last few hours stands in for it.
    """

    def __init__(self, day_weight: float = 0.3, slots: int = 24) -> None:
        self.day_weight = day_weight
        self.slot_rates: list[float | None] = [None] * slots
        self.hour: int | None = None
        self.hour_count = 0.0
        self.hour_started = 0.0  # first observed time within the current hour
        self.first_seen = 0.0
        self.recent = DecayingCounts(mean_life_s=3 * _HOUR)

    def add(self, t: float) -> None:
        self._roll(t)
        self.hour_count += 1.0
        self.recent.add(frozenset(), self.recent.scale(t))

    def _roll(self, t: float) -> None:
        hour = int(t // _HOUR)
        if self.hour is None:
            self.hour, self.hour_started, self.first_seen = hour, t, t
            return
        if hour <= self.hour:
            return
        # A partly observed first hour is scaled up to a full hour.
        observed = (self.hour + 1) * _HOUR - self.hour_started
        self._finish(self.hour, self.hour_count * _HOUR / max(observed, 60.0))
        for empty in range(max(self.hour + 1, hour - len(self.slot_rates)), hour):
            self._finish(empty, 0.0)
        self.hour, self.hour_count, self.hour_started = hour, 0.0, hour * _HOUR

    def _finish(self, hour: int, count: float) -> None:
        slot = hour % len(self.slot_rates)
        old = self.slot_rates[slot]
        self.slot_rates[slot] = count if old is None else old + self.day_weight * (count - old)

    def per_hour(self, t: float) -> float:
        """Expected problem reports per hour at time ``t``."""
        self._roll(t)
        slot_rate = self.slot_rates[int(t // _HOUR) % len(self.slot_rates)]
        if slot_rate is not None:
            return slot_rate
        # Rate of the hours seen so far; the decayed total of a constant rate r after `elapsed`
        # seconds is r * mean_life * (1 - exp(-elapsed / mean_life)), so divide by that.
        recent = self.recent
        elapsed = max(t - self.first_seen, 60.0)
        life = recent.mean_life_s
        return recent.current_total(recent.scale(t)) * _HOUR / (life * -math.expm1(-elapsed / life))

    def to_json(self) -> dict[str, Any]:
        return {
            "slot_rates": self.slot_rates,
            "hour": self.hour,
            "hour_count": self.hour_count,
            "hour_started": self.hour_started,
            "first_seen": self.first_seen,
            "recent": self.recent.to_json(),
        }

    def load_json(self, data: dict[str, Any]) -> None:
        self.slot_rates = [None if rate is None else float(rate) for rate in data["slot_rates"]]
        self.hour = None if data["hour"] is None else int(data["hour"])
        self.hour_count = float(data["hour_count"])
        self.hour_started = float(data["hour_started"])
        self.first_seen = float(data["first_seen"])
        self.recent.load_json(data["recent"])


def poisson_log10_sf(k: int, mean: float) -> float:
    """log10 P(X >= k) for X ~ Poisson(mean): how surprising k events are when mean are usual."""
    if k <= 0:
        return 0.0
    if mean <= 0.0:
        return -math.inf
    if k <= mean:
        return 0.0  # not surprising at all; the tail sum below would also converge slowly
    log_mean = math.log(mean)
    # Sum the upper tail directly from k: no cancellation when the tail is tiny.
    log_term = k * log_mean - mean - math.lgamma(k + 1)
    total = 0.0
    term = 1.0
    i = k
    while True:
        total += term
        i += 1
        term *= mean / i
        if term < 1e-12 * total or i > k + 1000:
            break
    return (log_term + math.log(total)) / math.log(10.0)
