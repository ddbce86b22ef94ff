"""Replay benchmark of incident detection on real posts.

Baseline traffic: real posts (GermEval 2017 Deutsche Bahn posts, English complaint tweets to
brands, XLM-T tweets in 8 languages, TWCS customer tweets) sampled with a daily rhythm. Bursts:
real reports on *one topic*, injected at known onsets, in four tiers from coherent to diffuse:
English complaint tweets to one brand (brand), German posts about one event such as the GDL
strike or the train WLAN (event), German posts with one GermEval aspect at negative polarity
(aspect), English complaint tweets of one domain (domain). The posts of a week's burst topics
are taken out of that week's baseline, so the baseline is "other real posts" (which still carry
plenty of complaints). The detector sees only id, time, text, channel, language and author:
never a label.

Each seed simulates a warm-up day plus one week. Figures are medians over seeds (rates) or over
all bursts (delays). Prints a table and one JSON line.

    .venv/bin/python bench/incidents.py --seeds 20 --first-seed 21
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import random
import re
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from townsquare.incidents.detector import DetectorSettings, IncidentDetector, ReportIn
from townsquare.incidents.replay import IncidentLog, IncidentRecord, dumps, parse_lines, replay

_HANDLE_RE = re.compile(r"@\w+")
REPO = Path(__file__).resolve().parent.parent
START = datetime(2024, 3, 4, tzinfo=UTC)  # a Monday, 00:00 UTC
GERMEVAL_TOPICS = {
    "de:disruption": "Sonstige_Unregelmässigkeiten",
    "de:train_ride": "Zugfahrt",
    "de:atmosphere": "Atmosphäre",
    "de:safety": "Sicherheit",
    "de:ticketing": "Ticketkauf",
    "de:connectivity": "Connectivity",
    "de:app_website": "DB_App_und_Website",
    "de:service": "Service_und_Kundenbetreuung",
}
GERMAN_EVENTS = {
    # One kind of event each, named the way German customers name it: what a German outage or
    # strike looks like in the GermEval 2017 Deutsche Bahn posts (chosen before measuring).
    "de:event:strike": re.compile(r"streik|\bgdl\b", re.IGNORECASE),
    "de:event:wifi": re.compile(r"wlan|wifi|wi-fi|hotspot", re.IGNORECASE),
    "de:event:app": re.compile(r"db navigator|\bapp\b", re.IGNORECASE),
    "de:event:air_conditioning": re.compile(r"klimaanlage|\bklima\b", re.IGNORECASE),
}
EVENT_MAX_CHARS = 280  # a social post; GermEval also has long web pages that name the event in passing
COMPLAINT_DOMAINS = ("transport", "software", "electronics", "services", "apparel", "retail", "food", "cars")
XLMT_LANGUAGES = {
    "english": "en", "german": "de", "french": "fr", "spanish": "es",
    "italian": "it", "portuguese": "pt", "arabic": "ar", "hindi": "hi",
}  # fmt: skip
SOURCE_WEIGHTS = {"germeval": 0.35, "complaints": 0.25, "xlmt": 0.38, "twcs": 0.02}
MIN_POOL = 15
MIN_BRAND_POOL = 10


def data_dir() -> Path | None:
    configured = os.environ.get("TOWNSQUARE_SHARED_DATA")
    path = Path(configured) if configured else REPO.parent / "shared" / "data"
    return path if path.is_dir() else None


@dataclass(frozen=True, slots=True)
class Post:
    text: str
    language: str
    channel: str
    source: str
    topics: frozenset[str]  # burst topics this post belongs to (empty for most)
    any_topics: frozenset[str]  # topics it touches at any polarity (kept out of that week's baseline)


def _germeval_channel(url: str) -> str:
    if "twitter.com" in url:
        return "x"
    if "facebook.com" in url:
        return "facebook"
    return "web"


def load_corpus(root: Path) -> list[Post]:
    posts: list[Post] = []
    by_aspect = {aspect: topic for topic, aspect in GERMEVAL_TOPICS.items()}
    with (root / "germeval2017" / "dev.tsv").open(encoding="utf-8") as handle:
        for line in handle:
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 4 or not parts[1].strip():
                continue
            negative: set[str] = set()
            touched: set[str] = set()
            for item in parts[4].split() if len(parts) > 4 else []:
                aspect = item.split("#")[0]
                topic = by_aspect.get(aspect)
                if topic is not None:
                    touched.add(topic)
                    if item.endswith(":negative"):
                        negative.add(topic)
            # Every post naming the event stays out of the baseline of a week with that event; only
            # social-post-sized ones make up its bursts.
            named = {topic for topic, pattern in GERMAN_EVENTS.items() if pattern.search(parts[1])}
            events = named if len(parts[1]) <= EVENT_MAX_CHARS else set()
            posts.append(
                Post(
                    parts[1],
                    "de",
                    _germeval_channel(parts[0]),
                    "germeval",
                    frozenset(negative | events),
                    frozenset(touched | named),
                )
            )
    with (root / "complaints" / "complaints-train.csv").open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            topics: set[str] = set()
            if row["is_complaint"] == "1" and row["domain"] in COMPLAINT_DOMAINS:
                topics.add(f"en:{row['domain']}")
                handle_match = _HANDLE_RE.search(row["text"])
                if handle_match:
                    topics.add(f"en:{handle_match.group().lower()}")
            posts.append(Post(row["text"], "en", "x", "complaints", frozenset(topics), frozenset(topics)))
    for folder, code in XLMT_LANGUAGES.items():
        for split in ("train", "val"):
            path = root / "sentiment-xlmt" / folder / f"{split}_text.txt"
            if path.exists():
                for text in path.read_text(encoding="utf-8").splitlines():
                    if text.strip():
                        posts.append(Post(text, code, "x", "xlmt", frozenset(), frozenset()))
    with (root / "twcs" / "sample.csv").open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            if row["inbound"] == "True":
                posts.append(Post(row["text"], "en", "x", "twcs", frozenset(), frozenset()))
    return posts


TIERS = ("brand", "event", "aspect", "domain")
"""Kinds of burst topic, from coherent to diffuse:
brand: English complaint tweets to one brand's handle (what an outage of one service looks like);
event: German GermEval posts about one kind of event (a strike, the train WLAN, the DB app, air
conditioning), found by the words German customers use for it;
aspect: German GermEval posts with one aspect at negative polarity (many different events);
domain: English complaint tweets of one domain (many brands and problems)."""


def tier_of(topic: str) -> str:
    if topic.startswith("de:event:"):
        return "event"
    if topic.startswith("de:"):
        return "aspect"
    return "brand" if topic.startswith("en:@") else "domain"


def burst_pools(posts: Sequence[Post], tier: str) -> dict[str, list[Post]]:
    pools: dict[str, list[Post]] = defaultdict(list)
    for post in posts:
        for topic in post.topics:
            if tier in ("mixed", tier_of(topic)):
                pools[topic].append(post)
    minimum = MIN_BRAND_POOL if tier == "brand" else MIN_POOL
    return {topic: pool for topic, pool in sorted(pools.items()) if len(pool) >= minimum}


@dataclass(slots=True)
class Burst:
    topic: str
    language: str
    message_ids: list[str] = field(default_factory=list)
    times: list[datetime] = field(default_factory=list)


@dataclass(slots=True)
class Scenario:
    reports: list[ReportIn]
    bursts: list[Burst]
    truth: dict[str, int]  # message id -> burst index
    measured_from: datetime  # end of the warm-up day


def _rate_per_minute(t: datetime, mean: float) -> float:
    """Daily rhythm: 0.2x the mean at 03:00, 1.8x at 15:00 (UTC stands for local time)."""
    hour = t.hour + t.minute / 60.0
    return mean * (1.0 + 0.8 * math.sin(2.0 * math.pi * (hour - 9.0) / 24.0))


def _poisson(rng: random.Random, mean: float) -> int:
    count, total = 0, rng.expovariate(1.0)
    while total < mean:
        count += 1
        total += rng.expovariate(1.0)
    return count


def simulate(
    seed: int,
    corpus: Sequence[Post],
    pools: dict[str, list[Post]],
    days: int = 7,
    per_minute: float = 5.0,
    bursts_per_week: int = 4,
) -> Scenario:
    rng = random.Random(seed)
    names = sorted(pools)
    if len(names) >= bursts_per_week:
        topics = rng.sample(names, bursts_per_week)
    else:  # few topics (the event tier): some recur within the week, as outages do
        topics = [names[i % len(names)] for i in range(bursts_per_week)]
        rng.shuffle(topics)
    excluded = set(topics)
    by_source: dict[str, list[Post]] = defaultdict(list)
    for post in corpus:
        if not post.any_topics & excluded:
            by_source[post.source].append(post)
    sources = list(SOURCE_WEIGHTS)
    weights = [SOURCE_WEIGHTS[s] for s in sources]
    authors = [f"user{n}" for n in range(20000)]

    events: list[tuple[datetime, Post, str, int]] = []  # time, post, author, burst index (-1 baseline)
    minutes = (days + 1) * 24 * 60
    for minute in range(minutes):
        t0 = START + timedelta(minutes=minute)
        for _ in range(_poisson(rng, _rate_per_minute(t0, per_minute))):
            source = rng.choices(sources, weights)[0]
            post = rng.choice(by_source[source])
            events.append((t0 + timedelta(seconds=rng.uniform(0, 60)), post, rng.choice(authors), -1))

    bursts: list[Burst] = []
    onsets: list[datetime] = []
    while len(onsets) < bursts_per_week:  # onsets in the measured week, at least 8 h apart
        onset = START + timedelta(days=1, minutes=rng.uniform(0, days * 24 * 60 - 180))
        if all(abs((onset - other).total_seconds()) >= 8 * 3600 for other in onsets):
            onsets.append(onset)
    for index, (topic, onset) in enumerate(zip(topics, sorted(onsets), strict=True)):
        pool = pools[topic]
        size = min(len(pool), rng.randint(10, 40))
        scale = rng.uniform(4.0, 12.0)  # minutes; Gamma(2) arrivals rise fast, then fade
        offsets = sorted(rng.gammavariate(2.0, scale) for _ in range(size))
        start = onset - timedelta(minutes=offsets[0])
        bursts.append(Burst(topic, topic.split(":")[0]))
        for post, offset in zip(rng.sample(pool, size), offsets, strict=True):
            events.append((start + timedelta(minutes=offset), post, f"burst{seed}-{index}-{rng.random()}", index))

    events.sort(key=lambda e: e[0])
    reports: list[ReportIn] = []
    truth: dict[str, int] = {}
    for number, (t, post, author, burst_index) in enumerate(events):
        message_id = f"m{number:07d}"  # opaque: says nothing about bursts
        reports.append(
            ReportIn(
                id=message_id, created_at=t, text=post.text, channel=post.channel, language=post.language, author=author
            )
        )
        if burst_index >= 0:
            truth[message_id] = burst_index
            bursts[burst_index].message_ids.append(message_id)
            bursts[burst_index].times.append(t)
    return Scenario(reports, bursts, truth, START + timedelta(days=1))


@dataclass(slots=True)
class BurstResult:
    topic: str
    detected: bool
    delay_reports: int | None = None
    delay_minutes: float | None = None
    after_min_reports_minutes: float | None = None
    grouped_right: float = 0.0


@dataclass(slots=True)
class SeedResult:
    seed: int
    messages: int
    seconds: float
    cpu_seconds: float  # what the detector itself used, unaffected by other load on the machine
    bursts: list[BurstResult]
    incidents: int
    true_incidents: int
    false_alarms: int
    duplicates: int
    impurity: float  # share of messages in matched incidents that are not from the burst
    signals_lag_s: float  # detected_at minus the created_at of the report that triggered it


def evaluate(seed: int, settings: DetectorSettings, corpus: Sequence[Post], pools: dict[str, list[Post]]) -> SeedResult:
    scenario = simulate(seed, corpus, pools)
    detector = IncidentDetector(settings)
    log = IncidentLog()
    started, cpu_started = time.perf_counter(), time.process_time()
    lag = 0.0
    by_id = {r.id: r for r in scenario.reports}
    for report in scenario.reports:
        signals = detector.observe([report])
        for signal in signals:
            if signal.kind == "opened":
                lag = max(lag, (signal.detected_at - report.created_at).total_seconds())
        log.apply(signals)
    seconds = time.perf_counter() - started
    cpu_seconds = time.process_time() - cpu_started

    incidents = [r for r in log.in_detection_order() if r.detected_at >= scenario.measured_from]
    main_incident: dict[int, IncidentRecord] = {}
    true_incidents = duplicates = false_alarms = 0
    in_matched = wrong_in_matched = 0
    for record in incidents:
        votes = Counter(scenario.truth.get(mid, -1) for mid in record.message_ids)
        burst_index, count = votes.most_common(1)[0]
        if burst_index >= 0 and count * 2 > len(record.message_ids):
            if burst_index in main_incident:
                duplicates += 1
            else:
                main_incident[burst_index] = record
                true_incidents += 1
                in_matched += len(record.message_ids)
                wrong_in_matched += len(record.message_ids) - count
        else:
            false_alarms += 1

    results: list[BurstResult] = []
    for index, burst in enumerate(scenario.bursts):
        matched = main_incident.get(index)
        if matched is None:
            results.append(BurstResult(burst.topic, detected=False))
            continue
        members = set(matched.message_ids)
        delay_reports = sum(1 for t in burst.times if t <= matched.detected_at)
        kth = burst.times[min(settings.min_reports, len(burst.times)) - 1]
        results.append(
            BurstResult(
                burst.topic,
                detected=True,
                delay_reports=delay_reports,
                delay_minutes=(matched.detected_at - burst.times[0]).total_seconds() / 60.0,
                after_min_reports_minutes=(matched.detected_at - kth).total_seconds() / 60.0,
                grouped_right=sum(1 for mid in burst.message_ids if mid in members) / len(burst.message_ids),
            )
        )
    del by_id
    return SeedResult(
        seed=seed,
        messages=len(scenario.reports),
        seconds=seconds,
        cpu_seconds=cpu_seconds,
        bursts=results,
        incidents=len(incidents),
        true_incidents=true_incidents,
        false_alarms=false_alarms,
        duplicates=duplicates,
        impurity=wrong_in_matched / in_matched if in_matched else 0.0,
        signals_lag_s=lag,
    )


def replay_throughput(
    seed: int, settings: DetectorSettings, corpus: Sequence[Post], pools: dict[str, list[Post]]
) -> tuple[float, float]:
    """Messages per wall-clock and per CPU second of the replay path: parse JSON lines, detect, write."""
    scenario = simulate(seed, corpus, pools)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "replay.jsonl"
        with path.open("w", encoding="utf-8") as handle:
            for report in scenario.reports:
                handle.write(report.model_dump_json(exclude_none=True) + "\n")
        started, cpu_started = time.perf_counter(), time.process_time()
        with path.open(encoding="utf-8") as lines:
            records = replay(parse_lines(lines, lambda n, r: None), settings)
        with (Path(tmp) / "out.jsonl").open("w", encoding="utf-8") as out:
            for record in records:
                out.write(dumps(record) + "\n")
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        return len(scenario.reports) / wall, len(scenario.reports) / cpu


_WORKER: dict[str, Any] = {}


def _init_worker(root: str) -> None:
    _WORKER["corpus"] = load_corpus(Path(root))


def _run_seed(args: tuple[int, str, dict[str, Any]]) -> SeedResult:
    seed, tier, settings = args
    corpus = _WORKER["corpus"]
    return evaluate(seed, DetectorSettings.model_validate(settings), corpus, burst_pools(corpus, tier))


def _median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else math.nan


def summarize(results: Sequence[SeedResult], replay_rate: tuple[float, float]) -> dict[str, Any]:
    bursts = [b for r in results for b in r.bursts]
    detected = [b for b in bursts if b.detected]
    weeks = len(results)
    per_seed_recall = [sum(b.detected for b in r.bursts) / len(r.bursts) for r in results]
    per_seed_precision = [r.true_incidents / r.incidents if r.incidents else 1.0 for r in results]
    total_incidents = sum(r.incidents for r in results)
    return {
        "seeds": weeks,
        "bursts": len(bursts),
        "messages": sum(r.messages for r in results),
        "recall_median": _median(per_seed_recall),
        "recall_pooled": len(detected) / len(bursts) if bursts else math.nan,
        "precision_median": _median(per_seed_precision),
        "precision_pooled": sum(r.true_incidents for r in results) / total_incidents if total_incidents else 1.0,
        "false_alarms_per_week_median": _median([float(r.false_alarms) for r in results]),
        "false_alarms_per_week_mean": sum(r.false_alarms for r in results) / weeks,
        "duplicate_incidents_per_week_mean": sum(r.duplicates for r in results) / weeks,
        "delay_reports_median": _median([float(b.delay_reports or 0) for b in detected]),
        "delay_minutes_median": _median([b.delay_minutes or 0.0 for b in detected]),
        "delay_after_min_reports_minutes_median": _median([b.after_min_reports_minutes or 0.0 for b in detected]),
        "detection_lag_seconds_max": max(r.signals_lag_s for r in results),
        "grouped_right_median": _median([b.grouped_right for b in detected]),
        "grouped_right_mean_all_bursts": sum(b.grouped_right for b in bursts) / len(bursts) if bursts else math.nan,
        "wrongly_grouped_median": _median([r.impurity for r in results]),
        "detector_msgs_per_s_median": _median([r.messages / r.seconds for r in results]),
        "detector_msgs_per_cpu_s_median": _median([r.messages / r.cpu_seconds for r in results]),
        "replay_msgs_per_s": replay_rate[0],
        "replay_msgs_per_cpu_s": replay_rate[1],
    }


def by_topic(results: Sequence[SeedResult]) -> list[tuple[str, int, float, float, float]]:
    grouped: dict[str, list[BurstResult]] = defaultdict(list)
    for result in results:
        for burst in result.bursts:
            grouped[burst.topic].append(burst)
    rows = []
    for topic, items in sorted(grouped.items()):
        found = [b for b in items if b.detected]
        rows.append(
            (
                topic,
                len(items),
                len(found) / len(items),
                _median([float(b.delay_reports or 0) for b in found]),
                _median([b.grouped_right for b in found]),
            )
        )
    return rows


GOALS = {
    "recall_median": ">= 0.9",
    "precision_median": ">= 0.9",
    "false_alarms_per_week_median": "<= 1",
    "delay_reports_median": "<= 10",
    "detection_lag_seconds_max": "<= 60",
    "grouped_right_median": ">= 0.9",
    "wrongly_grouped_median": "<= 0.05",
    "replay_msgs_per_s": ">= 5000",
    "replay_msgs_per_cpu_s": ">= 5000",
}


def print_tier(tier: str, summary: dict[str, Any], results: Sequence[SeedResult]) -> None:
    print(f"== bursts: {tier}")
    print(f"{'figure':44} {'value':>12}  goal")
    for key, value in summary.items():
        shown = f"{value:.3f}" if isinstance(value, float) else str(value)
        print(f"{key:44} {shown:>12}  {GOALS.get(key, '')}")
    print(f"{'burst topic':24} {'bursts':>6} {'recall':>7} {'delay(rep)':>10} {'grouped':>8}")
    for topic, count, recall, delay, grouped in by_topic(results):
        print(f"{topic:24} {count:6d} {recall:7.2f} {delay:10.1f} {grouped:8.2f}")
    print(flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--first-seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--sensitivity", type=float, default=DetectorSettings().sensitivity)
    parser.add_argument("--min-reports", type=int, default=DetectorSettings().min_reports)
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="any DetectorSettings field")
    parser.add_argument(
        "--tiers", default=",".join(TIERS), help="burst kinds to run: brand, event, aspect, domain, mixed"
    )
    args = parser.parse_args(argv)
    root = data_dir()
    if root is None:
        print(
            "bench/incidents.py: no labelled data (set TOWNSQUARE_SHARED_DATA or add ../shared/data)", file=sys.stderr
        )
        return 2
    overrides = dict(item.split("=", 1) for item in args.set)
    settings = DetectorSettings.model_validate(
        {"sensitivity": args.sensitivity, "min_reports": args.min_reports, **overrides}
    )
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    tiers = args.tiers.split(",")
    summaries: dict[str, dict[str, Any]] = {}
    corpus = load_corpus(root)
    with ProcessPoolExecutor(max_workers=args.workers, initializer=_init_worker, initargs=(str(root),)) as pool:
        for tier in tiers:
            jobs = [(seed, tier, settings.model_dump(mode="json")) for seed in seeds]
            results = list(pool.map(_run_seed, jobs))
            replay_rate = replay_throughput(args.first_seed, settings, corpus, burst_pools(corpus, tier))
            summaries[tier] = summarize(results, replay_rate)
            print_tier(tier, summaries[tier], results)
    print(json.dumps({"bench": "incidents", "settings": settings.model_dump(mode="json"), "tiers": summaries}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
