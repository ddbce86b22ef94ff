"""Triage benchmark: the figures of docs/triage.md, measured here, one core.

    .venv/bin/python bench/triage.py [--runs 5] [--no-accurate] [--embedding-cache PATH]

Prints a table and, last, one JSON line. Needs ../shared/data (or $TOWNSQUARE_SHARED_DATA) for
the public sets; the shipped weight files must exist (``townsquare train``).
"""

from __future__ import annotations

import os

# One core, as the issue asks: set before numpy, fastText or e5 start their thread pools.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"
if hasattr(os, "sched_setaffinity"):
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})

import argparse  # noqa: E402 -- after pinning the process to one core
import json  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections import defaultdict  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

from townsquare.triage import TriageInput, find_personal_data, load_triager  # noqa: E402
from townsquare.triage import data as datasets  # noqa: E402
from townsquare.triage.crossval import CascadeCV, complaint_cv, intent_cv, sentiment_cascade_cv  # noqa: E402
from townsquare.triage.evaluate import macro_f1_interval, score  # noqa: E402
from townsquare.triage.language import clean_for_language  # noqa: E402
from townsquare.triage.pii_testset import CUSTOMER_NUMBER, KINDS, generate  # noqa: E402
from townsquare.triage.pii_testset import score as pii_score  # noqa: E402
from townsquare.triage.schema import SENTIMENTS  # noqa: E402
from townsquare.triage.train import DEFAULT_ENCODERS, EmbeddingCache, pool_texts, weak_complaints  # noqa: E402

SHORT_POSTS = Path(datasets.__file__).parent / "data" / "short_posts.jsonl"


def triage_all(mode: str, texts: list[str]) -> list[Any]:
    triager = load_triager(mode)  # type: ignore[arg-type]
    out: list[Any] = []
    for i in range(0, len(texts), 256):
        out += triager.triage([TriageInput(id=str(i + k), text=t) for k, t in enumerate(texts[i : i + 256])])
    return out


def sentiment_val(data_dir: Path, mode: str) -> tuple[dict[str, float], dict[str, list[float]]]:
    """Macro-F1 per XLM-T val language, and the 95 % bootstrap interval of the issue's two."""
    rows = list(datasets.xlmt(data_dir, "val"))
    results = triage_all(mode, [r.text for r in rows])
    by_lang: dict[str, tuple[list[str], list[str]]] = defaultdict(lambda: ([], []))
    for r, p in zip(rows, results, strict=True):
        by_lang[r.language or "?"][0].append(r.sentiment or "")
        by_lang[r.language or "?"][1].append(p.sentiment)
    reports = {lang: score(t, p, SENTIMENTS) for lang, (t, p) in sorted(by_lang.items())}
    intervals = {lang: macro_f1_interval(reports[lang]) for lang in ("de", "en") if lang in reports}
    return (
        {lang: round(r.macro_f1, 4) for lang, r in reports.items()},
        {lang: [round(v, 4) for v in ci] for lang, ci in intervals.items() if ci is not None},
    )


