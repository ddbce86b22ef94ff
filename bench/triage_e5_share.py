"""How much of the accurate model's traffic should go to e5: sentiment and throughput by share.

    .venv/bin/python bench/triage_e5_share.py --embedding-cache DIR [--runs 2] [--chart PNG]

For each share of posts sent on to the full model (USE + e5) by sentiment doubt, one core:

- sentiment macro-F1 out of fold on the XLM-T training tweets (``crossval.sentiment_oof``: both
  stages fitted once as ``townsquare train`` fits them, then routed at every share), English,
  German and the mean of the 8 languages;
- throughput of the shipped accurate model with its sentiment margin moved to that share's
  threshold, on the bench's 300 posts of our own set (complaint doubt still routes too, as
  shipped), and the share of those posts that reached e5.

Prints a table and, last, one JSON line; ``--chart`` also draws both against the share (the
chart in docs/triage.md). Needs ../shared/data and the training texts' vectors (a warm
``--embedding-cache``: else about 15 minutes of e5 on one core first).
"""

from __future__ import annotations

import os

# One core, as the issue asks: set before numpy, fastText or e5 start their thread pools.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"
if hasattr(os, "sched_setaffinity"):
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})

import argparse  # noqa: E402 -- after pinning the process to one core
import dataclasses  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

from townsquare.triage import data as datasets  # noqa: E402
from townsquare.triage.crossval import SentimentOOF, sentiment_oof  # noqa: E402
from townsquare.triage.models import AccurateModel, FastModel  # noqa: E402
from townsquare.triage.train import CASCADE_SENTIMENT_QUANTILE, EmbeddingCache, collect  # noqa: E402
from townsquare.triage.triager import Triager  # noqa: E402

# bench/triage.py, next to this file: the same throughput and routing measurements
from triage import routed_share, throughput_wall_and_cpu  # noqa: E402

SHARES = (0.0, 0.05, 0.10, 0.15, 0.20, 0.25, 0.30, 0.40, 0.50, 0.75, 1.0)
TARGET_POSTS_PER_S = 100  # the accurate-mode throughput


def at_share(model: AccurateModel, share: float) -> AccurateModel:
    """The model with its cascade moved to ``share`` (``Cascade.at_share``, as the setting does)."""
    if model.cascade is None:
        raise SystemExit("the shipped accurate model has no cascade (a USE-only build?)")
    return dataclasses.replace(model, cascade=model.cascade.at_share(share))


def measure(oof: SentimentOOF, model: AccurateModel, texts: list[str], runs: int) -> list[dict[str, Any]]:
    rows = []
    for share in SHARES:
        by_language = oof.cascade(share)
        variant = at_share(model, share)
        assert variant.cascade is not None
        wall, _ = throughput_wall_and_cpu("accurate", texts, runs, Triager("accurate", accurate=variant))
        rows.append(
            {
                "share": share,
                "threshold": round(variant.cascade.sentiment_margin, 4) if share < 1 else None,
                "en": by_language["en"],
                "de": by_language["de"],
                "mean_8": round(statistics.mean(by_language.values()), 4),
                "posts_per_s": wall,
                "our_posts_to_e5": routed_share(texts, variant),
            }
        )
        print(f"  share {share:.2f} done", file=sys.stderr, flush=True)
    return rows


def print_table(rows: list[dict[str, Any]]) -> None:
    print(f"{'share to e5':>11} {'margin':>8} {'en':>6} {'de':>6} {'mean 8':>7} {'posts/s':>8} {'our posts to e5':>16}")
    for r in rows:
        margin = "all" if r["threshold"] is None else f"{r['threshold']:.4f}"
        print(
            f"{r['share']:>11.2f} {margin:>8} {r['en']:>6.3f} {r['de']:>6.3f} {r['mean_8']:>7.3f} "
            f"{r['posts_per_s']:>8.1f} {r['our_posts_to_e5']:>16.3f}"
        )


def draw(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # no screen: render to a file
    import matplotlib.pyplot as plt

    shares = [100 * r["share"] for r in rows]
    fig, left = plt.subplots(figsize=(8.5, 5), dpi=110)
    for key, label, style in (
        ("en", "English", "o-"),
        ("de", "German", "s-"),
        ("mean_8", "mean of 8 languages", "^--"),
    ):
        left.plot(shares, [r[key] for r in rows], style, label=label)
    left.set_xlabel("share of posts sent on to e5 by sentiment doubt (%, of the training rows)")
    left.set_ylabel("sentiment macro-F1, out of fold (XLM-T train)")
    left.grid(alpha=0.3)
    right = left.twinx()
    right.plot(shares, [r["posts_per_s"] for r in rows], "d:", color="grey", label="posts/s, one core (our posts)")
    right.axhline(TARGET_POSTS_PER_S, color="grey", linewidth=0.8, linestyle="--")
    right.set_ylabel("posts per second, one core")
    right.set_ylim(bottom=0)
    left.axvline(100 * CASCADE_SENTIMENT_QUANTILE, color="black", linewidth=0.8)
    left.annotate(
        "shipped", (100 * CASCADE_SENTIMENT_QUANTILE, left.get_ylim()[0]), xytext=(4, 4), textcoords="offset points"
    )
    right.annotate(f"{TARGET_POSTS_PER_S} posts/s", (0, TARGET_POSTS_PER_S), xytext=(4, 4), textcoords="offset points")
    lines = left.get_legend_handles_labels()[0] + right.get_legend_handles_labels()[0]
    labels = left.get_legend_handles_labels()[1] + right.get_legend_handles_labels()[1]
    left.legend(lines, labels, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=4, fontsize="small")
    left.set_title("Accurate triage: what each share of e5 buys and costs")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--embedding-cache", type=Path, required=True)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--chart", type=Path, help="also draw the figures into this PNG file")
    args = parser.parse_args()
    data_dir = datasets.shared_data_dir()
    if data_dir is None:
        sys.exit("needs ../shared/data or $TOWNSQUARE_SHARED_DATA")
    model, fast = AccurateModel.load(), FastModel.load()
    cache = EmbeddingCache(args.embedding_cache, model.encoders)
    oof = sentiment_oof(collect(data_dir).sentiment, fast.featurizer, fast.idf, cache)
    texts = ([r.text for r in datasets.intent_set()] + [r.text for r in datasets.xlmt(data_dir, "val")])[:300]
    rows = measure(oof, model, texts, args.runs)
    print_table(rows)
    if args.chart:
        draw(rows, args.chart)
        print(f"chart: {args.chart}", file=sys.stderr)
    print(json.dumps({"cores": 1, "by_share": rows}))


if __name__ == "__main__":
    main()
