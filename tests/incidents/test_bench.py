"""The benchmark's scenario builder on the real data (skipped where the data is absent)."""

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "incidents.py"


def load_bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_incidents", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def load_corpus() -> tuple[ModuleType, list[Any]]:
    bench = load_bench()
    root = bench.data_dir()
    if root is None:
        pytest.skip("labelled data not present (../shared/data or TOWNSQUARE_SHARED_DATA)")
    return bench, bench.load_corpus(root)


def test_bench_scenarios_hide_labels_and_keep_burst_topics_out_of_the_baseline() -> None:
    bench, corpus = load_corpus()
    pools = bench.burst_pools(corpus, "mixed")
    assert {"de:disruption", "en:transport"} <= pools.keys()
    scenario = bench.simulate(7, corpus, pools, days=1, per_minute=1.0, bursts_per_week=2)
    times = [r.created_at for r in scenario.reports]
    assert times == sorted(times)
    assert all(r.id.startswith("m") and r.id[1:].isdigit() for r in scenario.reports)  # opaque ids
    burst_texts = {r.text for r in scenario.reports if r.id in scenario.truth}
    topics = {b.topic for b in scenario.bursts}
    for post in corpus:
        if post.any_topics & topics:
            baseline_ids = [r.id for r in scenario.reports if r.text == post.text and r.id not in scenario.truth]
            assert baseline_ids == [] or post.text in burst_texts


def test_bench_without_data_exits_with_a_message(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    bench = load_bench()
    monkeypatch.setenv("TOWNSQUARE_SHARED_DATA", str(tmp_path / "absent"))
    assert bench.main(["--seeds", "1"]) == 2


def test_event_tier_is_german_social_posts_about_one_event_and_topics_recur() -> None:
    bench, corpus = load_corpus()
    pools = bench.burst_pools(corpus, "event")
    assert {"de:event:strike", "de:event:wifi"} <= pools.keys()
    assert all(len(post.text) <= bench.EVENT_MAX_CHARS and post.language == "de" for p in pools.values() for post in p)
    long_strike_posts = [p for p in corpus if "de:event:strike" in p.any_topics and len(p.text) > bench.EVENT_MAX_CHARS]
    assert long_strike_posts and all("de:event:strike" not in p.topics for p in long_strike_posts)
    scenario = bench.simulate(3, corpus, pools, days=1, per_minute=1.0, bursts_per_week=len(pools) + 1)
    assert len(scenario.bursts) == len(pools) + 1  # fewer topics than bursts: some recur