def language_figures(data_dir: Path) -> dict[str, Any]:
    rows = list(datasets.xlmt(data_dir, "val"))
    triager = load_triager("fast")

    def hits_by_set(texts: list[str], rows: list[Any]) -> dict[str, list[bool]]:
        """Whether the language said is the audited one, grouped by the XLM-T set of the line."""
        results = triager.triage([TriageInput(id=str(i), text=t) for i, t in enumerate(texts)])
        hits: dict[str, list[bool]] = defaultdict(list)
        for row, p in zip(rows, results, strict=True):
            hits[row.extra["set_language"]].append(p.language == row.language)
        return hits

    def accuracy(texts: list[str], truth: list[str]) -> tuple[float, dict[str, float]]:
        results = triager.triage([TriageInput(id=str(i), text=t) for i, t in enumerate(texts)])
        hits: dict[str, list[bool]] = defaultdict(list)
        for lang, p in zip(truth, results, strict=True):
            hits[lang].append(p.language == lang)
        per = {lang: round(sum(h) / len(h), 4) for lang, h in sorted(hits.items())}
        return round(sum(sum(h) for h in hits.values()) / len(texts), 4), per

    full, full_per = accuracy([r.text for r in rows], [r.language or "" for r in rows])
    # The same lines with the language we found when we read them (docs/triage.md, "The language
    # audit"), per set: a third of the "Hindi" set is English, some of the German set too.
    audited = list(datasets.xlmt(data_dir, "val", audited=True))
    audited_hits = hits_by_set([r.text for r in audited], audited)
    audited_per = {lang: round(sum(h) / len(h), 4) for lang, h in sorted(audited_hits.items())}
    audited_all = round(sum(sum(h) for h in audited_hits.values()) / len(audited), 4)
    a_snips = [(" ".join(clean_for_language(r.text).split()[:3]), r) for r in audited]
    a_snips = [(t, r) for t, r in a_snips if len(t.split()) == 3]
    snip_hits = hits_by_set([t for t, _ in a_snips], [r for _, r in a_snips])
    audited_snip = round(sum(sum(h) for h in snip_hits.values()) / len(a_snips), 4)
    no_hi = [r for r in rows if r.language != "hi"]
    full7, _ = accuracy([r.text for r in no_hi], [r.language or "" for r in no_hi])
    snippets = [(" ".join(clean_for_language(r.text).split()[:3]), r.language or "") for r in rows]
    snippets = [(t, lang) for t, lang in snippets if len(t.split()) == 3]
    snip, snip_per = accuracy([t for t, _ in snippets], [lang for _, lang in snippets])
    snip7 = [(t, lang) for t, lang in snippets if lang != "hi"]
    snip7_acc, _ = accuracy([t for t, _ in snip7], [lang for _, lang in snip7])
    short = list(datasets.read_jsonl(SHORT_POSTS))
    short_acc, short_per = accuracy([r.text for r in short], [r.language or "" for r in short])
    return {
        "xlmt_val_8": full,
        "xlmt_val_7_without_hi": full7,
        "xlmt_val_per_language": full_per,
        "xlmt_val_8_audited": audited_all,
        "xlmt_val_audited_per_set": audited_per,
        "xlmt_val_3word_snippets_8_audited": audited_snip,
        "xlmt_val_3word_snippets_8": snip,
        "xlmt_val_3word_snippets_7": snip7_acc,
        "snippets_per_language": snip_per,
        "short_posts_10_languages": short_acc,
        "short_posts_per_language": short_per,
    }


def pii_figures(per_kind: int) -> dict[str, dict[str, float]]:
    posts = [(r.text, r.language or "") for r in datasets.intent_set() if r.extra.get("origin") == "real"]
    examples = generate(posts, per_kind=per_kind, seed=2024)  # not the seed used while developing
    scores, _ = pii_score(examples, lambda t: find_personal_data(t, [CUSTOMER_NUMBER]))
    return {k: {"precision": round(scores[k].precision, 4), "recall": round(scores[k].recall, 4)} for k in KINDS}


def throughput_wall_and_cpu(mode: str, texts: list[str], runs: int, triager: Any = None) -> tuple[float, float]:
    """Messages per second of wall-clock time and per second of this process's CPU time (medians),
    of the process-wide triager of ``mode`` or of ``triager`` (a variant; bench/triage_e5_share.py).

    The process is pinned to one core, so CPU time is the time that core spent on triage: when
    other jobs share the core, wall-clock throughput drops but the CPU-time figure does not.
    """
    triager = triager or load_triager(mode)  # type: ignore[arg-type]
    # One untimed pass over the same posts: a one-post warm-up was not sent on to e5, so the first
    # timed run loaded e5 (0.5 s) and, with the accurate mode's two runs, pulled the median down
    # by about 15 %. A running pipeline has its encoders loaded.
    for i in range(0, len(texts), 256):
        triager.triage([TriageInput(id=str(k), text=t) for k, t in enumerate(texts[i : i + 256])])
    wall, cpu = [], []
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        for i in range(0, len(texts), 256):
            triager.triage([TriageInput(id=str(k), text=t, author_reach=100) for k, t in enumerate(texts[i : i + 256])])
        wall.append(len(texts) / (time.perf_counter() - start))
        cpu.append(len(texts) / max(time.process_time() - start_cpu, 1e-9))
    return round(statistics.median(wall), 1), round(statistics.median(cpu), 1)


