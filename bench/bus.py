"""Bus throughput: messages/s published, consumed and acknowledged through the durable bus (the
journal in the SQLite store, synced at every publish) beside the in-memory queue it replaced, in
batches as webhooks deliver them (1 and 50 messages per publish).

    .venv/bin/python bench/bus.py [--messages 5000] [--runs 5]

Prints a table and one JSON line. Medians over the runs; every run starts from an empty database.
One thread publishes batch after batch (webhooks answered one after another); the real pipeline
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
import time
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import func, select

from ingest import make_messages  # the same realistic messages as the ingest benchmark
from townsquare.bus import Bus, DurableBus, InMemoryBus
from townsquare.config import Settings
from townsquare.model import InboundMessage
from townsquare.pipeline import Pipeline
from townsquare.pipeline.worker import PipelineWorker
from townsquare.store import journal
from townsquare.store.db import Database
from townsquare.store.tables import messages

BUSES = ("memory", "durable")
BATCHES = (1, 50)


class NoPipeline:
    """Stands in for the pipeline when only the bus is measured."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def process(self, batch: Sequence[InboundMessage]) -> None:
        pass


def one_run(kind: str, batch_size: int, store: bool, batch: list[InboundMessage], folder: Path) -> float:
    db = Database(f"sqlite:///{folder / f'bus-{kind}-{batch_size}-{store}-{time.monotonic_ns()}.db'}")
    db.migrate()
    settings = Settings(database_url=db.url, triage="off", incidents=False, pipeline_batch_size=500)
    bus: Bus = DurableBus(db) if kind == "durable" else InMemoryBus()
    pipeline = Pipeline(db, settings) if store else NoPipeline(settings)
    worker = PipelineWorker(bus, pipeline)  # type: ignore[arg-type]
    worker.start()
    began = time.perf_counter()
    for start in range(0, len(batch), batch_size):
        bus.publish(batch[start : start + batch_size])
    assert bus.drain(600)
    elapsed = time.perf_counter() - began
    worker.stop()
    with db.read() as conn:
        assert journal.count(conn) == 0
        if store:
            assert conn.execute(select(func.count()).select_from(messages)).scalar_one() == len(batch)
    db.dispose()
    return len(batch) / elapsed


def measure(count: int, runs: int) -> dict[str, dict[str, dict[str, int]]]:
    batch = make_messages(count, seed=7)
    rates: dict[tuple[str, int, bool], list[float]] = {}
    with tempfile.TemporaryDirectory() as folder:
        for _ in range(runs):  # interleaved, so a noisy minute on the machine hits every variant
            for kind in BUSES:
                for batch_size in BATCHES:
                    for store in (False, True):
                        rate = one_run(kind, batch_size, store, batch, Path(folder))
                        rates.setdefault((kind, batch_size, store), []).append(rate)
    return {
        kind: {
            str(batch_size): {
                "bus_msgs_per_s": round(statistics.median(rates[(kind, batch_size, False)])),
                "pipeline_msgs_per_s": round(statistics.median(rates[(kind, batch_size, True)])),
            }
            for batch_size in BATCHES
        }
        for kind in BUSES
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=5_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    results = measure(args.messages, args.runs)
    print(f"{'bus':<10}{'batch':>6}{'bus only msg/s':>16}{'with pipeline msg/s':>21}")
    for batch_size in BATCHES:
        for kind in BUSES:
            figures = results[kind][str(batch_size)]
            print(f"{kind:<10}{batch_size:>6}{figures['bus_msgs_per_s']:>16,}{figures['pipeline_msgs_per_s']:>21,}")
    print(json.dumps({"bench": "bus", "store": "sqlite", "messages": args.messages, "runs": args.runs, **results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
