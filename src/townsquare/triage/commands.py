"""``townsquare triage``, ``townsquare train`` and ``townsquare eval triage``."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TextIO

import typer
from pydantic import ValidationError

from .schema import CustomPattern, TriageInput

ModelOption = Annotated[
    str,
    typer.Option(
        "--model",
        "-m",
        help="fast (n-grams, >1,000/s), accurate (USE, e5 where unsure; >100/s) or full (e5 on every post)",
    ),
]


def _patterns(values: list[str] | None) -> list[CustomPattern]:
    """``--pattern kind=regex`` options into company patterns."""
    out = []
    for value in values or []:
        kind, sep, regex = value.partition("=")
        if not sep or not kind or not regex:
            raise typer.BadParameter(f"--pattern wants kind=regex, got {value!r}")
        out.append(CustomPattern(kind=kind, regex=regex))
    return out


def _urgency_words(values: list[str] | None) -> dict[str, list[str]]:
    """``--urgency-word topic=word`` options into the company's words per topic."""
    from .urgency import company_words_error

    words: dict[str, list[str]] = {}
    for value in values or []:
        topic, sep, word = value.partition("=")
        if not sep:
            raise typer.BadParameter(f"--urgency-word wants topic=word, got {value!r}")
        words.setdefault(topic, []).append(word)
    error = company_words_error(words)
    if error:
        raise typer.BadParameter(error.replace("urgency_words.", "--urgency-word "))
    return words


def _check_mode(model: str) -> str:
    from .triager import MODES

    if model not in MODES:
        raise typer.BadParameter(f"--model must be one of {', '.join(MODES)}, got {model!r}")
    return model


def _error_line(line_no: int, message: str) -> str:
    return json.dumps({"line": line_no, "error": message}, ensure_ascii=False)


def run_triage(
    source: TextIO,
    sink: TextIO,
    errors: TextIO,
    mode: str,
    patterns: list[CustomPattern],
    batch_size: int = 256,
    e5_share: float | None = None,
    urgency_words: dict[str, list[str]] | None = None,
) -> tuple[int, int]:
    """Triage JSONL from ``source`` to ``sink``; bad lines get an error line on ``errors``. Returns (ok, bad).

    Output order follows input order; an error line names the 1-based input line number.
    """
    from . import load_triager

    triager = load_triager(mode, patterns, e5_share, urgency_words)  # type: ignore[arg-type]
    ok = bad = 0
    pending: list[TriageInput] = []

    def flush() -> None:
        nonlocal ok
        for result in triager.triage(pending):
            sink.write(result.model_dump_json() + "\n")
            ok += 1
        pending.clear()

    for line_no, line in enumerate(source, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            if not isinstance(record, dict):
                raise ValueError("a line must be a JSON object")
            if "id" in record and not isinstance(record["id"], str):
                record["id"] = str(record["id"])
            item = TriageInput.model_validate(record)
        except (ValueError, ValidationError) as exc:
            message = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else str(exc)
            if isinstance(exc, ValidationError):
                message = f"{'.'.join(str(p) for p in exc.errors()[0]['loc'])}: {message}"
            flush()  # keep the error line next to where it happened in the output
            sink.flush()
            errors.write(_error_line(line_no, message) + "\n")
            bad += 1
            continue
        pending.append(item)
        if len(pending) >= batch_size:
            flush()
    flush()
    return ok, bad


@contextmanager
def _progress() -> Iterator[Callable[[str, int], Callable[[int], None]]]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        transient=False,
    ) as bar:

        def start(description: str, total: int) -> Callable[[int], None]:
            task = bar.add_task(description, total=total)
            return lambda n: bar.advance(task, n)

        yield start


