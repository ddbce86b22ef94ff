"""Opening the database: engine, connection settings per dialect, migrations, transactions."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, Table, create_engine, event, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import make_url

MIGRATIONS = Path(__file__).parent / "migrations"


def upsert_insert(conn: Connection, table: Table) -> Any:
    """An INSERT into ``table`` that takes ``on_conflict_do_nothing`` / ``on_conflict_do_update``:
    both our dialects have them, each under its own class."""
    return (pg_insert if conn.dialect.name == "postgresql" else sqlite_insert)(table)


def normalize_url(url: str) -> str:
    """Accept the usual `postgres://` spellings and pick the psycopg 3 driver for them."""
    parsed = make_url(url)
    if parsed.drivername in ("postgres", "postgresql"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, record: Any) -> None:
        # Let SQLAlchemy's "begin" event decide how transactions start (see below).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        record.info["townsquare_synchronous"] = "NORMAL"  # raised per transaction: see _synchronous
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # Writers take the write lock up front: a deferred transaction that reads and then
        # writes fails at once with SQLITE_BUSY when another writer got in between, instead of
        # waiting. Readers stay deferred, so they never block anybody in WAL mode.
        options = conn.get_execution_options()
        if options.get("townsquare_write", False):
            _synchronous(conn, "FULL" if options.get("townsquare_durable", False) else "NORMAL")
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")


def _synchronous(conn: Connection, level: str) -> None:
    """Set how hard this connection's commits reach the disk, only when it changes (the pool
    hands connections around). In WAL mode NORMAL survives a killed process but not a power
    cut; FULL syncs the WAL at every commit, which is what a transaction needs that lets us
    acknowledge a webhook (the bus journal). PRAGMA synchronous cannot change inside a
    transaction, so this runs before BEGIN."""
    info = conn.connection.info
    if info.get("townsquare_synchronous") != level:
        conn.exec_driver_sql(f"PRAGMA synchronous={level}")
        info["townsquare_synchronous"] = level


def _without_nul_parameters(
    _conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _executemany: bool
) -> tuple[str, Any]:
    """PostgreSQL refuses NUL in text values, and any free text can carry one (an agent's reply,
    a note, a contact's name typed into a form: legal in JSON and in forms). Every text value
    written goes through here, on both databases so that both store the same text, and no input
    anywhere turns into a 500. Rows are copied only when they hold a NUL: this runs for every
    statement of the pipeline's hot path. (JSON values are not looked into: inbound payloads are
    cleaned when parsed, `model.without_nul`.) Named parameters (PostgreSQL) come as dicts,
    positional ones (SQLite) as tuples; executemany as a list of either."""
    if isinstance(parameters, list):
        return statement, [_row_without_nul(row) for row in parameters]
    return statement, _row_without_nul(parameters)


def _row_without_nul(row: Any) -> Any:
    values = row.values() if isinstance(row, dict) else row if isinstance(row, tuple) else ()
    if not any(isinstance(value, str) and "\x00" in value for value in values):
        return row
    if isinstance(row, dict):
        return {key: _text_without_nul(value) for key, value in row.items()}
    return tuple(_text_without_nul(value) for value in row)


def _text_without_nul(value: Any) -> Any:
    return value.replace("\x00", "") if isinstance(value, str) else value


class Database:
    """One engine and the ways to use it. Writers use `write()`, readers `read()`."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = normalize_url(url)
        parsed = make_url(self.url)
        self.dialect = parsed.get_backend_name()
        kwargs: dict[str, Any] = {"echo": echo, "future": True}
        if self.dialect == "sqlite":
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        else:
            kwargs["pool_pre_ping"] = True
            kwargs["pool_size"] = 10
        self.engine = create_engine(self.url, **kwargs)
        if self.dialect == "sqlite":
            _configure_sqlite(self.engine)
        event.listen(self.engine, "before_cursor_execute", _without_nul_parameters, retval=True)

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    def migrate(self) -> None:
        """Bring the schema to the newest migration (creates the database file if needed)."""
        config = alembic_config(self.url)
        with self.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    @contextmanager
    def write(self, *, durable: bool = False) -> Iterator[Connection]:
        """A write transaction. `durable`: the commit must survive a power cut, not only a killed
        process (SQLite syncs the WAL at this commit; PostgreSQL always does by default)."""
        with self.engine.connect() as connection:
            connection = connection.execution_options(townsquare_write=True, townsquare_durable=durable)
            with connection.begin():
                yield connection

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as connection, connection.begin():
            yield connection

    def ping(self) -> None:
        """Raise when the database does not answer."""
        with self.read() as connection:
            connection.execute(text("SELECT 1"))

    def dispose(self) -> None:
        self.engine.dispose()


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config
