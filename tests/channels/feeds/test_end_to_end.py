"""Feeds end to end: a blog's feed on the local feed server, connected with `townsquare channels
add feeds`, read by a running Townsquare (runtime + API + listener service). Items appear as
conversations through the API, later items too, with 304s in between; replies are refused
with a reason; broken answers from the feed are logged and the listener keeps going; a restart
in the middle loses and duplicates nothing."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from tests import api_client as api
from tests.channels.feeds.feedserver import FeedServer, Post, wordpress_feed
from tests.conftest import Users, free_port, townsquare_server, wait_for
from townsquare.channels.listeners import ListenerService
from townsquare.cli import app
from townsquare.config import Settings
from townsquare.runtime import Runtime
from townsquare.store import accounts

FEED = "/acme/feed/"
AUTHORS = ["Ann Archer", "Ben Brook", "Cleo Cruz", "Dan Dorn", "Eve Ekman", "Fay Fox", "Gus Gray"]
STARTED = time.time()


def post(number: int) -> Post:
    return Post(
        str(number),
        f"Acme problem report {number}",
        AUTHORS[number - 1],
        f"<p>Report {number}: the Acme app <em>logs me out</em> again.</p>",
        STARTED - 3600 + number * 60,
    )


class Blog:
    """The publisher: a WordPress feed that grows post by post."""

    def __init__(self, server: FeedServer) -> None:
        self.server = server
        self.posts: list[Post] = []

    def publish(self, *numbers: int) -> None:
        self.posts += [post(number) for number in numbers]
        self.server.publish(FEED, wordpress_feed(self.posts))

    def statuses(self) -> list[int]:
        return self.server.statuses(FEED)


@pytest.fixture
def blog(feed_server: FeedServer) -> Iterator[Blog]:
    yield Blog(feed_server)


def connect(sqlite_url: str, url: str, account: str = "acme-watch") -> None:
    result = CliRunner().invoke(
        app,
        [
            "channels", "add", "feeds", "--account", account,
            "--set", f"url={url}", "--set", "poll_interval=1", "--set", "keywords=acme",
            "--database-url", sqlite_url,
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert f"connected RSS/Atom feeds account '{account}'" in result.output


def account_state(runtime: Runtime, account: str) -> tuple[str, str | None]:
    with runtime.db.read() as conn:
        row = accounts.get_account(conn, "feeds", account)
    assert row is not None
    return row["status"], row["status_detail"]


def conversations(base: str, users: Users) -> list[dict[str, Any]]:
    return api.conversations(base, users, limit="100")


def messages(base: str, users: Users) -> list[dict[str, Any]]:
    return api.all_messages(base, users, limit="100")


def count(base: str, users: Users, expected: int) -> bool:
    return len(messages(base, users)) == expected


def more_requests(blog: Blog, status: int, how_many: int) -> None:
    """Wait until the listener asked the feed `how_many` more times and got `status`."""
    before = blog.statuses().count(status)
    wait_for(lambda: blog.statuses().count(status) >= before + how_many, timeout=15)


def test_feed_items_become_conversations_and_survive_a_restart(sqlite_url: str, blog: Blog) -> None:
    blog.publish(1, 2)
    port = free_port()
    settings = Settings(database_url=sqlite_url, triage="off", public_url=f"http://127.0.0.1:{port}", incidents=False)
    connect(sqlite_url, blog.server.url(FEED))
    # A second feed whose publisher removed it: the account asks for a reconnect, the other goes on.
    blog.server.answer("/old-feed", 410, {"Content-Type": "text/plain"}, b"gone")
    connect(sqlite_url, blog.server.url("/old-feed"), account="old-blog")

    first = Runtime.create(settings)
    users = Users(first)
    with townsquare_server(first, services=[ListenerService(first)], port=port) as server:
        wait_for(lambda: count(server.url, users, 2), timeout=15)
        items = conversations(server.url, users)
        assert sorted(item["contact_name"] for item in items) == ["Ann Archer", "Ben Brook"]
        assert {item["channel"] for item in items} == {"feeds"} and {item["account"] for item in items} == {
            "acme-watch"
        }
        [ann] = [m for m in messages(server.url, users) if m["author_name"] == "Ann Archer"]
        assert ann["text"] == "Acme problem report 1\n\nReport 1: the Acme app logs me out again."
        assert ann["url"] == "https://blog.example.org/1/" and ann["visibility"] == "public"
        assert ann["external_id"] == "https://blog.example.org/?p=1" and ann["language"] == "en"

        # Nothing new: the listener keeps asking, and the blog answers 304 Not Modified.
        more_requests(blog, 304, 2)
        assert count(server.url, users, 2)
        wait_for(lambda: account_state(first, "old-blog")[0] == "reconnect")
        assert "is gone (410 Gone)" in (account_state(first, "old-blog")[1] or "")
        assert blog.server.statuses("/old-feed") == [410]  # asked once, not hammered

        blog.publish(3)
        wait_for(lambda: count(server.url, users, 3), timeout=15)

        # A feed cannot be answered in the channel: the API says so before anything is queued.
        response = httpx.post(
            f"{server.url}/api/conversations/{items[0]['id']}/replies",
            json={"text": "Sorry to hear that, we are on it.", "visibility": "public"},
            headers=users.headers("agent"),
        )
        assert response.status_code == 422, response.text
        assert "feeds cannot be answered in the channel" in response.text

        # Broken answers from the publisher: logged, skipped, and the listener keeps going.
        blog.server.answer(FEED, 503, {"Content-Type": "text/html"}, b"<h1>Service Unavailable</h1>")
        more_requests(blog, 503, 1)
        blog.server.publish(FEED, b"<html><body>maintenance</body></html>", "text/html")
        more_requests(blog, 200, 1)
        blog.server.publish(FEED, wordpress_feed(blog.posts)[:-200])  # cut off mid-document: malformed
        more_requests(blog, 200, 1)
        blog.publish(4)
        wait_for(lambda: count(server.url, users, 4), timeout=20)

    # Townsquare is down while the blog publishes two more posts.
    blog.publish(5, 6)
    second = Runtime.create(settings)
    with townsquare_server(second, services=[ListenerService(second)], port=port) as server:
        wait_for(lambda: count(server.url, users, 6), timeout=15)
        more_requests(blog, 304, 2)  # a few more polls: nothing comes twice
        found = messages(server.url, users)
        assert len(found) == 6 and len({m["external_id"] for m in found}) == 6
        assert sorted(item["contact_name"] for item in conversations(server.url, users)) == AUTHORS[:6]
        blog.publish(7)
        wait_for(lambda: count(server.url, users, 7), timeout=15)
