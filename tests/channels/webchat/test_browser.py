"""The widget in a real headless Chromium, embedded in a company page served on another
127.0.0.1 port (so every call is cross-origin, as on a real site): the visitor writes, the agent
answers through the API, the reply appears live; after a reload the transcript is there and the
visitor is still the same (writing again continues the same conversation). Hostile HTML in the
name and text stays text. A screenshot goes to $TOWNSQUARE_SCREENSHOT_DIR (else a temp folder)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.responses import HTMLResponse

from tests import api_client as api
from tests.api_client import detail
from tests.channels.webchat.conftest import ACCOUNT, connect_webchat
from tests.conftest import LiveServer, Users, free_port, townsquare_server, wait_for
from townsquare.channels.webchat.service import WebchatService
from townsquare.config import Settings
from townsquare.runtime import Runtime

HOSTILE_NAME = '<img src=x onerror="alert(1)">Mallory'
HOSTILE_TEXT = "<script>alert('pwned')</script> My <b>router</b> blinks red since this morning"

COMPANY_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Acme Mobile - Help</title>
<style>
  body {{ font-family: Georgia, serif; margin: 0; background: #fafaf7; color: #333; }}
  header {{ background: #13294b; color: #fff; padding: 24px 48px; font-size: 26px; }}
  main {{ padding: 32px 48px; max-width: 640px; line-height: 1.6; }}
  button, ol, li, p {{ color: red; font-size: 30px; }} /* the widget must not inherit this */
</style></head>
<body>
  <header>Acme Mobile · Help centre</header>
  <main><h1>Router blinks red?</h1>
  <p>Most of the time a restart helps. Still stuck? Chat with us, bottom right.</p></main>
  <script src="{townsquare}/webchat/widget.js" data-account="{account}" async></script>
</body></html>
"""


def company_site(townsquare_url: str) -> LiveServer:
    app = FastAPI()

    @app.get("/", response_class=HTMLResponse)
    def home() -> str:
        return COMPANY_PAGE.format(townsquare=townsquare_url, account=ACCOUNT)

    return LiveServer(app)


def conversations(base: str, users: Users) -> list[dict[str, Any]]:
    return api.conversations(base, users, channel="webchat")


def answer(base: str, users: Users, conversation_id: str, text: str) -> str:
    return api.answer(base, users, conversation_id, text, "private")


def saved_token(page: Any) -> str:
    stored = page.evaluate(
        "() => Object.keys(localStorage).filter(k => k.startsWith('townsquare-webchat:')).map(k => localStorage[k])"
    )
    assert len(stored) == 1
    token: str = json.loads(stored[0])["token"]
    return token


def test_visitor_chats_with_an_agent_in_the_browser(sqlite_url: str, browser: Any, screenshots: Path) -> None:
    port = free_port()
    runtime = Runtime.create(
        Settings(database_url=sqlite_url, triage="off", public_url=f"http://127.0.0.1:{port}", outbox_poll_seconds=0.1)
    )
    users = Users(runtime)
    service = WebchatService(runtime)
    dialogs: list[str] = []
    with townsquare_server(runtime, services=[service], port=port) as server, company_site(server.url) as site:
        connect_webchat(runtime, allowed_origins=[site.url], greeting="Hi! How can we help?")
        page = browser.new_page()
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        try:
            page.goto(site.url)
            page.click(".tsq-launcher")
            page.locator(".tsq-greeting", has_text="Hi! How can we help?").wait_for(timeout=10_000)
            page.fill(".tsq-name", HOSTILE_NAME)
            page.fill(".tsq-email", "mallory@example.com")
            page.fill(".tsq-input", HOSTILE_TEXT)
            page.click(".tsq-send")
            page.locator(".tsq-msg.tsq-inbound", has_text="blinks red").wait_for(timeout=10_000)

            # The agent sees it in the inbox, as the visitor wrote it.
            [conversation] = wait_for(lambda: conversations(server.url, users))  # type: ignore[misc]
            assert conversation["contact_name"] == HOSTILE_NAME and conversation["has_private"]
            [message] = detail(server.url, users, conversation["id"])["messages"]
            assert message["text"] == HOSTILE_TEXT and message["visibility"] == "private"

            # The agent answers through the API; the reply appears in the open widget, live.
            answer(server.url, users, conversation["id"], "Hi Mallory! Please hold the <reset> button for 10 s.")
            page.locator(".tsq-msg.tsq-outbound", has_text="hold the <reset> button").wait_for(timeout=10_000)
            assert page.locator(".tsq-msg.tsq-inbound .tsq-text").inner_text() == HOSTILE_TEXT
            assert page.locator("img").count() == 0 and page.locator(".tsq-msg script, .tsq-msg b").count() == 0
            # The host page's CSS does not reach into the widget.
            assert page.locator(".tsq-text").first.evaluate("e => getComputedStyle(e).fontSize") == "15px"
            page.screenshot(path=str(screenshots / "webchat-widget.png"))
            token_before = saved_token(page)

            # A reload: the panel comes back open with the transcript, and the visitor is the same.
            page.reload()
            page.locator(".tsq-msg.tsq-outbound", has_text="hold the <reset> button").wait_for(timeout=10_000)
            page.locator(".tsq-msg.tsq-inbound", has_text="blinks red").wait_for(timeout=10_000)
            assert page.locator(".tsq-msg:not(.tsq-greeting)").count() == 2
            token_after = saved_token(page)
            assert service.tokens.verify(ACCOUNT, token_after).id == service.tokens.verify(ACCOUNT, token_before).id
            assert page.locator(".tsq-profile").is_hidden()

            page.fill(".tsq-input", "Done, it works again. Thanks!")
            page.keyboard.press("Enter")
            page.locator(".tsq-msg.tsq-inbound", has_text="it works again").wait_for(timeout=10_000)
            wait_for(lambda: detail(server.url, users, conversation["id"])["message_count"] == 3)
            assert [c["id"] for c in conversations(server.url, users)] == [conversation["id"]]
            answer(server.url, users, conversation["id"], "Glad to hear it!")
            page.locator(".tsq-msg.tsq-outbound", has_text="Glad to hear it!").wait_for(timeout=10_000)
            page.screenshot(path=str(screenshots / "webchat-widget-after-reload.png"))
            assert dialogs == []
        finally:
            page.close()  # ends the live stream before the server stops
