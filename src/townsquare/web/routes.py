"""The minimal agent inbox: sign in, list, read a conversation, reply, assign, resolve.

Pages are rendered on the server with autoescaping on: customer text is always shown as text,
never as markup. Every form carries the session's CSRF token. State changes go through the same
named actions as the API.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader

from townsquare.actions import ActionError, Actor, PersonalDataInPublicReply
from townsquare.api.deps import actor_from_request, get_runtime, session_csrf
from townsquare.model import ConversationStatus, Role, Visibility
from townsquare.security.passwords import verify_password
from townsquare.store import conversations as convs
from townsquare.store import incidents as incident_store
from townsquare.store import labels, users
from townsquare.triage.schema import INTENTS, SENTIMENTS
from townsquare.web import triage_view

HERE = Path(__file__).parent
templates = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=True)
router = APIRouter(include_in_schema=False)

INBOX_VIEWS = {
    "open": ["new", "open", "pending"],
    "new": ["new"],
    "pending": ["pending"],
    "resolved": ["resolved"],
    "all": [],
}


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    context.setdefault("csrf", session_csrf(request))
    context.setdefault("flash", request.session.pop("flash", None))
    html = templates.get_template(name).render(request=request, **context)
    return HTMLResponse(html, status_code=status_code)


class LoginRequired(Exception):
    pass


def web_actor(request: Request) -> Actor:
    actor = actor_from_request(request, get_runtime(request))
    if actor is None:
        raise LoginRequired
    return actor


def check_csrf(request: Request, token: str) -> None:
    if not secrets.compare_digest(token or "", session_csrf(request)):
        raise ActionError("the form expired; reload the page and try again")


@router.get("/login")
def login_page(request: Request, next: str = "/inbox") -> HTMLResponse:
    return render(request, "login.html", next=next if next.startswith("/") and not next.startswith("//") else "/inbox")


@router.post("/login", response_model=None)
def login(
    request: Request,
    email: Annotated[str, Form(max_length=320)],
    password: Annotated[str, Form(max_length=1024)],
    csrf: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=500)] = "/inbox",
) -> Response:
    runtime = get_runtime(request)
    if not secrets.compare_digest(csrf, session_csrf(request)):
        return render(request, "login.html", 400, error="The form expired; please try again.", next=next)
    with runtime.db.read() as conn:
        user = users.user_by_email(conn, email.strip())
    if user is None or not user["active"] or not verify_password(user["password_hash"], password):
        return render(request, "login.html", 401, error="Wrong e-mail or password.", next=next, email=email)
    request.session.clear()
    request.session["user_id"] = user["id"]
    target = next if next.startswith("/") and not next.startswith("//") else "/inbox"
    return RedirectResponse(target, status_code=303)


@router.post("/logout")
def logout(request: Request, csrf: Annotated[str, Form(max_length=200)] = "") -> RedirectResponse:
    check_csrf(request, csrf)
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


@router.get("/")
def home() -> RedirectResponse:
    return RedirectResponse("/inbox", status_code=303)


def _inbox_rows(request: Request, view: str, q: str | None, mine: bool, actor: Actor) -> list[dict[str, Any]]:
    runtime = get_runtime(request)
    filters = convs.ConversationFilter(statuses=INBOX_VIEWS.get(view, INBOX_VIEWS["open"]), text=q or None)
    if mine:
        filters.assignee_id = actor.id
    with runtime.db.read() as conn:
        rows, _ = convs.list_conversations(conn, filters, limit=100)
    return [{**row, "alert": triage_view.strongest_alert(row.get("urgency_reasons"))} for row in rows]


@router.get("/inbox")
def inbox(request: Request, view: str = "open", q: str | None = None, mine: bool = False) -> HTMLResponse:
    actor = web_actor(request)
    rows = _inbox_rows(request, view, q, mine, actor)
    with get_runtime(request).db.read() as conn:
        current = incident_store.list_incidents(conn, statuses=list(incident_store.OPEN_STATUSES), limit=5)
    return render(
        request,
        "inbox.html",
        actor=actor,
        rows=rows,
        view=view,
        q=q or "",
        mine=mine,
        views=list(INBOX_VIEWS),
        query=urlencode({"view": view, "q": q or "", "mine": mine}),
        current=current,
    )


@router.get("/inbox/rows")
def inbox_rows(request: Request, view: str = "open", q: str | None = None, mine: bool = False) -> HTMLResponse:
    """The list alone, for live refresh."""
    actor = web_actor(request)
    return render(request, "_rows.html", rows=_inbox_rows(request, view, q, mine, actor))


@router.get("/conversations/{conversation_id}")
def conversation_page(request: Request, conversation_id: str) -> HTMLResponse:
    actor = web_actor(request)
    runtime = get_runtime(request)
    with runtime.db.read() as conn:
        conversation = convs.get_conversation(conn, conversation_id)
        if conversation is None:
            return render(request, "not_found.html", 404, actor=actor)
        messages = convs.messages_of(conn, conversation_id)
        found = labels.labels_of(conn, [m["id"] for m in messages])
        timeline = _timeline(
            [
                {
                    **m,
                    "label": found.get(m["id"]),
                    "answer": triage_view.answer(m, found.get(m["id"])),
                    "why": triage_view.reason_views((m.get("triage") or {}).get("urgency_reasons")),
                }
                for m in messages
            ],
            convs.notes_of(conn, conversation_id),
            convs.replies_of(conn, conversation_id),
        )
        agents = [u for u in users.list_users(conn) if u["active"] and u["role"] != Role.VIEWER]
        open_incidents = incident_store.list_incidents(conn, statuses=list(incident_store.OPEN_STATUSES), limit=20)
        in_incident = incident_store.open_incident_of_conversations(conn, [conversation_id]).get(conversation_id)
    return render(
        request,
        "conversation.html",
        actor=actor,
        c=conversation,
        timeline=timeline,
        agents=agents,
        statuses=[s.value for s in ConversationStatus],
        sentiments=SENTIMENTS,
        intents=INTENTS,
        can_act=actor.can(Role.AGENT),
        draft=_take_draft(request, conversation_id),
        open_incidents=open_incidents,
        in_incident=in_incident,
    )


def _take_draft(request: Request, conversation_id: str) -> dict[str, str] | None:
    """A reply the guard refused, offered again to send privately."""
    draft = request.session.pop("draft", None)
    if isinstance(draft, dict) and draft.get("conversation_id") == conversation_id:
        return {"text": str(draft.get("text", "")), "visibility": "private"}
    return None


def _timeline(
    messages: list[dict[str, Any]], notes: list[dict[str, Any]], replies: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Messages, internal notes and not-yet-delivered replies, in time order."""
    entries = [{"kind": "message", "at": m["created_at"], **m} for m in messages]
    entries += [{"kind": "note", "at": n["created_at"], **n} for n in notes]
    entries += [{"kind": "reply", "at": r["created_at"], **r} for r in replies if r["status"] != "sent"]
    return sorted(entries, key=lambda entry: str(entry["at"]))


