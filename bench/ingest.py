"""Ingest throughput: messages/s through the pipeline into the store, beside a raw batched insert
of the same rows into the same tables (what the storage alone allows), and their ratio.

    .venv/bin/python bench/ingest.py [--messages 20000] [--runs 5] [--postgres URL | --no-postgres]

Prints a table and one JSON line. Medians over the runs; every run starts from an empty database.
The pipeline runs its storing stages (normalize, dedupe, contacts, thread, route, persist) with
triage and incident detection off: they have their own benchmarks (bench/triage.py,
bench/incidents.py).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, insert, select, text

from townsquare.config import Settings
from townsquare.model import AuthorIdentity, InboundMessage, Visibility
from townsquare.pipeline import Pipeline
from townsquare.store.db import Database
from townsquare.store.tables import contacts, conversations, identities, messages, metadata

WORDS = [
    "kein",
    "internet",
    "seit",
    "heute",
    "früh",
    "netz",
    "störung",
    "rechnung",
    "falsch",
    "tarif",
    "vertrag",
    "kündigen",
    "router",
    "blinkt",
    "no",
    "signal",
    "since",
    "this",
    "morning",
    "bill",
    "wrong",
    "plan",
    "contract",
    "cancel",
    "router",
    "roaming",
    "refund",
    "thanks",
    "great",
    "support",
    "hotline",
    "waited",
    "hours",
    "technician",
    "appointment",
    "missed",
    "speed",
    "slow",
    "outage",
    "berlin",
    "münchen",
]
TABLES = (contacts, identities, conversations, messages)


def make_messages(count: int, seed: int) -> list[InboundMessage]:
    """Realistic shape: a pool of authors, a fifth of posts replying to earlier ones, a tenth private."""
    rng = random.Random(seed)
    start = datetime(2026, 11, 1, tzinfo=UTC)
    authors = max(count // 4, 1)
    result: list[InboundMessage] = []
    for index in range(count):
        author = rng.randrange(authors)
        parent = result[rng.randrange(len(result))].external_id if result and rng.random() < 0.2 else None
        result.append(
            InboundMessage(
                channel="demo",
                account="acme",
                external_id=f"m{index}",
                author=AuthorIdentity(
                    external_id=f"u{author}",
                    handle=f"user{author}",
                    display_name=f"User {author}",
                    reach=rng.randrange(5000),
                ),
                text=" ".join(rng.choice(WORDS) for _ in range(rng.randrange(6, 30))),
                visibility=Visibility.PRIVATE if rng.random() < 0.1 else Visibility.PUBLIC,
                in_reply_to=parent,
                created_at=start + timedelta(seconds=index * 3),
            )
        )
    return result


def fresh_database(kind: str, postgres_url: str | None, folder: Path, run: int) -> Database:
    if kind == "sqlite":
        db = Database(f"sqlite:///{folder / f'bench-{run}-{time.monotonic_ns()}.db'}")
    else:
        assert postgres_url
        admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text('DROP DATABASE IF EXISTS "townsquare_bench" WITH (FORCE)'))
            conn.execute(text('CREATE DATABASE "townsquare_bench"'))
        admin.dispose()
        db = Database(postgres_url.rsplit("/", 1)[0] + "/townsquare_bench")
    db.migrate()
    return db


def pipeline_run(db: Database, batch: list[InboundMessage]) -> float:
    settings = Settings(database_url=db.url, triage="off", incidents=False, pipeline_batch_size=500)
    pipeline = Pipeline(db, settings)
    began = time.perf_counter()
    result = pipeline.process(batch)
    elapsed = time.perf_counter() - began
    assert result.stored == len(batch), result
    return len(batch) / elapsed


def stored_rows(db: Database) -> dict[str, list[dict[str, Any]]]:
    with db.read() as conn:
        return {table.name: [dict(row._mapping) for row in conn.execute(select(table))] for table in TABLES}


def raw_run(db: Database, rows: dict[str, list[dict[str, Any]]], count: int, batch_size: int = 500) -> float:
    """The same rows, inserted table by table in batches with executemany: no lookups, no logic."""
    began = time.perf_counter()
    for table in TABLES:  # parents first, as the foreign keys require
        table_rows = rows[table.name]
        for start in range(0, len(table_rows), batch_size):
            with db.write() as conn:
                conn.execute(insert(table), table_rows[start : start + batch_size])
    return count / (time.perf_counter() - began)


def measure(kind: str, count: int, runs: int, postgres_url: str | None) -> dict[str, float]:
    batch = make_messages(count, seed=7)
    pipeline_rates, raw_rates = [], []
    with tempfile.TemporaryDirectory() as folder:
        for run in range(runs):
            db = fresh_database(kind, postgres_url, Path(folder), run)
            pipeline_rates.append(pipeline_run(db, batch))
            rows = stored_rows(db)
            db.dispose()
            db = fresh_database(kind, postgres_url, Path(folder), run + 1000)
            raw_rates.append(raw_run(db, rows, count))
            db.dispose()
    pipeline_median, raw_median = statistics.median(pipeline_rates), statistics.median(raw_rates)
    return {
        "pipeline_msgs_per_s": round(pipeline_median),
        "raw_insert_msgs_per_s": round(raw_median),
        "ratio": round(pipeline_median / raw_median, 3),
    }


def postgres_reachable(url: str) -> bool:
    try:
        with create_engine(url).connect():
            return True
    except Exception:
        return False


def add_store_arguments(parser: argparse.ArgumentParser) -> None:
    """--postgres URL / --no-postgres, as every store benchmark takes them."""
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--no-postgres", action="store_true")


def postgres_to_measure(args: argparse.Namespace) -> str | None:
    """The PostgreSQL URL to measure, or None (not asked for, or not reachable: said on stderr)."""
    if args.no_postgres:
        return None
    if postgres_reachable(args.postgres):
        return str(args.postgres)
    print(f"PostgreSQL not reachable at {args.postgres}; measured SQLite only", file=sys.stderr)
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=5)
    add_store_arguments(parser)
    args = parser.parse_args()
    assert metadata.tables  # the schema module is loaded
    results: dict[str, dict[str, float]] = {"sqlite": measure("sqlite", args.messages, args.runs, None)}
    postgres = postgres_to_measure(args)
    if postgres:
        results["postgresql"] = measure("postgresql", args.messages, args.runs, postgres)
    print(f"{'store':<12}{'pipeline msg/s':>16}{'raw insert msg/s':>18}{'ratio':>8}")
    for store, figures in results.items():
        print(
            f"{store:<12}{figures['pipeline_msgs_per_s']:>16,}{figures['raw_insert_msgs_per_s']:>18,}"
            f"{figures['ratio']:>8.1%}"
        )
    print(json.dumps({"bench": "ingest", "messages": args.messages, "runs": args.runs, **results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
