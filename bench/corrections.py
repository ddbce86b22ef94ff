"""How long the "Triage on your customers" report takes to score a team's labelled history.

The report (``triage.corrections.compare_with_labels``, the Triage page, ``GET
/api/triage/corrections``, ``townsquare eval corrections``) scores triage's stored answers against
the agents' labels per task and per language, each with a 95 % bootstrap interval of its macro-F1.
Rows are real posts: the XLM-T val tweets of the 8 languages, triage's answer from the shipped fast
model, and the gold sentiment as the agent's label, repeated to the history's size. The database
read is not timed (a keyset-paged query, the same for any scoring).

For comparison the bench also times the interval as earlier builds drew it (resampling the posts
one by one, O(resamples x posts)) against the shipped draw (a multinomial over the confusion
cells, O(resamples x classes^2); the same distribution).

    .venv/bin/python bench/corrections.py --runs 5   # --data DIR, else ../shared/data
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from townsquare.triage import TriageInput, load_triager
from townsquare.triage import data as datasets
from townsquare.triage.corrections import compare_with_labels
from townsquare.triage.evaluate import BOOTSTRAP_RESAMPLES, Report, macro_f1_interval


def labelled_rows(data_dir: Path) -> list[dict[str, Any]]:
    """One labelled-message row per XLM-T val tweet, shaped as ``store.labels.labelled_messages``
    yields them: the agent's label (the gold sentiment) and triage's stored answer."""
    gold = list(datasets.xlmt(data_dir, "val"))
    results = load_triager("fast").triage([TriageInput(id=str(i), text=r.text) for i, r in enumerate(gold)])
    return [
        {
            "sentiment": row.sentiment,
            "intents": None,
            "spam": False,
            "needs_reply": None,
            "language": row.language,
            "triage": result.model_dump(mode="json", exclude={"id"}),
        }
        for row, result in zip(gold, results, strict=True)
    ]


def interval_by_posts(report: Report, resamples: int = BOOTSTRAP_RESAMPLES) -> tuple[float, float]:
    """The interval as earlier builds drew it: n posts resampled one by one, per resample."""
    k = len(report.labels)
    counts = np.asarray(report.confusion, dtype=np.int64).reshape(k * k)
    cells = np.repeat(np.arange(k * k), counts)
    rng = np.random.RandomState(0)
    scores = np.empty(resamples)
    for b in range(resamples):
        m = np.bincount(cells[rng.randint(0, cells.size, cells.size)], minlength=k * k).reshape(k, k)
        tp, n_true, n_pred = np.diag(m), m.sum(1), m.sum(0)
        denom = n_true + n_pred
        f1 = np.divide(2 * tp, denom, out=np.zeros(k), where=denom > 0)
        scores[b] = f1[n_true > 0].mean()
    low, high = np.percentile(scores, [2.5, 97.5])
    return float(low), float(high)


def median_seconds(job: Any, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        job()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=datasets.shared_data_dir(), help="default: ../shared/data")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    args = parser.parse_args()
    if args.data is None or not (args.data / "sentiment-xlmt").is_dir():
        sys.exit(f"no XLM-T data under {args.data} (give --data)")
    rows = labelled_rows(args.data)
    out: dict[str, Any] = {"runs": args.runs, "sizes": {}}
    print(f"{'labelled posts':>15} {'report (s)':>11} {'one interval':>13} {'by posts':>10} {'ratio':>7}")
    for size in args.sizes:
        history = (rows * (size // len(rows) + 1))[:size]
        report_s = median_seconds(lambda h=history: compare_with_labels(h), args.runs)
        overall = compare_with_labels(history).reports["sentiment"]["all"]
        multinomial_s = median_seconds(lambda r=overall: macro_f1_interval(r), args.runs)
        by_posts_s = median_seconds(lambda r=overall: interval_by_posts(r), max(1, args.runs // 2))
        ratio = by_posts_s / multinomial_s
        out["sizes"][size] = {
            "report_s": round(report_s, 4),
            "interval_multinomial_s": round(multinomial_s, 5),
            "interval_by_posts_s": round(by_posts_s, 4),
            "interval_by_posts_over_multinomial": round(ratio, 1),
            "interval": [round(x, 4) for x in macro_f1_interval(overall) or ()],
            "interval_by_posts": [round(x, 4) for x in interval_by_posts(overall)],
        }
        print(f"{size:>15,} {report_s:>11.3f} {multinomial_s:>12.4f}s {by_posts_s:>9.3f}s {ratio:>6.0f}x")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
