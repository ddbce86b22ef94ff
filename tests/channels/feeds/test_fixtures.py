"""Each fixture, served by the local feed server and read by the connector, against its expected
normalized messages (one test per fixture)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.channels.feeds.feedserver import FIXTURES, FeedServer
from townsquare.channels.feeds.connector import FeedConnector, FeedSettings
from townsquare.model import InboundMessage, Visibility


def read(feed_server: FeedServer, fixture: str, content_type: str = "application/rss+xml") -> list[InboundMessage]:
    path = f"/fixtures/{fixture}"
    feed_server.publish_fixture(path, fixture, content_type=content_type)
    connector = FeedConnector("watch", FeedSettings(url=feed_server.url(path)))
    result = connector.poll(None)
    # Newest last, whatever the feed's order: conversations open in the order things happened.
    assert [m.created_at for m in result.messages] == sorted(m.created_at for m in result.messages)
    for message in result.messages:
        assert message.channel == "feeds" and message.account == "watch"
        assert message.visibility == Visibility.PUBLIC and message.in_reply_to is None
    return result.messages


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def test_wordpress_rss2_with_content_encoded(feed_server: FeedServer) -> None:
    older, newer = read(feed_server, "rss2__wordpress.xml")
    assert newer.external_id == "https://blog.example.org/?p=1482"
    assert newer.author.display_name == "Jana Becker"
    assert newer.author.external_id == feed_server.url("/fixtures/rss2__wordpress.xml") + "#author:Jana Becker"
    assert newer.language == "de"  # <language>de-DE</language>
    assert newer.created_at == at("2025-03-04T09:12:44+00:00")
    assert newer.url == "https://blog.example.org/2025/03/04/acme-mobile-kein-netz-koeln/"
    # content:encoded (not the shorter description), as text with the paragraphs kept.
    assert newer.text == (
        "Acme Mobile: seit drei Tagen kein Netz in Köln-Ehrenfeld\n\n"
        "Seit Samstag habe ich in Ehrenfeld kein LTE mehr. Die Hotline sagt „bekannt“, mehr nicht.\n\n"
        "Wer hat das auch? Bitte in die Kommentare:\n\n"
        "- Stadtteil\n- Tarif\n\n"
        "Zur Netzkarte"
    )
    assert older.external_id == "https://blog.example.org/?p=1475"
    assert older.text.endswith("Zwölf Anbieter im Vergleich, von 5 bis 100 GB.\n\nAcme Mobile 40 GB\nGlobex 35 GB")
    assert older.raw["tags"] == ["Tarife"] and older.raw["author"] == "Tobias Lang"


def test_phpbb_forum_atom(feed_server: FeedServer) -> None:
    question, answer = read(feed_server, "atom__phpbb_forum.xml", "application/atom+xml")
    assert question.external_id == "https://forum.example.net/viewtopic.php?p=90811#p90811"
    assert question.author.display_name == "lena_h"
    assert question.created_at == at("2025-03-05T16:40:27+01:00")
    assert question.language == "en"  # xml:lang="en-gb"
    assert question.text == (
        "Billing • Charged twice for March\n\n"
        "Anyone else charged twice? My bank shows two payments to Acme Mobile.\n\n"
        "Statistics: Posted by lena_h — Wed Mar 05, 2025 3:40 pm"
    )
    assert answer.author.display_name == "ben_miller"
    assert "Same here, two debits of £24.99 on 3 March." in answer.text  # &pound; decoded
    assert "Support chat closed the case without refunding." in answer.text


def test_trustpilot_style_review_feed(feed_server: FeedServer) -> None:
    praise, complaint = read(feed_server, "rss2__trustpilot_reviews.xml")
    feed_url = feed_server.url("/fixtures/rss2__trustpilot_reviews.xml")
    # Review ids are not URIs, so they are scoped to their feed: another feed's "67c8…" is another item.
    assert complaint.external_id == f"{feed_url}#67c84d2e9b1f3a0012ab34cd"
    assert complaint.author.display_name == "Margaret O."
    assert complaint.language == "en"
    assert complaint.url == "https://www.trustpilot.com/reviews/67c84d2e9b1f3a0012ab34cd"
    assert complaint.text == (
        '1 star: "Cancelled my contract, still being charged"\n\n'
        "Rated 1 out of 5 stars\n\n"
        "I cancelled in January and got a confirmation. February and March were debited anyway. "
        "Three chats, no refund."
    )
    assert praise.author.display_name == "Dev P." and praise.created_at == at("2025-03-05T06:44:58+00:00")


def test_rss1_rdf_in_latin1(feed_server: FeedServer) -> None:
    other, outage = read(feed_server, "rss1__rdf_slashdot.xml", "application/rdf+xml")
    assert outage.external_id.startswith("https://news.example.com/story/25/03/05/2014210/")
    assert outage.author.display_name == "msmash"
    assert outage.created_at == at("2025-03-05T20:14:00+00:00")  # dc:date
    assert outage.language == "en"  # dc:language en-us
    assert "Customers of Acme Mobile in Köln, Düsseldorf and Bonn" in outage.text  # ISO-8859-1 decoded
    assert outage.text.endswith("Read more of this story at Example News.")
    assert "twitter_icon" not in outage.text
    assert other.author.display_name == "BeauHD"


def test_hostile_html_is_reduced_to_text_and_names_kept_as_written(feed_server: FeedServer) -> None:
    cdata, hostile = read(feed_server, "rss2__hostile_html.xml")
    feed_url = feed_server.url("/fixtures/rss2__hostile_html.xml")
    # A plain-text title is stored exactly as written; the web app escapes it when shown.
    assert hostile.text.startswith("<script>alert('title')</script>Acme & Co are <b>thieves</b>\n\n")
    body = hostile.text.split("\n\n", 1)[1]
    assert body == "Look at this: click me Text with a literal <script>not a tag</script> and 5 < 6 && 7 > 3."
    for payload in ("fetch(", "evil.example", "onerror", "onclick", "display:none", "javascript:"):
        assert payload not in hostile.text
    assert hostile.url is None  # a javascript: link is not a link
    assert hostile.author.display_name == "<svg onload=alert(1)>Mallory</svg>"
    # The second item names no author: the feed itself, with its hostile title, kept as written.
    assert cdata.author.external_id == feed_url
    assert cdata.author.display_name == "<img src=x onerror=alert(document.cookie)>Totally Legit Reviews"
    assert cdata.text == '</title><script>alert("cdata")</script>\n\nZero\u200bwidth and bold with an unclosed tag'


def test_malformed_feed_keeps_what_can_be_read(feed_server: FeedServer, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        refund, undated = read(feed_server, "rss2__malformed.xml")
    assert any("is malformed" in record.getMessage() for record in caplog.records)
    assert "They promised a refund" not in caplog.text  # never the payload in the log
    assert refund.external_id == "http://broken.example.com/?id=17"
    assert refund.text == "Acme support & the missing refund\n\nThey promised a refund in 5 days. It's been 30."
    assert refund.author.display_name == "Broken Blog"  # no author: the feed stands in
    assert refund.created_at == at("2025-03-05T08:00:00+01:00")
    assert undated.text == "Second post with an unclosed tag"
    assert datetime.now(UTC) - undated.created_at < timedelta(minutes=1)  # "not a date at all" → now


def test_minimal_feed_without_ids_authors_or_dates(feed_server: FeedServer) -> None:
    first, second = read(feed_server, "rss2__minimal.xml")
    feed_url = feed_server.url("/fixtures/rss2__minimal.xml")
    assert {first.author.external_id, second.author.external_id} == {feed_url}
    assert first.author.display_name == "Mini Status Board"
    assert first.author.url == "http://status.example.org/"
    assert first.external_id.startswith(f"{feed_url}#sha256:") and second.external_id.startswith(f"{feed_url}#sha256:")
    assert first.external_id != second.external_id
    texts = {first.text, second.text}
    assert texts == {
        "Login page slow\n\nCustomers say the Acme login takes a minute.",
        "An item with neither title nor link, only this text.",
    }
    # Stable: the same items read again get the same ids.
    again = FeedConnector("watch", FeedSettings(url=feed_url)).poll(None).messages
    assert {m.external_id for m in again} == {first.external_id, second.external_id}


def test_html_page_instead_of_a_feed(feed_server: FeedServer, caplog: pytest.LogCaptureFixture) -> None:
    feed_server.publish_fixture("/login", "html__not_a_feed.xml", content_type="text/html; charset=utf-8")
    connector = FeedConnector("watch", FeedSettings(url=feed_server.url("/login")))
    with caplog.at_level(logging.WARNING):
        result = connector.poll('{"v": 1}')
    assert result.messages == [] and result.cursor == '{"v": 1}'
    assert any("is not an RSS or Atom feed" in record.getMessage() for record in caplog.records)


def test_every_fixture_has_a_test() -> None:
    tested = {
        "rss2__wordpress.xml",
        "atom__phpbb_forum.xml",
        "rss2__trustpilot_reviews.xml",
        "rss1__rdf_slashdot.xml",
        "rss2__hostile_html.xml",
        "rss2__malformed.xml",
        "rss2__minimal.xml",
        "html__not_a_feed.xml",
    }
    assert {path.name for path in Path(FIXTURES).glob("*")} == tested
