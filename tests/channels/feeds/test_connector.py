"""The feed connector against the local feed server: conditional GETs (the 304 path), the cursor
across restarts, redirects, refusals, rate limits, huge feeds, keywords, and sending refused."""

from __future__ import annotations

import json
import logging
import time
from email.utils import formatdate

import httpx
import pytest
from pydantic import ValidationError

from tests.channels.feeds.feedserver import FeedServer, Post, gzip_bomb, wordpress_feed
from townsquare.channels import registry
from townsquare.channels.base import DeliveryError, RateLimited, ReconnectRequired
from townsquare.channels.feeds.connector import FeedConnector, FeedSettings
from townsquare.channels.feeds.cursor import SEEN_LIMIT, FeedCursor, id_hash
from townsquare.channels.feeds.normalize import CUT_MARK, author_of
from townsquare.channels.feeds.payloads import Entry, FeedInfo, Person
from townsquare.channels.feeds.text import html_to_text
from townsquare.model import MAX_TEXT_CHARS, AuthorIdentity, OutboundReply, Visibility

NOW = time.time()


def post(number: int, author: str = "Ann", html: str = "<p>The Acme app logs me out.</p>") -> Post:
    return Post(str(number), f"Post {number}", author, html, NOW - 3600 + number)


def feed(server: FeedServer, path: str = "/feed", **settings: object) -> FeedConnector:
    return FeedConnector("watch", FeedSettings.model_validate({"url": server.url(path), **settings}))


def ids(result_messages: list) -> list[str]:  # type: ignore[type-arg]
    return [message.external_id.rsplit("=", 1)[-1] for message in result_messages]


def test_conditional_get_takes_the_304_path(feed_server: FeedServer) -> None:
    feed_server.publish("/feed", wordpress_feed([post(1), post(2)]))
    connector = feed(feed_server)
    first = connector.poll(None)
    assert ids(first.messages) == ["1", "2"]
    state = json.loads(first.cursor or "")
    assert state["etag"] and state["last_modified"]

    second = connector.poll(first.cursor)
    assert second.messages == []
    assert feed_server.statuses("/feed") == [200, 304]
    conditional = feed_server.seen("/feed")[1]
    assert conditional.if_none_match == state["etag"]
    assert conditional.if_modified_since == state["last_modified"]
    assert conditional.user_agent and conditional.user_agent.startswith("Townsquare-Feeds/")

    feed_server.publish("/feed", wordpress_feed([post(1), post(2), post(3)]))
    third = connector.poll(second.cursor)
    assert ids(third.messages) == ["3"]
    assert feed_server.statuses("/feed") == [200, 304, 200]


def test_last_modified_alone_is_enough(feed_server: FeedServer) -> None:
    feed_server.publish("/feed", wordpress_feed([post(1)]), etag=False)
    connector = feed(feed_server)
    first = connector.poll(None)
    assert json.loads(first.cursor or "")["etag"] is None
    assert connector.poll(first.cursor).messages == []
    assert feed_server.statuses("/feed") == [200, 304]
    assert feed_server.seen("/feed")[1].if_none_match is None


def test_a_restart_neither_loses_nor_duplicates(feed_server: FeedServer) -> None:
    feed_server.publish("/feed", wordpress_feed([post(1), post(2)]))
    cursor = feed(feed_server).poll(None).cursor
    # The feed changes while nothing runs; a new connector (a restarted process) resumes.
    feed_server.publish("/feed", wordpress_feed([post(1), post(2), post(3), post(4)]))
    resumed = feed(feed_server).poll(cursor)
    assert ids(resumed.messages) == ["3", "4"]
    # The cursor was not stored (a crash right after the fetch): the same items come again,
    # which idempotent ingest stores once; the stored cursor then moves on.
    assert ids(feed(feed_server).poll(cursor).messages) == ["3", "4"]
    assert feed(feed_server).poll(resumed.cursor).messages == []


def test_an_item_that_reappears_is_not_new(feed_server: FeedServer) -> None:
    feed_server.publish("/feed", wordpress_feed([post(1), post(2), post(3)]))
    connector = feed(feed_server)
    cursor = connector.poll(None).cursor
    feed_server.publish("/feed", wordpress_feed([post(3)]))  # 1 and 2 fall out of the window
    cursor = connector.poll(cursor).cursor
    feed_server.publish("/feed", wordpress_feed([post(1), post(3), post(5)]))  # 1 is back
    assert ids(connector.poll(cursor).messages) == ["5"]


