"""Webhook receivers: no login, but every delivery must carry the network's valid signature.
Acknowledged as soon as it is parsed and written to the bus journal; the pipeline does the rest."""

from __future__ import annotations

import logging

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from townsquare.api.deps import RuntimeDep
from townsquare.channels.base import BadPayload, InvalidSignature
from townsquare.channels.hub import AccountNotConnected
from townsquare.channels.registry import UnknownChannel

log = logging.getLogger(__name__)
router = APIRouter(prefix="/webhooks", tags=["webhooks"])

MAX_WEBHOOK_BYTES = 1_000_000


class Accepted(BaseModel):
    accepted: int


@router.post("/{channel}/{account}", response_model=Accepted, status_code=status.HTTP_202_ACCEPTED)
async def receive(channel: str, account: str, request: Request, runtime: RuntimeDep) -> Accepted:
    body = await request.body()
    if len(body) > MAX_WEBHOOK_BYTES:
        raise HTTPException(status.HTTP_413_REQUEST_ENTITY_TOO_LARGE, "webhook body too large")
    try:
        connector = runtime.hub.get(channel, account)
        messages = connector.parse_webhook(request.headers, body)
    except (UnknownChannel, AccountNotConnected):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such connected account") from None
    except InvalidSignature:
        log.warning("webhook for %s/%s refused: bad signature", channel, account)
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "signature does not verify") from None
    except BadPayload as error:
        # The reason only, never the body: it carries personal data.
        log.warning("webhook for %s/%s refused: %s", channel, account, error)
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"malformed payload: {error}") from None
    if messages:
        # A database write (it waits for SQLite's write lock while a pipeline batch commits): in a
        # thread, so the event loop keeps serving. A failure here is a 500 and the network retries.
        await run_in_threadpool(runtime.bus.publish, messages)
    return Accepted(accepted=len(messages))
