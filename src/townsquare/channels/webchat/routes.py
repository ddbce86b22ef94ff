"""The visitor endpoints. No agent login here: a visitor is who their signed token says.

    GET  /webchat/widget.js            the embeddable script (and /webchat/widget.css)
    POST /webchat/{account}/session    start or resume a visitor identity
    POST /webchat/{account}/messages   the visitor writes (202; into the bus as a private message)
    GET  /webchat/{account}/history    the visitor's own transcript
    GET  /webchat/{account}/stream     Server-Sent Events: the agents' replies, live
    GET  /webchat/{account}/preview    a page of Townsquare's own that embeds the widget (trying it out)

Errors are answered here with the CORS headers on (so the widget can read them), never echoing
the visitor's input back.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.concurrency import run_in_threadpool

from townsquare.channels.webchat.connector import WebchatSettings
from townsquare.channels.webchat.cors import cors_headers, origin_allowed, preflight_headers
from townsquare.channels.webchat.history import transcript
from townsquare.channels.webchat.inbound import message_external_id, visitor_message
from townsquare.channels.webchat.live import VisitorKey
from townsquare.channels.webchat.payloads import (
    MAX_BODY_BYTES,
    MAX_TEXT_CHARS,
    MessageAccepted,
    MessageRequest,
    SessionRequest,
    SessionResponse,
    Transcript,
    TranscriptMessage,
)
from townsquare.channels.webchat.service import WebchatService
from townsquare.channels.webchat.tokens import InvalidVisitorToken, Visitor, new_visitor_id
from townsquare.clock import utcnow

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
Model = TypeVar("Model", bound=BaseModel)


@dataclass(frozen=True)
class _Context:
    account: str
    settings: WebchatSettings
    headers: dict[str, str]


class _Refused(Exception):
    def __init__(self, status_code: int, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status_code = status_code
        self.detail = detail
        self.headers = headers or {}

    def response(self) -> JSONResponse:
        return JSONResponse({"detail": self.detail}, status_code=self.status_code, headers=self.headers)


def _json(model: BaseModel, status_code: int, headers: dict[str, str]) -> JSONResponse:
    return JSONResponse(
        model.model_dump(mode="json"), status_code=status_code, headers={**headers, "Cache-Control": "no-store"}
    )


def _static(name: str, media_type: str) -> Response:
    body = (STATIC / name).read_bytes()
    headers = {
        "Cache-Control": "public, max-age=300",
        # Sites that isolate themselves (Cross-Origin-Embedder-Policy) may still load it.
        "Cross-Origin-Resource-Policy": "cross-origin",
        "X-Content-Type-Options": "nosniff",
    }
    return Response(body, media_type=media_type, headers=headers)


def build_router(service: WebchatService) -> APIRouter:
    router = APIRouter(prefix="/webchat", tags=["web chat (visitors)"], include_in_schema=True)
    public_url = service.runtime.settings.public_url

    async def context(request: Request, account: str) -> _Context:
        if not 0 < len(account) <= 128:
            raise _Refused(404, "no such chat")
        settings = await run_in_threadpool(service.account_settings, account)
        if settings is None:
            raise _Refused(404, "no such chat")
        origin = request.headers.get("origin")
        if not origin_allowed(origin, settings, public_url):
            # No CORS headers: the browser keeps the answer from the page that asked.
            raise _Refused(403, "this site may not use the chat")
        return _Context(account, settings, cors_headers(origin))

    def visitor_of(request: Request, ctx: _Context) -> Visitor:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _Refused(401, "a visitor token is needed: POST /session first", ctx.headers)
        try:
            return service.tokens.verify(ctx.account, token.strip())
        except InvalidVisitorToken as error:
            raise _Refused(401, str(error), ctx.headers) from None

    async def parse(request: Request, model: type[Model], ctx: _Context) -> Model:
        body = bytearray()
        async for chunk in request.stream():
            body.extend(chunk)
            if len(body) > MAX_BODY_BYTES:
                log.info("web chat %s: refused a request body over %d bytes", ctx.account, MAX_BODY_BYTES)
                raise _Refused(413, f"the request is larger than {MAX_BODY_BYTES} bytes", ctx.headers)
        try:
            return model.model_validate_json(bytes(body) or b"{}")
        except ValidationError as error:
            # Never the input itself: it is a visitor's text, maybe with personal data.
            log.info(
                "web chat %s: refused a malformed %s (%d problems)", ctx.account, model.__name__, error.error_count()
            )
            problems = "; ".join(
                f"{'.'.join(str(part) for part in problem['loc']) or 'body'}: {problem['msg']}"
                for problem in error.errors(include_input=False)
            )
            raise _Refused(422, problems[:500], ctx.headers) from None

    def limited(seconds: float, what: str, ctx: _Context) -> _Refused:
        wait = max(1, int(seconds + 0.999))
        log.info("web chat %s: rate limited (%s)", ctx.account, what)
        return _Refused(429, f"{what}; try again in {wait} s", {**ctx.headers, "Retry-After": str(wait)})

    @router.get("/widget.js", include_in_schema=False)
    async def widget_js() -> Response:
        return _static("widget.js", "text/javascript; charset=utf-8")

    @router.get("/widget.css", include_in_schema=False)
    async def widget_css() -> Response:
        return _static("widget.css", "text/css; charset=utf-8")

    @router.get("/{account}/preview", include_in_schema=False)
    async def preview(request: Request, account: str) -> Response:
        """Townsquare's own origin is always allowed, so this page works before any site is set up."""
        try:
            await context(request, account)
        except _Refused as refused:
            return refused.response()
        config = json.dumps({"account": account, "base": request.scope.get("root_path", "")})
        # Inside <script type="application/json">: no '<' may close the element early.
        config = config.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
        page = (STATIC / "preview.html").read_text().replace("{{CONFIG}}", config)
        return Response(page, media_type="text/html; charset=utf-8", headers={"Cache-Control": "no-store"})

    @router.options("/{account}/{endpoint}", include_in_schema=False)
    async def preflight(request: Request, account: str, endpoint: str) -> Response:
        try:
            ctx = await context(request, account)
        except _Refused as refused:
            return refused.response()
        return Response(status_code=204, headers=preflight_headers(request.headers.get("origin")) | ctx.headers)

    @router.post("/{account}/session", response_model=SessionResponse)
    async def session(request: Request, account: str) -> Response:
        """Start a visitor identity, or resume the one in `token` (with a fresh token). Name and
        e-mail, when given, replace the ones the token carried."""
        try:
            ctx = await context(request, account)
            asked = await parse(request, SessionRequest, ctx)
            visitor: Visitor | None = None
            if asked.token:
                try:
                    visitor = service.tokens.verify(account, asked.token)
                except InvalidVisitorToken:
                    visitor = None  # Forged or expired: a new visitor, never the old identity.
            resumed = visitor is not None
            if visitor is None:
                address = request.client.host if request.client else "unknown"
                wait = service.new_visitor_limits.take(f"{account}\n{address}")
                if wait is not None:
                    raise limited(wait, "too many new chats from this address", ctx)
                visitor = Visitor(account=account, id=new_visitor_id())
            visitor = Visitor(
                account=account,
                id=visitor.id,
                name=asked.name if asked.name is not None else visitor.name,
                email=str(asked.email) if asked.email is not None else visitor.email,
            )
        except _Refused as refused:
            return refused.response()
        answer = SessionResponse(
            token=service.tokens.issue(visitor),
            visitor_id=visitor.id,
            resumed=resumed,
            name=visitor.name,
            email=visitor.email,
            title=ctx.settings.title,
            greeting=ctx.settings.greeting,
            require_email=ctx.settings.require_email,
            max_text_length=MAX_TEXT_CHARS,
        )
        return _json(answer, 200, ctx.headers)

    @router.post("/{account}/messages", status_code=202, response_model=MessageAccepted)
    async def send_message(request: Request, account: str) -> Response:
        """The visitor writes. Accepted (202) means written to the bus journal; the pipeline
        stores it as a private message of the visitor's conversation."""
        try:
            ctx = await context(request, account)
            visitor = visitor_of(request, ctx)
            if ctx.settings.require_email and not visitor.email:
                raise _Refused(403, "this chat needs your e-mail address first", ctx.headers)
            asked = await parse(request, MessageRequest, ctx)
            wait = service.message_limits.take(visitor.external_id)
            if wait is not None:
                raise limited(wait, "you are writing faster than we can read", ctx)
        except _Refused as refused:
            return refused.response()
        now = utcnow()
        external_id = message_external_id(visitor, asked.client_id)
        # Journaled before the 202 (a database write): in a thread, so the event loop keeps serving.
        await run_in_threadpool(
            service.runtime.bus.publish, [visitor_message(visitor, asked, external_id=external_id, now=now)]
        )
        # The visitor's other open tabs show it too.
        service.hub.publish(
            VisitorKey(account, visitor.id),
            TranscriptMessage(
                id=external_id, direction="inbound", text=asked.text, author=visitor.name or "", created_at=now
            ),
        )
        return _json(MessageAccepted(id=external_id, created_at=now), 202, ctx.headers)

    @router.get("/{account}/history", response_model=Transcript)
    async def history(request: Request, account: str) -> Response:
        """The visitor's own transcript, oldest first (the newest 200 lines)."""
        try:
            ctx = await context(request, account)
            visitor = visitor_of(request, ctx)
        except _Refused as refused:
            return refused.response()

        def read() -> list[TranscriptMessage]:
            with service.runtime.db.read() as conn:
                return transcript(conn, account, visitor.external_id, team_name=ctx.settings.team_name)

        return _json(Transcript(messages=await run_in_threadpool(read)), 200, ctx.headers)

    @router.get("/{account}/stream")
    async def stream(request: Request, account: str) -> Response:
        """Server-Sent Events: `ready` once connected (read the history then, to fill any gap),
        then `message` for every reply (and the visitor's own messages from other tabs), with the
        message's id as the event id. Ends after a while; reconnect."""
        try:
            ctx = await context(request, account)
            visitor = visitor_of(request, ctx)
        except _Refused as refused:
            return refused.response()
        key = VisitorKey(account, visitor.id)

        async def events() -> AsyncIterator[ServerSentEvent]:
            subscription = service.open_stream(key)
            deadline = time.monotonic() + service.stream_seconds
            try:
                yield ServerSentEvent(event="ready", data=json.dumps({"visitor_id": visitor.id}))
                while not service.stopping.is_set():
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return
                    try:
                        message = await asyncio.wait_for(
                            subscription.queue.get(), timeout=min(service.keepalive_seconds, remaining)
                        )
                    except TimeoutError:
                        if await request.is_disconnected():
                            return
                        continue
                    if message is None:
                        return
                    yield ServerSentEvent(event="message", id=message.id, data=message.model_dump_json())
            finally:
                service.close_stream(subscription)

        headers: dict[str, Any] = {**ctx.headers, "Cache-Control": "no-store"}
        return EventSourceResponse(events(), ping=int(service.keepalive_seconds) or 1, headers=headers)

    return router