def throughput_figures(data_dir: Path, runs: int, accurate: bool) -> dict[str, Any]:
    posts = [r.text for r in datasets.intent_set()] + [r.text for r in datasets.xlmt(data_dir, "val")]
    out: dict[str, Any] = {}
    out["throughput_fast_msgs_per_s"], out["throughput_fast_msgs_per_cpu_s"] = throughput_wall_and_cpu(
        "fast", (posts * 2)[:4000], runs
    )
    if accurate:
        acc_runs = max(1, runs // 2)
        out["throughput_accurate_msgs_per_s"], out["throughput_accurate_msgs_per_cpu_s"] = throughput_wall_and_cpu(
            "accurate", posts[:300], acc_runs
        )
        # A second realistic set: XLM-T val tweets, every 8th (all 8 languages), longer than our posts.
        tweets = [r.text for r in datasets.xlmt(data_dir, "val")][::8]
        out["throughput_accurate_xlmt_val_msgs_per_s"], out["throughput_accurate_xlmt_val_msgs_per_cpu_s"] = (
            throughput_wall_and_cpu("accurate", tweets, acc_runs)
        )
        out["throughput_full_msgs_per_s"], out["throughput_full_msgs_per_cpu_s"] = throughput_wall_and_cpu(
            "full", posts[:300], acc_runs
        )
        out["routed_to_e5"] = {
            "throughput_posts": routed_share(posts[:300]),
            "xlmt_val": routed_share([r.text for r in datasets.xlmt(data_dir, "val")]),
            "complaint_tweets": routed_share([r.text for r in datasets.complaints(data_dir)]),
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-accurate", action="store_true")
    parser.add_argument("--embedding-cache", type=Path)
    parser.add_argument("--pii-per-kind", type=int, default=300)
    parser.add_argument("--throughput-only", action="store_true", help="only the throughput figures (JSON line)")
    args = parser.parse_args()
    data_dir = datasets.shared_data_dir()
    if data_dir is None:
        sys.exit("needs ../shared/data or $TOWNSQUARE_SHARED_DATA")
    if args.throughput_only:
        print(json.dumps({"cores": 1} | throughput_figures(data_dir, args.runs, not args.no_accurate)))
        return
    modes = ["fast"] if args.no_accurate else ["fast", "accurate", "full"]
    global _CACHE_DIR
    _CACHE_DIR = args.embedding_cache
    cache = EmbeddingCache(args.embedding_cache, _accurate_encoders() if not args.no_accurate else DEFAULT_ENCODERS)
    out: dict[str, Any] = {"cores": 1}

    for mode in modes:
        out[f"sentiment_val_macro_f1_{mode}"], out[f"sentiment_val_ci95_{mode}"] = sentiment_val(data_dir, mode)
        intents = datasets.intent_set()
        pool = pool_texts(data_dir, [r.text for r in intents])
        # No pool: the shipped complaint column is not distilled (see train.fit_small_heads).
        complaints = list(datasets.complaints(data_dir))
        cascade = _cascade_cv([r.text for r in complaints]) if mode == "accurate" else None
        words = _fast_words() if mode == "fast" else None
        # GermEval's negative posts as weak German complaint labels, as `townsquare train` uses them
        weak = weak_complaints(datasets.germeval(data_dir), [r.text for r in intents])
        out[f"complaint_cv_{mode}"] = complaint_cv(
            complaints, mode != "fast", cache, cascade=cascade, words=words, weak=weak
        )
        if mode == "full":
            continue  # intent, spam, needs_reply: the accurate CV below already scores the full model
        reports, extra = intent_cv(
            intents,
            list(datasets.complaints(data_dir)),
            mode == "accurate",
            cache,
            blend=_intent_blend() if mode == "accurate" else _word_head_blends(),
            pool=pool,
            words=words,
            weak=weak,
        )
        out[f"intent_cv_{mode}"] = {
            task: {
                lang: {
                    "macro_f1": round(r.macro_f1, 4),
                    "accuracy": round(r.accuracy, 4),
                    "n": r.n,
                    "per_class": {
                        k: [round(v.precision, 3), round(v.recall, 3), round(v.f1, 3), v.support]
                        for k, v in r.per_class.items()
                    },
                }
                for lang, r in by_lang.items()
            }
            for task, by_lang in reports.items()
        } | extra
    if not args.no_accurate:
        out["sentiment_cv_accurate"] = sentiment_training_cv(data_dir, cache)
    out["language"] = language_figures(data_dir)
    out["personal_data"] = pii_figures(args.pii_per_kind)
    out |= throughput_figures(data_dir, args.runs, not args.no_accurate)

    print_table(out)
    print(json.dumps(out, ensure_ascii=False))


def _fast_words() -> Any:
    """The shipped fast model's e5 word vectors when it has word heads (else None: n-grams alone)."""
    from townsquare.triage.models import FastModel

    fast = FastModel.load()
    return fast.words if fast.word_heads else None


def _word_head_blends() -> dict[str, float]:
    """The shipped fast model's word-head blends, by head (empty without word heads, when the CV
    blends nothing: ``_fast_words`` gives None)."""
    from townsquare.triage.models import FastModel

    return {h.name: h.blend for h in FastModel.load().word_heads}


def sentiment_training_cv(data_dir: Path, cache: EmbeddingCache) -> dict[str, Any]:
    """The accurate cascade's sentiment out of fold on the training rows (``sentiment_cascade_cv``),
    with the shipped fast model's featurizer and idf; empty without a cascade (a USE-only build)."""
    from townsquare.triage.models import AccurateModel, FastModel
    from townsquare.triage.train import collect

    if AccurateModel.load().cascade is None:
        return {}
    fast = FastModel.load()
    cv = sentiment_cascade_cv(collect(data_dir).sentiment, fast.featurizer, fast.idf, cache)
    return {"cascade": cv.cascade, "stage1": cv.stage1, "full": cv.full, "routed": cv.routed, "rows": cv.rows}


def _unsure(texts: list[str], accurate: Any = None) -> Any:
    """Which posts the accurate model's cascade (the shipped one, or ``accurate``) sends to the
    full model (all of them without one)."""
    import numpy as np

    from townsquare.triage.models import AccurateModel, FastModel
    from townsquare.triage.triager import accurate_probabilities

    fast, accurate = FastModel.load(), accurate or AccurateModel.load()
    languages = [r.language for r in triage_all("fast", texts)]
    masks = [
        accurate_probabilities(accurate, fast.predict(texts[i : i + 256]), texts[i : i + 256], languages[i : i + 256])[
            1
        ]
        for i in range(0, len(texts), 256)
    ]
    return np.concatenate(masks) if masks else np.zeros(0, dtype=bool)


def routed_share(texts: list[str], accurate: Any = None) -> float:
    return round(float(_unsure(texts, accurate).mean()), 4)


def _cascade_cv(texts: list[str]) -> CascadeCV | None:
    """The shipped cascade, for the complaint CV: its thresholds, and which tweets the shipped
    stage-1 sentiment head would send on anyway (that head never saw the complaint tweets)."""
    import numpy as np

    from townsquare.triage.models import AccurateModel, FastModel, margin
    from townsquare.triage.sentiment_inputs import sentiment_inputs

    accurate = AccurateModel.load()
    cascade = accurate.cascade
    if cascade is None:
        return None
    fast = FastModel.load()
    cache = EmbeddingCache(_CACHE_DIR, accurate.encoders)
    emb = cache.embed(texts, only=cascade.encoders)
    head = next(h for h in cascade.heads if h.name == "sentiment")
    languages = [r.language for r in triage_all("fast", texts)]
    if head.language_inputs:
        emb = sentiment_inputs(emb, texts, languages)
    p = head.blend_with(fast.predict(texts)["sentiment"], emb, languages)
    return CascadeCV(cascade.encoders, cascade.complaint_margin, np.asarray(margin(p) < cascade.sentiment_margin))


_CACHE_DIR: Path | None = None


def _accurate_encoders() -> tuple[str, ...]:
    from townsquare.triage.models import AccurateModel

    return tuple(AccurateModel.load().encoders)


def _intent_blend() -> float:
    from townsquare.triage.models import AccurateModel

    return float(next(h.blend for h in AccurateModel.load().heads if h.name == "intent"))


def print_table(out: dict[str, Any]) -> None:
    rows: list[tuple[str, str, str]] = []
    for mode in ("fast", "accurate", "full"):
        s = out.get(f"sentiment_val_macro_f1_{mode}")
        if s:
            rows.append(
                (
                    f"sentiment macro-F1, XLM-T val ({mode})",
                    "de/en >= 0.70",
                    " ".join(f"{k} {v:.3f}" for k, v in s.items()),
                )
            )
            ci = out.get(f"sentiment_val_ci95_{mode}", {})
            rows.append(
                (
                    f"  the same, 95 % bootstrap interval ({mode})",
                    "-",
                    " ".join(f"{k} {low:.3f}-{high:.3f}" for k, (low, high) in ci.items()),
                )
            )
        cv = out.get(f"sentiment_cv_{mode}")
        if cv:
            for part in ("cascade", "stage1", "full"):
                rows.append(
                    (
                        f"sentiment macro-F1, 5-fold CV, XLM-T train ({mode}, {part})",
                        "-",
                        " ".join(f"{k} {v:.3f}" for k, v in cv[part].items()),
                    )
                )
        c = out.get(f"complaint_cv_{mode}")
        if c:
            rows.append((f"complaint F1, 5-fold CV ({mode})", ">= 0.82", f"{c['f1']:.3f} (acc {c['accuracy']:.3f})"))
        i = out.get(f"intent_cv_{mode}")
        if i:
            rows.append(
                (
                    f"intent macro-F1, own set CV ({mode})",
                    "-",
                    " ".join(f"{lang} {i['intent'][lang]['macro_f1']:.3f}" for lang in ("all", "de", "en")),
                )
            )
            rows.append(
                (
                    f"needs_reply / spam F1 ({mode})",
                    "-",
                    f"{i['needs_reply']['all']['per_class']['reply'][2]:.3f} / "
                    f"{i['spam']['all']['per_class']['spam'][2]:.3f}",
                )
            )
    lang = out["language"]
    rows.append(
        (
            "language accuracy, XLM-T val",
            ">= 0.98",
            f"8 langs {lang['xlmt_val_8']:.3f}, without hi {lang['xlmt_val_7_without_hi']:.3f}",
        )
    )
    rows.append(
        (
            "language accuracy, XLM-T val, audited",
            ">= 0.98",
            f"8 sets {lang['xlmt_val_8_audited']:.3f}, 3-word snippets {lang['xlmt_val_3word_snippets_8_audited']:.3f}",
        )
    )
    rows.append(
        (
            "language accuracy, <= 3 words",
            ">= 0.90",
            f"short posts (10 langs) {lang['short_posts_10_languages']:.3f}, "
            f"val 3-word snippets {lang['xlmt_val_3word_snippets_7']:.3f} (7) {lang['xlmt_val_3word_snippets_8']:.3f} (8)",
        )
    )
    for kind, s in out["personal_data"].items():
        rows.append((f"personal data: {kind}", "P, R >= 0.95", f"P {s['precision']:.3f} R {s['recall']:.3f}"))
    rows.append(
        (
            "throughput fast (msgs/s, 1 core)",
            ">= 1000",
            f"{out['throughput_fast_msgs_per_s']:.0f} (per CPU-second {out['throughput_fast_msgs_per_cpu_s']:.0f})",
        )
    )
    if "throughput_accurate_msgs_per_s" in out:
        rows.append(
            (
                "throughput accurate (msgs/s, 1 core)",
                ">= 100",
                f"our posts {out['throughput_accurate_msgs_per_s']:.0f} "
                f"(per CPU-second {out['throughput_accurate_msgs_per_cpu_s']:.0f}), "
                f"XLM-T val tweets {out['throughput_accurate_xlmt_val_msgs_per_s']:.0f} "
                f"(per CPU-second {out['throughput_accurate_xlmt_val_msgs_per_cpu_s']:.0f})",
            )
        )
        rows.append(
            (
                "throughput full (msgs/s, 1 core)",
                "-",
                f"our posts {out['throughput_full_msgs_per_s']:.0f} "
                f"(per CPU-second {out['throughput_full_msgs_per_cpu_s']:.0f})",
            )
        )
        r = out["routed_to_e5"]
        rows.append(
            (
                "accurate: share of posts sent to e5",
                "-",
                f"our posts {r['throughput_posts']:.3f}, XLM-T val {r['xlmt_val']:.3f}, "
                f"complaint tweets {r['complaint_tweets']:.3f}",
            )
        )
    c = out.get("complaint_cv_accurate")
    if c and c.get("routed_to_full") is not None:
        rows.append(("complaint CV: share sent to e5", "-", f"{c['routed_to_full']:.3f}"))
    width = max(len(r[0]) for r in rows)
    print(f"{'figure':<{width}}  {'target':<14}  measured")
    for name, target, measured in rows:
        print(f"{name:<{width}}  {target:<14}  {measured}")


if __name__ == "__main__":
    main()
