"""The administration commands a new team runs first: create users, list them, connect an account
and list accounts, each against the database given on the command line (migrated on first use)."""

from __future__ import annotations

from typer.testing import CliRunner

from townsquare.cli import app


def test_users_and_accounts_from_the_command_line(sqlite_url: str) -> None:
    runner = CliRunner()
    database = ["--database-url", sqlite_url]
    created = runner.invoke(
        app,
        ["users", "create", "--email", "lead@example.com", "--name", "Lea Lead", "--role", "admin",
         "--password", "correct horse battery", *database],
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    listed = runner.invoke(app, ["users", "list", *database])
    assert listed.exit_code == 0, listed.output
    assert "lead@example.com" in listed.output and "admin" in listed.output

    refused = runner.invoke(app, ["users", "create", "--email", "x@example.com", "--name", "X", "--role", "boss",
                                  "--password", "correct horse battery", *database])  # fmt: skip
    assert refused.exit_code != 0 and "role must be admin, agent or viewer" in refused.output

    empty = runner.invoke(app, ["channels", "accounts", *database])
    assert empty.exit_code == 0 and "watch" not in empty.output
    added = runner.invoke(
        app, ["channels", "add", "feeds", "--account", "watch", "--set", "url=http://127.0.0.1:9/feed.xml", *database]
    )
    assert added.exit_code == 0, added.output
    accounts = runner.invoke(app, ["channels", "accounts", *database])
    assert accounts.exit_code == 0, accounts.output
    assert "feeds" in accounts.output and "watch" in accounts.output