def register(app: typer.Typer, eval_app: typer.Typer) -> None:
    """Add ``triage`` and ``train`` to ``app`` and ``triage`` to ``eval_app``."""

    @app.command("triage")
    def triage_command(
        model: ModelOption = "fast",
        pattern: Annotated[
            list[str] | None, typer.Option("--pattern", help="company id pattern kind=regex, repeatable")
        ] = None,
        urgency_word: Annotated[
            list[str] | None,
            typer.Option(
                "--urgency-word",
                help="the company's own urgency word topic=word (safety, fraud, legal, outage), repeatable",
            ),
        ] = None,
        batch_size: Annotated[int, typer.Option(help="posts per model call")] = 256,
        e5_share: Annotated[
            float | None,
            typer.Option(
                "--e5-share",
                min=0.0,
                max=1.0,
                help="accurate mode: about this share of posts goes on to e5 (default: the model's, 0.25)",
            ),
        ] = None,
    ) -> None:
        """Triage posts: JSONL {"id", "text", ["language"]} on stdin, one result per line on stdout.

        Bad input lines get {"line": N, "error": ...} on stderr and the run goes on.
        """
        mode = _check_mode(model)
        if e5_share is not None and mode != "accurate":
            # fast never runs e5 and full runs it on every post: a share would be silently ignored
            raise typer.BadParameter(f"--e5-share applies to --model accurate only, not {mode}")
        words = _urgency_words(urgency_word)
        _, bad = run_triage(sys.stdin, sys.stdout, sys.stderr, mode, _patterns(pattern), batch_size, e5_share, words)
        if bad:
            typer.echo(f"{bad} bad line(s) skipped", err=True)

    @app.command("train")
    def train_command(
        data: Annotated[
            Path | None, typer.Option(help="folder with the public labelled sets (default ../shared/data)")
        ] = None,
        labelled: Annotated[
            list[Path] | None, typer.Option("--labelled", help="extra labelled JSONL (a company's history)")
        ] = None,
        model: Annotated[str, typer.Option("--model", "-m", help="fast, accurate or both")] = "both",
        out: Annotated[Path | None, typer.Option(help="write weight files here instead of the package")] = None,
        limit: Annotated[int | None, typer.Option(help="at most N examples per language/source (quick runs)")] = None,
        embedding_cache: Annotated[
            Path | None, typer.Option(help="folder for cached sentence embeddings (one .npz per encoder)")
        ] = None,
        encoders: Annotated[
            str, typer.Option(help="sentence encoders of the accurate model, comma-separated: use, e5")
        ] = "use,e5",
    ) -> None:
        """Rebuild the shipped classifiers (fast.npz, accurate.npz, language.npz) from labelled data."""
        from .data import shared_data_dir
        from .train import train

        if model not in ("fast", "accurate", "both"):
            raise typer.BadParameter("--model must be fast, accurate or both")
        data_dir = data or shared_data_dir()
        if data_dir is None:
            typer.echo("no public labelled data found: pass --data (or set TOWNSQUARE_SHARED_DATA)", err=True)
            raise typer.Exit(2)
        from .models import ENCODERS

        names = [n.strip() for n in encoders.split(",") if n.strip()]
        if not names or any(n not in ENCODERS for n in names):
            raise typer.BadParameter(f"--encoders takes a comma-separated list of {', '.join(ENCODERS)}")
        from .language_train import train_language

        # First: choosing the fast model's language mix reads the romanized-Hindi list.
        language = train_language(data_dir, out)  # models/language.npz (romanized Hindi)
        with _progress() as progress:
            summary: dict[str, Any] = train(
                data_dir, labelled or [], model, out, limit, embedding_cache, progress, names
            )
        summary["language"] = language
        typer.echo(json.dumps(summary, indent=2))

    @eval_app.command("triage")
    def eval_command(
        labelled: Annotated[
            Path,
            typer.Argument(
                help="labelled JSONL: text plus any of language, sentiment, intents, complaint, spam, needs_reply"
            ),
        ],
        model: ModelOption = "fast",
        as_json: Annotated[bool, typer.Option("--json", help="print JSON instead of tables")] = False,
    ) -> None:
        """Per-class precision/recall/F1 and macro-F1 per language on a labelled file."""
        from . import load_triager
        from .data import read_jsonl
        from .evaluate import evaluate_rows, format_reports, reports_as_dict

        try:
            rows = list(read_jsonl(labelled))
        except (OSError, ValueError) as exc:
            typer.echo(str(exc), err=True)
            raise typer.Exit(2) from exc
        reports = evaluate_rows(rows, load_triager(_check_mode(model)).triage)  # type: ignore[arg-type]
        typer.echo(json.dumps(reports_as_dict(reports), indent=2) if as_json else format_reports(reports))
