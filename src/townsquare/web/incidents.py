"""The incident board in the agent app: open incidents, their conversations and lifecycle, and
the form that answers every affected customer at once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Literal

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from townsquare.actions import Actor
from townsquare.api.deps import get_runtime
from townsquare.api.routes.incidents import incident_detail
from townsquare.model import Role
from townsquare.store import incidents as store
from townsquare.web.routes import act_then_redirect, render, web_actor

router = APIRouter(include_in_schema=False)
LEARNED_ENOUGH_HOURS = 24.0  # one EWMA sample for every hour of the day


@router.get("/incidents")
def board(request: Request) -> HTMLResponse:
    actor = web_actor(request)
    runtime = get_runtime(request)
    with runtime.db.read() as conn:
        current = store.list_incidents(conn, statuses=list(store.OPEN_STATUSES))
        past = store.list_incidents(conn, statuses=["resolved"], limit=20)
        learned = store.detector_learned_hours(conn)
    learning = runtime.settings.incidents and (learned is None or learned < LEARNED_ENOUGH_HOURS)
    return render(
        request, "incidents.html", actor=actor, current=current, past=past, learning=learning, learned=learned or 0.0
    )


@router.get("/incidents/banner")
def banner(request: Request) -> HTMLResponse:
    """The open incidents strip above the inbox, for live refresh."""
    web_actor(request)
    with get_runtime(request).db.read() as conn:
        current = store.list_incidents(conn, statuses=list(store.OPEN_STATUSES), limit=5)
    return render(request, "_incident_banner.html", current=current)


@router.get("/incidents/{incident_id}")
def incident_page(request: Request, incident_id: str) -> HTMLResponse:
    actor = web_actor(request)
    runtime = get_runtime(request)
    try:
        incident = incident_detail(runtime, incident_id)
    except HTTPException:
        return render(request, "not_found.html", 404, actor=actor)
    with runtime.db.read() as conn:
        others = [i for i in store.list_incidents(conn, statuses=list(store.OPEN_STATUSES)) if i["id"] != incident_id]
    return render(
        request,
        "incident.html",
        actor=actor,
        i=incident,
        can_act=actor.can(Role.AGENT),
        status_url=runtime.incident_actions.status_url(incident_id),
        others=others,
    )


def _back(request: Request, incident_id: str, csrf: str, action: Callable[[Actor], object]) -> RedirectResponse:
    return act_then_redirect(request, csrf, action, f"/incidents/{incident_id}")


@router.post("/incidents/{incident_id}/status")
def web_status(
    request: Request, incident_id: str, status: Annotated[str, Form(max_length=16)], csrf: Annotated[str, Form()] = ""
) -> RedirectResponse:
    actions = get_runtime(request).incident_actions
    return _back(request, incident_id, csrf, lambda actor: actions.set_status(actor, incident_id, status))


@router.post("/incidents/{incident_id}/update")
def web_update(
    request: Request,
    incident_id: str,
    status: Annotated[str, Form(max_length=16)],
    body: Annotated[str, Form(max_length=5000)],
    reply_de: Annotated[str, Form(max_length=5000)] = "",
    reply_en: Annotated[str, Form(max_length=5000)] = "",
    csrf: Annotated[str, Form()] = "",
) -> RedirectResponse:
    actions = get_runtime(request).incident_actions
    templates = {"de": reply_de, "en": reply_en}
    notify = any(text.strip() for text in templates.values())
    return _back(
        request,
        incident_id,
        csrf,
        lambda actor: actions.post_update(
            actor, incident_id, status=status, body=body, customer_templates=templates, notify_customers=notify
        ),
    )


@router.post("/incidents/{incident_id}/merge")
def web_merge(
    request: Request,
    incident_id: str,
    merge_incident_id: Annotated[str, Form(max_length=64)],
    csrf: Annotated[str, Form()] = "",
) -> RedirectResponse:
    actions = get_runtime(request).incident_actions
    return _back(request, incident_id, csrf, lambda actor: actions.merge(actor, incident_id, merge_incident_id))


@router.post("/conversations/{conversation_id}/incident")
def web_add_to_incident(
    request: Request,
    conversation_id: str,
    incident_id: Annotated[str, Form(max_length=64)],
    csrf: Annotated[str, Form()] = "",
) -> RedirectResponse:
    """Group a conversation into an open incident from the conversation page."""
    actions = get_runtime(request).incident_actions
    return act_then_redirect(
        request,
        csrf,
        lambda actor: actions.add_conversations(actor, incident_id, [conversation_id]),
        f"/conversations/{conversation_id}",
    )


@router.post("/incidents/{incident_id}/selected")
def web_selected(
    request: Request,
    incident_id: str,
    do: Annotated[Literal["split", "move", "remove"], Form()],
    conversation_ids: Annotated[list[str], Form(max_length=10_000)] = [],  # noqa: B006 -- FastAPI form default
    split_title: Annotated[str, Form(max_length=280)] = "",
    target_incident_id: Annotated[str, Form(max_length=64)] = "",
    csrf: Annotated[str, Form()] = "",
) -> RedirectResponse:
    """The bulk bar under an incident's conversations (split the ticked ones into a new incident,
    move them to another open one, or take them out) and each row's Remove button."""
    actions = get_runtime(request).incident_actions
    ids = list(conversation_ids)
    if do == "split":
        new_id: list[str] = []

        def split(actor: Actor) -> None:
            new_id.append(actions.split(actor, incident_id, ids, split_title))

        response = _back(request, incident_id, csrf, split)
        return RedirectResponse(f"/incidents/{new_id[0]}", status_code=303) if new_id else response
    if do == "move":
        return _back(
            request, incident_id, csrf, lambda actor: actions.move(actor, incident_id, target_incident_id, ids)
        )
    return _back(request, incident_id, csrf, lambda actor: actions.remove_conversations(actor, incident_id, ids))
