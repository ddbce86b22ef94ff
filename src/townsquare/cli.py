"""The `townsquare` command."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TextIO

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from townsquare.config import Settings, load_settings

if TYPE_CHECKING:
    from townsquare.store.db import Database

app = typer.Typer(help="Townsquare: answer customers where they speak.", no_args_is_help=True)
users_app = typer.Typer(help="Agents and their API tokens.", no_args_is_help=True)
channels_app = typer.Typer(help="Connectors and connected network accounts.", no_args_is_help=True)
export_app = typer.Typer(help="Write data out as JSON lines.", no_args_is_help=True)
eval_app = typer.Typer(help="Measure models on labelled data.", no_args_is_help=True)
incidents_app = typer.Typer(help="Outage detection and incidents.", no_args_is_help=True)
app.add_typer(users_app, name="users")
app.add_typer(channels_app, name="channels")
app.add_typer(export_app, name="export")
app.add_typer(eval_app, name="eval")
app.add_typer(incidents_app, name="incidents")

err = Console(stderr=True)
out = Console()

DatabaseOption = Annotated[
    str | None, typer.Option("--database-url", help="SQLAlchemy URL; default from settings (townsquare.db).")
]


def _settings(database_url: str | None = None, **overrides: object) -> Settings:
    """Settings, or a clear message naming each bad setting and where it came from."""
    try:
        return load_settings(database_url=database_url, **overrides)
    except ValidationError as error:
        for problem in error.errors():
            name = ".".join(str(part) for part in problem["loc"])
            err.print(
                f"[red]setting {name}: {problem['msg']}[/red] (flag, TOWNSQUARE_{name.split('.')[0].upper()} "
                "or townsquare.toml)",
                highlight=False,
            )
        raise typer.Exit(2) from None
    except (OSError, ValueError) as error:  # an unreadable or malformed townsquare.toml
        err.print(f"[red]configuration: {error}[/red]", highlight=False)
        raise typer.Exit(2) from None


def _database(database_url: str | None = None) -> Database:
    """The configured database, its schema brought up to date."""
    from townsquare.store.db import Database

    db = Database(_settings(database_url).database_url)
    db.migrate()
    return db


def _logging(level: str = "INFO") -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


@app.command()
def migrate(database_url: DatabaseOption = None) -> None:
    """Create the database or bring its schema up to date."""
    from townsquare.store.db import Database

    settings = _settings(database_url)
    Database(settings.database_url).migrate()
    out.print(f"schema up to date: {settings.database_url.split('@')[-1]}")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to bind.")] = None,
    database_url: DatabaseOption = None,
) -> None:
    """Run the API, the agent web app, webhook receivers, the pipeline and the outbox."""
    import uvicorn

    from townsquare.api.app import create_app
    from townsquare.runtime import Runtime

    _logging()
    settings = _settings(database_url, host=host, port=port)
    runtime = Runtime.create(settings)
    uvicorn.run(
        create_app(runtime, manage_runtime=True),
        host=settings.host,
        port=settings.port,
        log_level="info",
        proxy_headers=True,
    )


@app.command()
def demo(
    port: Annotated[int, typer.Option(help="Port of the web app.")] = 8000,
    rate: Annotated[float | None, typer.Option(help="Posts per minute from simulated customers.")] = None,
    outage_every: Annotated[float, typer.Option(help="Seconds between simulated outage bursts (0: none).")] = 300.0,
    database_url: Annotated[str, typer.Option("--database-url", help="Where the demo keeps its data.")] = (
        "sqlite:///townsquare-demo.db"
    ),
    keep: Annotated[bool, typer.Option(help="Keep the data of the previous demo run.")] = False,
) -> None:
    """Start the agent web app on SQLite with a simulated network of customers posting to it."""
    import uvicorn

    from townsquare.api.app import create_app
    from townsquare.channels.demo.setup import DEMO_PASSWORD, DEMO_USERS, build_demo
    from townsquare.runtime import Runtime

    _logging("WARNING")
    if database_url.startswith("sqlite:///") and not keep:
        for suffix in ("", "-wal", "-shm"):
            Path(database_url.removeprefix("sqlite:///") + suffix).unlink(missing_ok=True)
    settings = _settings(database_url, port=port, public_url=f"http://127.0.0.1:{port}", demo_rate_per_minute=rate)
    runtime = Runtime.create(settings)
    demo_parts = build_demo(
        runtime,
        rate_per_minute=settings.demo_rate_per_minute,
        outage_every_seconds=outage_every,
        history_hours=0 if keep else 6,
    )

    from townsquare.channels.listeners import ListenerService
    from townsquare.channels.webchat.service import WebchatService
    from townsquare.channels.webchat.setup import ensure_account

    ensure_account(runtime, "acme", title="Acme support", greeting="Hi! How can we help?")
    web = create_app(
        runtime, manage_runtime=True, services=[demo_parts, ListenerService(runtime), WebchatService(runtime)]
    )
    table = Table(title="Townsquare demo", show_header=False)
    table.add_row("Agent inbox", f"http://127.0.0.1:{port}/inbox")
    table.add_row("Demo network timeline", f"http://127.0.0.1:{port}/demo-network/")
    table.add_row("Web chat (visitor side)", f"http://127.0.0.1:{port}/webchat/acme/preview")
    table.add_row("Public status page", f"http://127.0.0.1:{port}/status")
    table.add_row("API docs", f"http://127.0.0.1:{port}/docs")
    for email, _name, role in DEMO_USERS:
        table.add_row(f"Sign in ({role.value})", f"{email} / {DEMO_PASSWORD}")
    out.print(table)
    uvicorn.run(web, host="127.0.0.1", port=port, log_level="warning")


@app.command()
def ingest(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="JSON lines; see docs/ingest.md.")],
    database_url: DatabaseOption = None,
) -> None:
    """Feed messages from a JSON-lines file through the pipeline (imports, migrations, replays)."""
    from townsquare.transfer.importing import ingest_file

    _logging("WARNING")
    settings = _settings(database_url)
    report = ingest_file(settings, file, err)
    out.print(
        f"stored {report.stored}, duplicates {report.duplicates}, bad lines {report.bad_lines}, failed {report.failed}"
    )
    if report.bad_lines or report.failed:
        raise typer.Exit(1)


def _export(write: Callable[[Settings, TextIO], int], settings: Settings, output: Path | None) -> int:
    """Run an export into ``output``, or standard output without one; the number of lines."""
    if output is None:
        return write(settings, typer.get_text_stream("stdout"))
    with output.open("w", encoding="utf-8") as stream:
        return write(settings, stream)


@export_app.command("conversations")
def export_conversations(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File to write; standard output if omitted.")
    ] = None,
    database_url: DatabaseOption = None,
) -> None:
    """One conversation per line, with its messages, notes, tags and fields."""
    from townsquare.transfer.exporting import export_conversations as export

    count = _export(export, _settings(database_url), output)
    err.print(f"exported {count} conversations")


@export_app.command("labelled")
def export_labelled(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File to write; standard output if omitted.")
    ] = None,
    database_url: DatabaseOption = None,
) -> None:
    """The agents' corrections of triage as labelled JSON lines (for train --labelled, eval triage)."""
    from townsquare.transfer.exporting import export_labelled as export

    count = _export(export, _settings(database_url), output)
    err.print(f"exported {count} labelled messages")


