import math

import pytest

from townsquare.incidents.baseline import DecayingCounts, VolumeProfile, poisson_log10_sf


def test_decaying_counts_halve_after_a_half_life() -> None:
    counts = DecayingCounts(mean_life_s=100.0)
    counts.add({"a"}, counts.scale(0.0))
    later = counts.scale(100.0 * math.log(2))
    assert counts.get("a", later) == pytest.approx(0.5)


def test_decaying_counts_survive_rebasing_and_removal() -> None:
    counts = DecayingCounts(mean_life_s=10.0, prune_below=1e-9)
    counts.add({"a", "b"}, counts.scale(0.0))
    counts.add({"a"}, counts.scale(5.0))
    counts.scale(10_000.0)  # far enough to force a rebase (and prune everything)
    assert counts.values == {}
    counts.add({"a"}, counts.scale(10_001.0))
    counts.remove({"a"}, 10_001.0)
    assert counts.get("a", counts.scale(10_001.0)) == pytest.approx(0.0)


def test_volume_profile_learns_the_time_of_day() -> None:
    profile = VolumeProfile()
    hour = 3600.0
    for day in range(3):
        for h in range(24):
            per_hour = 100 if 8 <= h < 20 else 10
            for i in range(per_hour):
                profile.add(day * 24 * hour + h * hour + i * hour / per_hour)
    now = 3 * 24 * hour
    assert profile.per_hour(now + 12 * hour) == pytest.approx(100, rel=0.05)
    assert profile.per_hour(now + 12 * hour + 15 * hour) == pytest.approx(10, rel=0.3)


def test_volume_profile_estimates_a_fresh_stream_from_its_rate() -> None:
    profile = VolumeProfile()
    for i in range(60):
        profile.add(i * 30.0)  # two a minute for half an hour
    assert profile.per_hour(1800.0) == pytest.approx(120, rel=0.1)


def test_poisson_tail() -> None:
    assert 10 ** poisson_log10_sf(3, 1.0) == pytest.approx(1 - math.exp(-1) * (1 + 1 + 0.5))
    assert poisson_log10_sf(1, 1.0) == 0.0  # not above the mean: no surprise, by definition
    tail = 1 - sum(math.exp(-2.0) * 2.0**i / math.factorial(i) for i in range(10))
    assert 10 ** poisson_log10_sf(10, 2.0) == pytest.approx(tail, rel=1e-6)
    assert poisson_log10_sf(0, 5.0) == 0.0
    assert poisson_log10_sf(3, 0.0) == -math.inf