def test_seen_ids_are_bounded_but_keep_the_whole_window() -> None:
    cursor = FeedCursor(origin="http://x/feed")
    for start in range(0, 3 * SEEN_LIMIT, 500):
        cursor = cursor.advanced([f"id{n}" for n in range(start, start + 500)], etag=None, last_modified=None, url=None)
    assert len(cursor.seen) == SEEN_LIMIT
    assert cursor.has_seen(f"id{3 * SEEN_LIMIT - 1}") and not cursor.has_seen("id0")
    huge_window = [f"w{n}" for n in range(SEEN_LIMIT + 10)]
    cursor = cursor.advanced(huge_window, etag=None, last_modified=None, url=None)
    assert all(cursor.has_seen(external_id) for external_id in huge_window)
    assert cursor.seen[0] == id_hash("w0")
    assert len(cursor.dump()) < 25 * len(cursor.seen) + 200  # small enough to store every poll


def test_unreadable_cursor_starts_from_the_current_window(
    feed_server: FeedServer, caplog: pytest.LogCaptureFixture
) -> None:
    feed_server.publish("/feed", wordpress_feed([post(1)]))
    with caplog.at_level(logging.WARNING):
        result = feed(feed_server).poll("{not json")
    assert ids(result.messages) == ["1"]
    assert "could not be read" in caplog.text


def test_changing_the_configured_url_drops_validators_but_keeps_seen_ids(feed_server: FeedServer) -> None:
    feed_server.publish("/feed", wordpress_feed([post(1)]))
    feed_server.publish("/other", wordpress_feed([post(1), post(2)]))
    cursor = feed(feed_server).poll(None).cursor
    moved = feed(feed_server, "/other").poll(cursor)
    assert ids(moved.messages) == ["2"]
    assert feed_server.seen("/other")[0].if_none_match is None


def test_permanent_redirect_is_followed_and_remembered(
    feed_server: FeedServer, caplog: pytest.LogCaptureFixture
) -> None:
    feed_server.publish("/new-home", wordpress_feed([post(1)]))
    feed_server.redirect("/feed", "/moved", 301)
    feed_server.redirect("/moved", feed_server.url("/new-home"), 308)
    connector = feed(feed_server)
    with caplog.at_level(logging.WARNING):
        first = connector.poll(None)
    assert ids(first.messages) == ["1"]
    assert json.loads(first.cursor or "")["url"] == feed_server.url("/new-home")
    assert "moved permanently" in caplog.text
    second = connector.poll(first.cursor)
    assert second.messages == []
    assert feed_server.statuses("/feed") == [301]  # the old address is not asked again
    assert feed_server.statuses("/new-home") == [200, 304]


def test_temporary_redirect_is_followed_but_not_remembered(feed_server: FeedServer) -> None:
    feed_server.publish("/mirror", wordpress_feed([post(1)]))
    feed_server.redirect("/feed", "/mirror", 302)
    result = feed(feed_server).poll(None)
    assert ids(result.messages) == ["1"]
    assert json.loads(result.cursor or "")["url"] is None


def test_redirect_loops_stop(feed_server: FeedServer) -> None:
    feed_server.redirect("/feed", "/loop", 301)
    feed_server.redirect("/loop", "/feed", 301)
    with pytest.raises(DeliveryError, match="redirects more than 5 times"):
        feed(feed_server).poll(None)


def test_gone_feed_needs_reconnecting(feed_server: FeedServer) -> None:
    feed_server.answer("/feed", 410, {"Content-Type": "text/plain"}, b"gone")
    with pytest.raises(ReconnectRequired, match=r"is gone \(410 Gone\)") as raised:
        feed(feed_server).poll(None)
    assert not raised.value.retryable


def test_basic_auth(feed_server: FeedServer) -> None:
    feed_server.publish("/private", wordpress_feed([post(1)]))
    feed_server.require_auth("/private", "reader", "s3cret")
    with pytest.raises(ReconnectRequired, match="refused access"):
        feed(feed_server, "/private").poll(None)
    with pytest.raises(ReconnectRequired):
        feed(feed_server, "/private", username="reader", password="wrong").poll(None)
    result = feed(feed_server, "/private", username="reader", password="s3cret").poll(None)
    assert ids(result.messages) == ["1"]