@eval_app.command("corrections")
def eval_corrections(
    since: Annotated[
        datetime | None, typer.Option(help="Only labels given at or after this date or time (UTC).")
    ] = None,
    model: Annotated[
        str | None, typer.Option(help="Only the answers of this model (as the report lists them per model).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON instead of tables")] = False,
    database_url: DatabaseOption = None,
) -> None:
    """How triage's stored answers compare with the agents' corrections: per-class precision,
    recall and F1 and macro-F1 per language, with no model run again."""
    import json

    from townsquare.store import labels
    from townsquare.triage.corrections import compare_with_labels, correction_report_as_dict, format_correction_report

    db = _database(database_url)
    with db.read() as conn:
        report = compare_with_labels(labels.labelled_messages(conn, since=since), model)
    db.dispose()
    typer.echo(json.dumps(correction_report_as_dict(report), indent=2) if as_json else format_correction_report(report))


@users_app.command("create")
def create_user(
    email: Annotated[str, typer.Option(help="Sign-in e-mail address.")],
    name: Annotated[str, typer.Option(help="Display name.")],
    role: Annotated[str, typer.Option(help="admin, agent or viewer.")] = "agent",
    password: Annotated[str | None, typer.Option(help="Asked for when omitted.")] = None,
    database_url: DatabaseOption = None,
) -> None:
    """Create a user (the first admin, typically)."""
    from townsquare.actions import ActionError, Actor
    from townsquare.model import Role
    from townsquare.runtime import Runtime

    if password is None:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        chosen = Role(role)
    except ValueError:
        raise typer.BadParameter("role must be admin, agent or viewer") from None
    runtime = Runtime.create(_settings(database_url))
    try:
        user_id = runtime.actions.create_user(
            Actor(None, "cli", Role.ADMIN), email=email, name=name, role=chosen, password=password
        )
    except ActionError as error:
        err.print(f"[red]{error.message}[/red]")
        raise typer.Exit(1) from None
    finally:
        runtime.stop()
    out.print(f"created {chosen.value} {email} ({user_id})")


