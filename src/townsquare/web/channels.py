"""The channels page of the agent app: every installed connector with what it can do, and the
connected accounts with their state (e.g. "reconnect" when credentials were revoked)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from townsquare.api.deps import get_runtime
from townsquare.channels.base import secret_fields
from townsquare.channels.registry import connector_classes
from townsquare.store import accounts
from townsquare.web.routes import render, web_actor

router = APIRouter(include_in_schema=False)


@router.get("/channels")
def channels_page(request: Request) -> HTMLResponse:
    actor = web_actor(request)
    with get_runtime(request).db.read() as conn:
        connected = accounts.list_accounts(conn)
    connectors = [
        {
            "name": name,
            "title": cls.title,
            "description": cls.description,
            "receives": ", ".join(cls.receives) or "through Townsquare itself",
            "limits": cls.limits,
            "settings": [
                (field, info.description or "", field in secret_fields(cls.settings_model), info.is_required())
                for field, info in cls.settings_model.model_fields.items()
            ],
            "accounts": [a for a in connected if a["channel"] == name],
        }
        for name, cls in connector_classes().items()
    ]
    return render(request, "channels.html", actor=actor, connectors=connectors)
