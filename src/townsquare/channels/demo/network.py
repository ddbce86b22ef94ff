"""The demo network itself: a tiny social network with a public timeline, direct messages, a
REST API for accounts to publish, and signed webhooks to subscribers.

It stands in for a real network in `townsquare demo`, and its protocol is exercised end to end
like a real one's: the connector only talks to it over HTTP.
"""

from __future__ import annotations

import json
import logging
import queue
import secrets
import threading
from collections import deque
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated

import httpx
from fastapi import APIRouter, FastAPI, Header, HTTPException, Request, status
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader

from townsquare.channels.demo.payloads import SIGNATURE_HEADER, DemoPost, DemoUser, NewPost, PostCreated
from townsquare.clock import utcnow
from townsquare.security.signatures import sign

log = logging.getLogger(__name__)

MAX_POSTS = 5000
_templates = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"), autoescape=True)


class DemoNetwork:
    """All state in memory: the network lives as long as the demo process."""

    def __init__(self, base_url: str, brand: DemoUser, api_key: str, webhook_secret: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.brand = brand
        self.api_key = api_key
        self.webhook_secret = webhook_secret
        self._lock = threading.Lock()
        self._posts: deque[DemoPost] = deque(maxlen=MAX_POSTS)
        self._by_id: dict[str, DemoPost] = {}
        self._published: dict[str, DemoPost] = {}
        self._counter = 0
        self._subscribers: list[str] = []
        self._outgoing: queue.Queue[tuple[str, bytes]] = queue.Queue()
        self._listeners: list[Callable[[DemoPost], None]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- state ------------------------------------------------------------------------------

    def subscribe(self, webhook_url: str) -> None:
        self._subscribers.append(webhook_url)

    def on_post(self, listener: Callable[[DemoPost], None]) -> None:
        self._listeners.append(listener)

    def publish(
        self,
        author: DemoUser,
        text: str,
        *,
        visibility: str = "public",
        in_reply_to: str | None = None,
        recipient: str | None = None,
        lang: str | None = None,
    ) -> DemoPost:
        with self._lock:
            self._counter += 1
            post_id = f"p{self._counter}-{secrets.token_hex(3)}"
            parent = self._by_id.get(in_reply_to) if in_reply_to else None
            root = (parent.thread_root or parent.id) if parent else None
            post = DemoPost(
                id=post_id,
                author=author,
                text=text,
                visibility=visibility,
                in_reply_to=in_reply_to,
                thread_root=root,
                recipient=recipient,
                lang=lang,
                created_at=utcnow(),
                url=f"{self.base_url}/posts/{post_id}",
            )
            if len(self._posts) == self._posts.maxlen:
                self._by_id.pop(self._posts[0].id, None)
            self._posts.append(post)
            self._by_id[post.id] = post
        for listener in list(self._listeners):
            try:
                listener(post)
            except Exception:
                log.exception("demo network listener failed")
        self._deliver(post)
        return post

    def posts(self) -> list[DemoPost]:
        with self._lock:
            return list(self._posts)

    def get(self, post_id: str) -> DemoPost | None:
        with self._lock:
            return self._by_id.get(post_id)

    # -- webhooks ---------------------------------------------------------------------------

    def _deliver(self, post: DemoPost) -> None:
        event = PostCreated(event="post.created", delivery_id=secrets.token_hex(8), post=post)
        body = event.model_dump_json().encode()
        for url in self._subscribers:
            self._outgoing.put((url, body))

    def _delivery_loop(self) -> None:
        with httpx.Client(timeout=10.0) as client:
            while not self._stop.is_set():
                try:
                    url, body = self._outgoing.get(timeout=0.2)
                except queue.Empty:
                    continue
                for attempt in range(5):
                    try:
                        response = client.post(
                            url,
                            content=body,
                            headers={
                                "Content-Type": "application/json",
                                SIGNATURE_HEADER: sign(self.webhook_secret, body),
                            },
                        )
                        if response.status_code < 500:
                            break
                    except httpx.HTTPError:
                        pass
                    if self._stop.wait(0.5 * 2**attempt):
                        return

    def start(self) -> None:
        self._thread = threading.Thread(target=self._delivery_loop, name="demo-network-webhooks", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    # -- HTTP -------------------------------------------------------------------------------

    def router(self) -> APIRouter:
        router = APIRouter(prefix="/demo-network", tags=["demo network"], include_in_schema=False)

        @router.get("/", response_class=HTMLResponse)
        def timeline() -> HTMLResponse:
            posts = [p for p in self.posts() if p.visibility == "public"]
            replies: dict[str, list[DemoPost]] = {}
            for post in posts:
                if post.in_reply_to:
                    replies.setdefault(post.in_reply_to, []).append(post)
            roots = [p for p in reversed(posts) if not p.in_reply_to or p.in_reply_to not in self._by_id][:200]
            direct = sum(1 for p in self.posts() if p.visibility == "direct")
            html = _templates.get_template("timeline.html").render(
                roots=roots, replies=replies, brand=self.brand, direct=direct
            )
            return HTMLResponse(html)

        @router.get("/posts/{post_id}", response_class=HTMLResponse)
        def one_post(post_id: str) -> HTMLResponse:
            post = self.get(post_id)
            if post is None or post.visibility != "public":
                raise HTTPException(status.HTTP_404_NOT_FOUND, "no such public post")
            replies = [p for p in self.posts() if p.in_reply_to == post_id and p.visibility == "public"]
            html = _templates.get_template("timeline.html").render(
                roots=[post], replies={post_id: replies}, brand=self.brand, direct=None
            )
            return HTMLResponse(html)

        @router.get("/api/timeline")
        def timeline_json(since: str | None = None) -> list[dict[str, object]]:
            return [json.loads(p.model_dump_json()) for p in self.posts() if p.visibility == "public"]

        @router.get("/api/direct/{handle}")
        def direct_messages(handle: str) -> list[dict[str, object]]:
            """Direct messages to or from a handle (what that user's inbox shows)."""
            return [
                json.loads(p.model_dump_json())
                for p in self.posts()
                if p.visibility == "direct" and handle in (p.recipient, p.author.handle)
            ]

        @router.post("/api/posts", status_code=status.HTTP_201_CREATED)
        def create_post(
            body: NewPost,
            request: Request,
            authorization: Annotated[str, Header()] = "",
            idempotency_key: Annotated[str | None, Header(max_length=128)] = None,
        ) -> dict[str, str]:
            if not secrets.compare_digest(authorization, f"Bearer {self.api_key}"):
                raise HTTPException(status.HTTP_401_UNAUTHORIZED, "unknown API key")
            if idempotency_key and idempotency_key in self._published:
                post = self._published[idempotency_key]
                return {"id": post.id, "url": post.url or ""}
            if body.visibility == "public" and body.in_reply_to and self.get(body.in_reply_to) is None:
                raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "in_reply_to: no such post")
            if body.visibility == "direct" and not body.recipient:
                raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "a direct message needs a recipient")
            post = self.publish(
                self.brand,
                body.text,
                visibility=body.visibility,
                in_reply_to=body.in_reply_to,
                recipient=body.recipient,
            )
            if idempotency_key:
                self._published[idempotency_key] = post
            return {"id": post.id, "url": post.url or ""}

        return router

    def mount(self, app: FastAPI) -> None:
        app.include_router(self.router())


def format_time(value: datetime) -> str:
    return value.strftime("%H:%M:%S")


_templates.filters["hms"] = format_time