def act_then_redirect(request: Request, csrf: str, action: Callable[[Actor], object], target: str) -> RedirectResponse:
    """Run a form's action as the signed-in agent; show its refusal as a message on `target`."""
    actor = web_actor(request)
    try:
        check_csrf(request, csrf)
        action(actor)
    except ActionError as error:
        request.session["flash"] = error.message
    return RedirectResponse(target, status_code=303)


def _act(request: Request, conversation_id: str, csrf: str, action: Callable[[Actor], object]) -> RedirectResponse:
    return act_then_redirect(request, csrf, action, f"/conversations/{conversation_id}")


@router.post("/conversations/{conversation_id}/reply")
def web_reply(
    request: Request,
    conversation_id: str,
    text: Annotated[str, Form(max_length=20_000)],
    visibility: Annotated[Visibility, Form()] = Visibility.PUBLIC,
    csrf: Annotated[str, Form()] = "",
) -> RedirectResponse:
    actions = get_runtime(request).actions

    def reply(actor: Actor) -> None:
        try:
            actions.reply(actor, conversation_id, text, visibility)
        except PersonalDataInPublicReply:
            # Keep the text: the agent sends it privately with one click instead of retyping.
            request.session["draft"] = {"conversation_id": conversation_id, "text": text[:20_000]}
            raise

    return _act(request, conversation_id, csrf, reply)


