"""Bus throughput: messages/s published, consumed and acknowledged through the durable bus (the
journal in the store's database, synced at every publish) beside the in-memory queue it replaced,
in batches as webhooks deliver them (1 and 50 messages per publish), on SQLite and PostgreSQL.

    .venv/bin/python bench/bus.py [--messages 5000] [--runs 5] [--postgres URL | --no-postgres]

Prints a table and one JSON line. Medians over the runs; every run starts from an empty database.
Publishers send batch after batch (one thread, or 8 at once for single messages); the real pipeline
worker consumes up to 500 at a time and acknowledges. "bus only": the worker's pipeline does
nothing, so the figure is the bus's own cost. "with pipeline": the worker stores every message
(storing stages; triage and incident detection off, as in bench/ingest.py), competing with the
publisher for SQLite's one write lock. The rate is messages over the time from the first publish
until the last is acknowledged.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import func, select

from ingest import add_store_arguments, fresh_database, make_messages, postgres_to_measure  # shared
from townsquare.bus import Bus, DurableBus, InMemoryBus
from townsquare.config import Settings
from townsquare.model import InboundMessage
from townsquare.pipeline import Pipeline
from townsquare.pipeline.worker import PipelineWorker
from townsquare.store import journal
from townsquare.store.db import Database
from townsquare.store.tables import messages

BUSES = ("memory", "durable")
# (messages per publish, publishing threads): webhooks one after another in batches of 1 or 50,
# and single-message webhooks from 8 threads at once, as an outage's flood reaches the server's
# request threads (commits of concurrent publishers can share a disk sync).
SHAPES: tuple[tuple[int, int], ...] = ((1, 1), (1, 8), (50, 1))


class NoPipeline:
    """Stands in for the pipeline when only the bus is measured."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def process(self, batch: Sequence[InboundMessage]) -> None:
        pass


def one_run(
    kind: str,
    shape: tuple[int, int],
    store: bool,
    batch: list[InboundMessage],
    folder: Path,
    postgres_url: str | None,
) -> float:
    batch_size, publishers = shape
    db: Database = fresh_database("postgresql" if postgres_url else "sqlite", postgres_url, folder, batch_size)
    settings = Settings(database_url=db.url, triage="off", incidents=False, pipeline_batch_size=500)
    bus: Bus = DurableBus(db) if kind == "durable" else InMemoryBus()
    pipeline = Pipeline(db, settings) if store else NoPipeline(settings)
    worker = PipelineWorker(bus, pipeline)  # type: ignore[arg-type]
    worker.start()
    began = time.perf_counter()
    chunks = [batch[start : start + batch_size] for start in range(0, len(batch), batch_size)]

    def publish(share: list[list[InboundMessage]]) -> None:
        for chunk in share:
            bus.publish(chunk)

    threads = [threading.Thread(target=publish, args=(chunks[i::publishers],)) for i in range(publishers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert bus.drain(600)
    elapsed = time.perf_counter() - began
    worker.stop()
    with db.read() as conn:
        assert journal.count(conn) == 0
        if store:
            assert conn.execute(select(func.count()).select_from(messages)).scalar_one() == len(batch)
    db.dispose()
    return len(batch) / elapsed


def label(shape: tuple[int, int]) -> str:
    return f"{shape[0]}x{shape[1]}"


def measure(count: int, runs: int, postgres_url: str | None = None) -> dict[str, dict[str, dict[str, int]]]:
    batch = make_messages(count, seed=7)
    rates: dict[tuple[str, tuple[int, int], bool], list[float]] = {}
    with tempfile.TemporaryDirectory() as folder:
        for _ in range(runs):  # interleaved, so a noisy minute on the machine hits every variant
            for kind in BUSES:
                for shape in SHAPES:
                    for store in (False, True):
                        rate = one_run(kind, shape, store, batch, Path(folder), postgres_url)
                        rates.setdefault((kind, shape, store), []).append(rate)
    return {
        kind: {
            label(shape): {
                "bus_msgs_per_s": round(statistics.median(rates[(kind, shape, False)])),
                "pipeline_msgs_per_s": round(statistics.median(rates[(kind, shape, True)])),
            }
            for shape in SHAPES
        }
        for kind in BUSES
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=5_000)
    parser.add_argument("--runs", type=int, default=5)
    add_store_arguments(parser)
    args = parser.parse_args()
    results = {"sqlite": measure(args.messages, args.runs)}
    postgres = postgres_to_measure(args)
    if postgres:
        results["postgresql"] = measure(args.messages, args.runs, postgres)
    print(f"{'store':<12}{'bus':<10}{'batch x threads':>16}{'bus only msg/s':>16}{'with pipeline msg/s':>21}")
    for store, by_bus in results.items():
        for shape in SHAPES:
            for kind in BUSES:
                figures = by_bus[kind][label(shape)]
                print(
                    f"{store:<12}{kind:<10}{label(shape):>16}{figures['bus_msgs_per_s']:>16,}"
                    f"{figures['pipeline_msgs_per_s']:>21,}"
                )
    print(json.dumps({"bench": "bus", "messages": args.messages, "runs": args.runs, **results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