def test_rate_limits_honour_retry_after(feed_server: FeedServer) -> None:
    feed_server.answer("/feed", 429, {"Retry-After": "120"})
    connector = feed(feed_server)
    with pytest.raises(RateLimited) as raised:
        connector.poll(None)
    assert raised.value.retry_after == 120.0
    # Polled again before Retry-After passed: the publisher is not asked.
    assert connector.poll("c").cursor == "c"
    assert feed_server.statuses("/feed") == [429]

    http_date = formatdate(time.time() + 60, usegmt=True)
    feed_server.answer("/busy", 503, {"Retry-After": http_date})
    with pytest.raises(RateLimited) as raised:
        feed(feed_server, "/busy").poll(None)
    assert raised.value.retry_after is not None and 50 < raised.value.retry_after <= 60


@pytest.mark.parametrize(("status", "retryable"), [(503, True), (500, True), (502, True), (404, False), (400, False)])
def test_server_errors(feed_server: FeedServer, status: int, retryable: bool) -> None:
    feed_server.answer("/feed", status, {"Content-Type": "text/html"}, b"<h1>error</h1>")
    with pytest.raises(DeliveryError, match=f"answered {status}") as raised:
        feed(feed_server).poll(None)
    assert raised.value.retryable is retryable
    assert not isinstance(raised.value, (RateLimited, ReconnectRequired))


def test_unreachable_and_slow_feeds_are_retryable(feed_server: FeedServer) -> None:
    closed = httpx.URL(feed_server.url("/feed")).copy_with(port=1)
    with pytest.raises(DeliveryError, match="unreachable") as raised:
        FeedConnector("watch", FeedSettings(url=str(closed))).poll(None)
    assert raised.value.retryable

    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    connector = FeedConnector(
        "watch", FeedSettings(url="https://slow.example/feed"), transport=httpx.MockTransport(slow)
    )
    with pytest.raises(DeliveryError, match="timed out") as raised:
        connector.poll(None)
    assert raised.value.retryable


def test_huge_feed_is_read_up_to_the_cap(feed_server: FeedServer, caplog: pytest.LogCaptureFixture) -> None:
    posts = [post(n, html="<p>" + "Acme is down again. " * 40 + "</p>") for n in range(300)]
    body = wordpress_feed(posts)
    assert len(body) > 300_000
    feed_server.publish("/huge", body)
    with caplog.at_level(logging.WARNING):
        result = feed(feed_server, "/huge", max_bytes=100_000).poll(None)
    assert "larger than 100000 bytes" in caplog.text
    read = ids(result.messages)
    assert 0 < len(read) < 100
    # The newest come first in a feed, so those are the ones read; the one cut in half is not.
    assert set(read) == {str(n) for n in range(300 - len(read), 300)}


def test_gzip_bomb_is_cut_after_decompression(feed_server: FeedServer) -> None:
    feed_server.publish("/bomb", gzip_bomb(30), headers={"Content-Encoding": "gzip"})
    started = time.monotonic()
    result = feed(feed_server, "/bomb", max_bytes=50_000).poll(None)
    assert time.monotonic() - started < 5
    assert result.messages == []  # the only item is the one the cut went through


def test_keywords_keep_only_matching_items(feed_server: FeedServer) -> None:
    feed_server.publish_fixture("/reviews", "rss2__trustpilot_reviews.xml")
    matching = feed(feed_server, "/reviews", keywords="REFUND").poll(None)
    assert [m.author.display_name for m in matching.messages] == ["Margaret O."]
    both = feed(feed_server, "/reviews", keywords=" refund, esim ,").poll(None)
    assert len(both.messages) == 2
    # Items filtered out are seen too: changing nothing, a later poll brings nothing back.
    feed_server.publish_fixture("/reviews", "rss2__trustpilot_reviews.xml", etag=False, last_modified=False)
    assert feed(feed_server, "/reviews", keywords="refund").poll(matching.cursor).messages == []