@router.post("/conversations/{conversation_id}/assign")
def web_assign(
    request: Request,
    conversation_id: str,
    assignee_id: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> RedirectResponse:
    actions = get_runtime(request).actions
    return _act(
        request, conversation_id, csrf, lambda actor: actions.assign(actor, conversation_id, assignee_id or None)
    )


@router.post("/conversations/{conversation_id}/status")
def web_status(
    request: Request,
    conversation_id: str,
    status: Annotated[ConversationStatus, Form()],
    csrf: Annotated[str, Form()] = "",
) -> RedirectResponse:
    actions = get_runtime(request).actions
    return _act(request, conversation_id, csrf, lambda actor: actions.set_status(actor, conversation_id, status))


@router.post("/conversations/{conversation_id}/note")
def web_note(
    request: Request,
    conversation_id: str,
    body: Annotated[str, Form(max_length=20_000)],
    csrf: Annotated[str, Form()] = "",
) -> RedirectResponse:
    actions = get_runtime(request).actions
    return _act(request, conversation_id, csrf, lambda actor: actions.add_note(actor, conversation_id, body))


@router.post("/conversations/{conversation_id}/messages/{message_id}/label")
def web_label(
    request: Request,
    conversation_id: str,
    message_id: str,
    sentiment: Annotated[str, Form(max_length=16)],
    intent: Annotated[str, Form(max_length=32)],
    also_intent: Annotated[str, Form(max_length=32)] = "",
    spam: Annotated[bool, Form()] = False,
    needs_reply: Annotated[bool, Form()] = False,
    csrf: Annotated[str, Form()] = "",
) -> RedirectResponse:
    """The form states all four answers (prefilled with triage's or an earlier label's), so an
    unticked box means no; the main intent and at most one more (the API takes up to six), the
    same one twice counting once."""
    actions = get_runtime(request).actions
    intents = [intent] + ([also_intent] if also_intent and also_intent != intent else [])
    return _act(
        request,
        conversation_id,
        csrf,
        lambda actor: actions.label_message(
            actor, message_id, sentiment=sentiment, intents=intents, spam=spam, needs_reply=needs_reply
        ),
    )


@router.post("/conversations/{conversation_id}/messages/{message_id}/unlabel")
def web_unlabel(
    request: Request, conversation_id: str, message_id: str, csrf: Annotated[str, Form()] = ""
) -> RedirectResponse:
    actions = get_runtime(request).actions
    return _act(request, conversation_id, csrf, lambda actor: actions.unlabel_message(actor, message_id))


def mount_web(app: FastAPI) -> None:
    from townsquare.web.channels import router as channels_router
    from townsquare.web.incidents import router as incidents_router
    from townsquare.web.status import router as status_router
    from townsquare.web.triage_quality import router as triage_quality_router

    app.include_router(router)
    app.include_router(incidents_router)
    app.include_router(channels_router)
    app.include_router(triage_quality_router)
    app.include_router(status_router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    @app.exception_handler(LoginRequired)
    async def to_login(request: Request, _error: LoginRequired) -> RedirectResponse:
        return RedirectResponse("/login?" + urlencode({"next": request.url.path}), status_code=303)