@users_app.command("token")
def create_token(
    email: Annotated[str, typer.Option(help="Whose token.")],
    name: Annotated[str, typer.Option(help="What the token is for.")] = "cli",
    database_url: DatabaseOption = None,
) -> None:
    """Create an API token; it is printed once."""
    from townsquare.actions import Actor
    from townsquare.model import Role
    from townsquare.runtime import Runtime
    from townsquare.store import users

    runtime = Runtime.create(_settings(database_url))
    try:
        with runtime.db.read() as conn:
            user = users.user_by_email(conn, email)
        if user is None:
            err.print(f"[red]no user {email}[/red]")
            raise typer.Exit(1)
        _id, token = runtime.actions.create_token(Actor(None, "cli", Role.ADMIN), user["id"], name)
    finally:
        runtime.stop()
    out.print(token)


@users_app.command("list")
def list_users(database_url: DatabaseOption = None) -> None:
    """List users and their roles."""
    from townsquare.store import users

    db = _database(database_url)
    table = Table("e-mail", "name", "role", "active")
    with db.read() as conn:
        for user in users.list_users(conn):
            table.add_row(user["email"], user["name"], user["role"], "yes" if user["active"] else "no")
    out.print(table)


@channels_app.command("list")
def list_channels() -> None:
    """Every installed connector, with what it can do."""
    from townsquare.channels.registry import connector_classes

    table = Table("name", "network", "receives", "public replies", "private messages", "max text")
    for name, cls in connector_classes().items():
        limits = cls.limits
        table.add_row(
            name,
            cls.title,
            ", ".join(cls.receives) or "-",
            "yes" if limits.public_replies else "no",
            "yes" if limits.private_messages else "no",
            str(limits.max_text_length),
        )
    out.print(table)


def _parse_settings(pairs: list[str]) -> dict[str, object]:
    values: dict[str, object] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise typer.BadParameter(f"expected KEY=VALUE, got {pair!r}")
        values[key.strip()] = value
    return values


@channels_app.command("add")
def add_account(
    network: Annotated[str, typer.Argument(help="Connector name, see `townsquare channels list`.")],
    account: Annotated[str, typer.Option("--account", help="A name for this account, e.g. the handle.")],
    settings_pairs: Annotated[
        list[str] | None, typer.Option("--set", help="A connector setting as KEY=VALUE; repeat for each.")
    ] = None,
    database_url: DatabaseOption = None,
) -> None:
    """Connect an account of a network (or update its settings); `channels settings NETWORK` lists them."""
    from pydantic import ValidationError

    from townsquare.channels.base import secret_fields
    from townsquare.channels.registry import UnknownChannel, connector_class
    from townsquare.store import accounts

    try:
        cls = connector_class(network)
    except UnknownChannel:
        err.print(f"[red]no connector named {network!r}[/red]; see `townsquare channels list`")
        raise typer.Exit(2) from None
    try:
        validated = cls.settings_model.model_validate(_parse_settings(settings_pairs or []))
    except ValidationError as error:
        for problem in error.errors():
            err.print(f"[red]{'.'.join(str(p) for p in problem['loc'])}: {problem['msg']}[/red]")
        raise typer.Exit(2) from None
    stored = validated.model_dump(mode="json")
    for name in secret_fields(cls.settings_model):
        value = getattr(validated, name)
        stored[name] = value.get_secret_value() if hasattr(value, "get_secret_value") else value
    db = _database(database_url)
    with db.write() as conn:
        accounts.upsert_account(conn, network, account, stored)
    out.print(f"connected {cls.title} account {account!r}")


@channels_app.command("settings")
def connector_settings(network: Annotated[str, typer.Argument(help="Connector name.")]) -> None:
    """The settings a connector takes."""
    from townsquare.channels.base import secret_fields
    from townsquare.channels.registry import connector_class

    cls = connector_class(network)
    secrets = secret_fields(cls.settings_model)
    table = Table("setting", "required", "secret", "description")
    for name, field in cls.settings_model.model_fields.items():
        table.add_row(
            name, "yes" if field.is_required() else "no", "yes" if name in secrets else "", field.description or ""
        )
    out.print(table)


@channels_app.command("accounts")
def list_accounts(database_url: DatabaseOption = None) -> None:
    """Connected accounts and their state (secrets are never shown)."""
    from townsquare.store import accounts

    db = _database(database_url)
    table = Table("network", "account", "status", "detail")
    with db.read() as conn:
        for row in accounts.list_accounts(conn):
            table.add_row(row["channel"], row["name"], row["status"], row["status_detail"] or "")
    out.print(table)


def _register_optional_commands() -> None:
    """Commands of the triage and incident packages, when they are installed in this build."""
    try:
        from townsquare.triage.commands import register as register_triage
    except ImportError:
        pass
    else:
        register_triage(app, eval_app)
    try:
        from townsquare.incidents.commands import register as register_incidents
    except ImportError:
        pass
    else:
        register_incidents(incidents_app)


_register_optional_commands()

if __name__ == "__main__":
    app()