def test_feeds_cannot_be_answered_in_the_channel() -> None:
    assert FeedConnector.limits.public_replies is False
    assert FeedConnector.limits.private_messages is False
    reply = OutboundReply(
        reply_id="r1",
        account="watch",
        text="Thanks for the review!",
        visibility=Visibility.PUBLIC,
        recipient=AuthorIdentity(external_id="x"),
        in_reply_to="https://blog.example.org/?p=1",
        conversation_id="c1",
    )
    with pytest.raises(DeliveryError, match="read-only") as raised:
        FeedConnector("watch", FeedSettings(url="https://blog.example.org/feed/")).send(reply)
    assert raised.value.retryable is False


def test_settings() -> None:
    settings = FeedSettings.model_validate({"url": " https://blog.example.org/feed/ ", "keywords": "acme, globex"})
    assert settings.url == "https://blog.example.org/feed/" and settings.keywords == ["acme", "globex"]
    assert settings.poll_interval == 300.0
    for bad in (
        {"url": "ftp://example.org/feed"},
        {"url": "file:///etc/passwd"},
        {"url": "not a url"},
        {"url": "https://example.org/feed", "username": "only-user"},
        {"url": "https://example.org/feed", "poll_interval": 0.01},
    ):
        with pytest.raises(ValidationError):
            FeedSettings.model_validate(bad)
    connector = FeedConnector("a", FeedSettings(url="https://example.org/feed", poll_interval=42))
    assert connector.poll_interval() == 42.0  # what the listener waits between polls
    assert "password" in str(FeedSettings.model_json_schema()["properties"]["password"])


def test_registered_through_the_entry_point() -> None:
    assert registry.connector_class("feeds") is FeedConnector
    assert FeedConnector.receives == ("poll",)


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("<p>a <b>b</b></p>\n<ul>\n<li>x</li>\n<li>y</li>\n</ul><p>z</p>", "a b\n\n- x\n- y\n\nz"),
        ("one<br>two<br/><br>three", "one\ntwo\n\nthree"),
        ("x <script>alert(1)</script> y <style>p{}</style>z<script/>!", "x y z!"),
        ("a&amp;b &lt;c&gt; &nbsp; d &#8222;e&#8220; &bogus;", "a&b <c> d „e“ &bogus;"),
        ("<i>unclosed <b>tags", "unclosed tags"),
        ('smile<img src="s.png" alt="🙂"><img src="pixel.gif">', "smile🙂"),
        ("<table><tr><td>a</td><td>b</td></tr><tr><td>c</td><td>d</td></tr></table>after", "a b\nc d\n\nafter"),
        ("<iframe src=x>inside</iframe><svg><text>drawn</text></svg>kept", "kept"),
        ("nul\x00byte", "nulbyte"),
    ],
)
def test_html_to_text(html: str, text: str) -> None:
    assert html_to_text(html) == text


def test_long_texts_are_cut_and_long_ids_hashed(feed_server: FeedServer) -> None:
    long_post = Post("9" * 600, "Long", "Ann", "<p>" + "word " * 30_000 + "</p>", NOW)
    feed_server.publish("/feed", wordpress_feed([long_post]))
    [message] = feed(feed_server).poll(None).messages
    assert len(message.text) == MAX_TEXT_CHARS and message.text.endswith(CUT_MARK)
    assert len(message.external_id) <= 512 and "#sha256:" in message.external_id


def test_author_identities() -> None:
    feed_url = "https://forum.example.net/feed"
    info = FeedInfo(title="Forum", link="https://forum.example.net/")
    by_uri = Entry(author_detail=Person(name="Lena", href="https://forum.example.net/u/lena"))
    by_mail = Entry(author="lena@example.com (Lena)", author_detail=Person(name="Lena", email="Lena@Example.com"))
    by_name = Entry(author="Lena")
    hostile_uri = Entry(author_detail=Person(name="Eve", href="javascript:alert(1)"))
    assert author_of(by_uri, info, feed_url).external_id == "https://forum.example.net/u/lena"
    assert author_of(by_mail, info, feed_url).external_id == "mailto:lena@example.com"
    assert author_of(by_name, info, feed_url).external_id == f"{feed_url}#author:Lena"
    assert author_of(hostile_uri, info, feed_url).url is None
    nobody = author_of(Entry(), info, feed_url)
    assert (nobody.external_id, nobody.display_name, nobody.url) == (feed_url, "Forum", "https://forum.example.net/")
