"""Live updates over Server-Sent Events: every domain event, as it happens."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from sse_starlette import EventSourceResponse, ServerSentEvent

from townsquare.api.deps import ActorDep, RuntimeDep

router = APIRouter(prefix="/api", tags=["live updates"])

KEEPALIVE_SECONDS = 15.0


@router.get("/events", response_class=EventSourceResponse)
async def stream_events(request: Request, runtime: RuntimeDep, actor: ActorDep) -> EventSourceResponse:
    """`event:` is the event kind (e.g. `conversation.created`), `data:` a JSON object."""
    queue = runtime.events.subscribe()

    async def generate() -> AsyncIterator[ServerSentEvent]:
        try:
            yield ServerSentEvent(event="ready", data=json.dumps({"user": actor.label}))
            while True:
                try:
                    event = await asyncio.wait_for(queue.get(), timeout=KEEPALIVE_SECONDS)
                except TimeoutError:
                    if await request.is_disconnected():
                        return
                    continue
                yield ServerSentEvent(event=event.kind, data=json.dumps({**event.data, "at": event.at}))
        finally:
            runtime.events.unsubscribe(queue)

    return EventSourceResponse(generate(), ping=KEEPALIVE_SECONDS)
