"""The agent web app in a real headless Chromium: sign in, watch a post arrive live, answer it,
resolve it; the customer sees the reply on the demo network's public timeline. Screenshots go to
$TOWNSQUARE_SCREENSHOT_DIR (docs/screenshots when refreshing the docs)."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import ADMIN, free_port, townsquare_server, wait_for
from townsquare.channels.demo.setup import DEMO_PASSWORD, Demo, build_demo
from townsquare.config import Settings
from townsquare.runtime import Runtime
from townsquare.store import conversations as convs


def test_agent_answers_a_customer_in_the_browser(sqlite_url: str, browser: object, screenshots: Path) -> None:
    port = free_port()
    settings = Settings(database_url=sqlite_url, triage="fast", public_url=f"http://127.0.0.1:{port}")
    runtime = Runtime.create(settings)
    demo: Demo = build_demo(runtime, rate_per_minute=0, outage_every_seconds=0)
    network = demo.network
    page = browser.new_page()  # type: ignore[attr-defined]
    with townsquare_server(runtime, services=[demo.network], port=port) as server:  # type: ignore[list-item]
        people = demo.customers.people
        for person, text in zip(
            people,
            [
                "@acme Kein Empfang in München seit heute früh",
                "@acme how do I activate roaming before my trip?",
                "Shout-out to @acme support, fixed my router in 5 minutes",
            ],
            strict=False,
        ):
            network.publish(person, text)
        page.goto(f"{server.url}/inbox")
        assert page.url.startswith(f"{server.url}/login")
        page.fill("input[name=email]", "agent@example.com")
        page.fill("input[name=password]", DEMO_PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{server.url}/inbox")
        wait_for(lambda: page.locator("tr.row").count() == 3)

        # A new post arrives while the agent looks at the inbox: it appears without a reload.
        hostile = people[-1]
        network.publish(hostile, "<img src=x onerror=alert(1)> @acme is the network down?")
        page.locator("tr.row", has_text="is the network down?").wait_for(timeout=10_000)
        assert page.locator("tr.row").count() == 4
        assert page.locator("img[src=x]").count() == 0  # rendered as text, not markup
        page.screenshot(path=str(screenshots / "inbox.png"))

        page.click("text=Kein Empfang in München")
        # The guard refuses personal data in public and offers the same text as a private message.
        page.fill("textarea[name=text]", "Wir rufen Sie an unter +49 151 23456789.")
        page.click("form.composer button[type=submit]")
        page.locator(".flash", has_text="personal data").wait_for()
        assert page.input_value("textarea[name=text]") == "Wir rufen Sie an unter +49 151 23456789."
        assert page.is_checked("input[name=visibility][value=private]")
        page.fill("textarea[name=text]", "Das tut uns leid! Wir prüfen das Netz in München gerade.")
        page.check("input[name=visibility][value=public]")
        page.click("form.composer button[type=submit]")
        page.locator(".timeline li.outbound").wait_for(timeout=10_000)
        # Triage said why the customer's post is urgent, next to the post.
        assert page.locator(".timeline li.inbound .why .reason-outage").count() == 1
        # The agent corrects triage: the company's own labelled history (`townsquare export labelled`).
        page.click(".timeline li.inbound summary")
        page.select_option(".label-form select[name=sentiment]", "negative")
        page.screenshot(path=str(screenshots / "conversation.png"), full_page=True)
        page.click(".label-form button[type=submit]")
        page.locator(".label-form summary", has_text="Labelled by Alex Agent: negative").wait_for()

        page.click("button[value=resolved]")
        page.locator(".meta .status", has_text="resolved").wait_for()

        page.goto(f"{server.url}/demo-network/")
        assert page.locator(".brand", has_text="Wir prüfen das Netz in München").count() == 1
        page.screenshot(path=str(screenshots / "demo-network.png"))

        # An incident on the board: answer everyone at once from the incident page.
        with runtime.db.read() as conn:
            conversation_ids = [c["id"] for c in convs.list_conversations(conn, convs.ConversationFilter())[0]]
        incident_id = runtime.incident_actions.create(ADMIN, "Mobile network down in München", conversation_ids)
        page.goto(f"{server.url}/inbox")
        page.locator(".incident-banner", has_text="Mobile network down").wait_for()
        page.click(".incident-banner")
        page.select_option("select[name=status]", "identified")
        page.fill("textarea[name=body]", "Mobile data is down in München. Engineers are on it.")
        page.fill(
            "textarea[name=reply_de]",
            "Hallo {name}, wir kennen die Störung in München und arbeiten daran: {status_url}",
        )
        page.fill(
            "textarea[name=reply_en]", "Hi {name}, we know about the outage in München and are on it: {status_url}"
        )
        page.click("text=Publish update")
        page.locator(".timeline .tag", has_text="sent").first.wait_for(timeout=15_000)
        page.screenshot(path=str(screenshots / "incident.png"), full_page=True)
        page.goto(f"{server.url}/status")
        assert page.locator(".banner").count() == 1
        assert page.locator("text=Mobile data is down in München").count() == 1
        page.screenshot(path=str(screenshots / "status-page.png"), full_page=True)
        page.goto(f"{server.url}/channels")
        for title in ("Demo network", "Mastodon", "Matrix", "E-mail", "Bluesky", "RSS/Atom feeds", "Web chat"):
            assert page.locator("td b", has_text=title).count() >= 1, title
        page.screenshot(path=str(screenshots / "channels.png"), full_page=True)
        assert incident_id

        # How triage does on these customers: its answers against the agents' labels. The other
        # posts get labels the way the agent gave the first (the named action).
        corrections = {
            "roaming": {"sentiment": "neutral", "intents": ["question"], "needs_reply": True},
            "Shout-out": {"sentiment": "positive", "intents": ["praise"], "needs_reply": False},
            "network down": {"sentiment": "negative", "intents": ["question"], "needs_reply": True},
        }
        with runtime.db.read() as conn:
            posts = [m for cid in conversation_ids for m in convs.messages_of(conn, cid) if m["direction"] == "inbound"]
        for post in posts:
            for words, label in corrections.items():
                if words in post["text"]:
                    runtime.actions.label_message(ADMIN, post["id"], **label)  # type: ignore[arg-type]
        page.click("nav >> text=Triage")
        page.locator("#task-sentiment").wait_for()
        assert page.locator("#quality-summary", has_text="4 posts labelled by agents").count() == 1
        assert page.locator("img[src=x]").count() == 0
        page.screenshot(path=str(screenshots / "triage-quality.png"), full_page=True)
