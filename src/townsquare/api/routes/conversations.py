"""Conversations: list, filter, search, read, and every action an agent takes on one."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status

from townsquare.api.deps import ActorDep, RuntimeDep
from townsquare.api.schemas import (
    AssignIn,
    ConversationDetail,
    ConversationPage,
    Created,
    DraftSend,
    LabelIn,
    NoteIn,
    PriorityIn,
    ReplyIn,
    ReplyQueued,
    StatusIn,
    TagIn,
    TeamIn,
)
from townsquare.model import ConversationStatus
from townsquare.store import conversations as convs
from townsquare.store import labels

router = APIRouter(prefix="/api/conversations", tags=["conversations"])
replies_router = APIRouter(prefix="/api/replies", tags=["conversations"])
messages_router = APIRouter(prefix="/api/messages", tags=["conversations"])


@router.get("", response_model=ConversationPage)
def list_conversations(
    runtime: RuntimeDep,
    actor: ActorDep,
    status_: Annotated[list[ConversationStatus] | None, Query(alias="status")] = None,
    channel: str | None = None,
    assignee: Annotated[str | None, Query(description="A user id, `me`, or `none` for unassigned.")] = None,
    team: str | None = None,
    tag: str | None = None,
    language: str | None = None,
    priority: str | None = None,
    contact: str | None = None,
    q: Annotated[str | None, Query(max_length=500, description="Full-text search in message text.")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> ConversationPage:
    filters = convs.ConversationFilter(
        statuses=[s.value for s in status_ or []],
        channel=channel,
        team_id=team,
        tag=tag,
        language=language,
        priority=priority,
        contact_id=contact,
        text=q,
    )
    if assignee == "none":
        filters.unassigned = True
    elif assignee == "me":
        filters.assignee_id = actor.id
    elif assignee:
        filters.assignee_id = assignee
    try:
        with runtime.db.read() as conn:
            rows, next_cursor = convs.list_conversations(conn, filters, limit=limit, cursor=cursor)
    except convs.InvalidCursor as error:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(error)) from None
    return ConversationPage.model_validate({"items": rows, "next_cursor": next_cursor})


@router.get("/{conversation_id}", response_model=ConversationDetail)
def read_conversation(conversation_id: str, runtime: RuntimeDep, actor: ActorDep) -> ConversationDetail:
    with runtime.db.read() as conn:
        conversation = convs.get_conversation(conn, conversation_id)
        if conversation is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"conversation {conversation_id} not found")
        conversation["messages"] = convs.messages_of(conn, conversation_id)
        found = labels.labels_of(conn, [m["id"] for m in conversation["messages"]])
        for message in conversation["messages"]:
            message["label"] = found.get(message["id"])
        conversation["notes"] = convs.notes_of(conn, conversation_id)
        conversation["replies"] = convs.replies_of(conn, conversation_id)
    return ConversationDetail.model_validate(conversation)


@router.post("/{conversation_id}/replies", response_model=ReplyQueued, status_code=status.HTTP_202_ACCEPTED)
def reply(conversation_id: str, body: ReplyIn, runtime: RuntimeDep, actor: ActorDep) -> ReplyQueued:
    """Queue a reply in the outbox (or keep it as a draft). Public replies that contain personal
    data are refused (422) with the suggestion to send them privately."""
    reply_id = runtime.actions.reply(
        actor, conversation_id, body.text, body.visibility, body.in_reply_to_message_id, draft=body.draft
    )
    return ReplyQueued(reply_id=reply_id, status="draft" if body.draft else "queued")


@replies_router.post("/{reply_id}/send", response_model=ReplyQueued, status_code=status.HTTP_202_ACCEPTED)
def send_draft(reply_id: str, body: DraftSend, runtime: RuntimeDep, actor: ActorDep) -> ReplyQueued:
    runtime.actions.send_draft(actor, reply_id, body.text, body.visibility)
    return ReplyQueued(reply_id=reply_id)


@replies_router.delete("/{reply_id}", status_code=status.HTTP_204_NO_CONTENT)
def discard_draft(reply_id: str, runtime: RuntimeDep, actor: ActorDep) -> None:
    runtime.actions.discard_draft(actor, reply_id)


@router.put("/{conversation_id}/assignee", status_code=status.HTTP_204_NO_CONTENT)
def assign(conversation_id: str, body: AssignIn, runtime: RuntimeDep, actor: ActorDep) -> None:
    runtime.actions.assign(actor, conversation_id, body.assignee_id)


@router.put("/{conversation_id}/status", status_code=status.HTTP_204_NO_CONTENT)
def set_status(conversation_id: str, body: StatusIn, runtime: RuntimeDep, actor: ActorDep) -> None:
    runtime.actions.set_status(actor, conversation_id, body.status)


@router.put("/{conversation_id}/priority", status_code=status.HTTP_204_NO_CONTENT)
def set_priority(conversation_id: str, body: PriorityIn, runtime: RuntimeDep, actor: ActorDep) -> None:
    runtime.actions.set_priority(actor, conversation_id, body.priority)


@router.put("/{conversation_id}/team", status_code=status.HTTP_204_NO_CONTENT)
def set_team(conversation_id: str, body: TeamIn, runtime: RuntimeDep, actor: ActorDep) -> None:
    runtime.actions.set_team(actor, conversation_id, body.team_id)


@router.post("/{conversation_id}/tags", status_code=status.HTTP_204_NO_CONTENT)
def add_tag(conversation_id: str, body: TagIn, runtime: RuntimeDep, actor: ActorDep) -> None:
    runtime.actions.tag(actor, conversation_id, body.tag)


@router.delete("/{conversation_id}/tags/{tag}", status_code=status.HTTP_204_NO_CONTENT)
def remove_tag(conversation_id: str, tag: str, runtime: RuntimeDep, actor: ActorDep) -> None:
    runtime.actions.untag(actor, conversation_id, tag)


@router.post("/{conversation_id}/notes", response_model=Created, status_code=status.HTTP_201_CREATED)
def add_note(conversation_id: str, body: NoteIn, runtime: RuntimeDep, actor: ActorDep) -> Created:
    return Created(id=runtime.actions.add_note(actor, conversation_id, body.body))


@messages_router.put("/{message_id}/label", status_code=status.HTTP_204_NO_CONTENT)
def label_message(message_id: str, body: LabelIn, runtime: RuntimeDep, actor: ActorDep) -> None:
    """Correct triage for a customer's message (agents): the company's own labelled history,
    exported by `townsquare export labelled`."""
    runtime.actions.label_message(
        actor,
        message_id,
        sentiment=body.sentiment,
        intents=body.intents,
        spam=body.spam,
        needs_reply=body.needs_reply,
    )


@messages_router.delete("/{message_id}/label", status_code=status.HTTP_204_NO_CONTENT)
def unlabel_message(message_id: str, runtime: RuntimeDep, actor: ActorDep) -> None:
    """Withdraw a message's label (agents); 404 when it has none."""
    runtime.actions.unlabel_message(actor, message_id)
