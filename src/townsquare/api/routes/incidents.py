"""Incidents: the board, lifecycle, grouping by hand, public updates with mass response, and the
status page's components."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import BaseModel, ConfigDict, Field

from townsquare.actions import Actor
from townsquare.api.deps import ActorDep, RuntimeDep, require
from townsquare.api.schemas import Created
from townsquare.model import Role
from townsquare.runtime import Runtime
from townsquare.store import incidents as store

router = APIRouter(prefix="/api", tags=["incidents"])
Admin = Annotated[Actor, require(Role.ADMIN)]


class IncidentOut(BaseModel):
    id: str
    title: str
    status: str
    impact: str
    public: bool
    terms: list[str]
    languages: list[str]
    channels: list[str]
    locations: list[str]
    first_message_at: datetime
    detected_at: datetime
    confirmed_at: datetime | None
    resolved_at: datetime | None
    conversation_count: int
    detector_key: str | None


class IncidentConversation(BaseModel):
    id: str
    channel: str
    status: str
    language: str | None
    subject: str
    contact_name: str
    visibility: str | None
    added_by: str
    added_at: datetime


class UpdateOut(BaseModel):
    id: str
    status: str
    body: str
    customer_templates: dict[str, str]
    created_at: datetime
    deliveries: dict[str, int] = Field(description="Customer replies of this update by delivery status.")


class StatusPostOut(BaseModel):
    id: str
    incident_update_id: str
    channel: str
    account: str
    status: str
    attempts: int
    external_id: str | None
    url: str | None
    last_error: str | None


class IncidentDetail(IncidentOut):
    component_ids: list[str]
    conversations: list[IncidentConversation]
    updates: list[UpdateOut]
    status_posts: list[StatusPostOut]


class IncidentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str = Field(min_length=1, max_length=280)
    conversation_ids: list[str] = Field(default=[], max_length=10_000)


class IncidentStatusIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: str = Field(description="suspected, confirmed, monitoring or resolved")


class IncidentEdit(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str | None = Field(default=None, min_length=1, max_length=280)
    impact: str | None = Field(default=None, description="none, minor, major or critical")
    public: bool | None = Field(default=None, description="Shown on the public status page.")
    component_ids: list[str] | None = None


class ConversationIds(BaseModel):
    model_config = ConfigDict(extra="forbid")
    conversation_ids: list[str] = Field(min_length=1, max_length=10_000)


class MergeIncidentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    merge_incident_id: str


class MoveIn(ConversationIds):
    target_incident_id: str = Field(max_length=64)


class SplitIn(ConversationIds):
    title: str = Field(default="", max_length=280)


class UpdateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: str = Field(description="investigating, identified, monitoring or resolved")
    body: str = Field(min_length=1, max_length=5000, description="What the status page says.")
    customer_templates: dict[str, Annotated[str, Field(max_length=5000)]] = Field(
        default={},
        max_length=50,
        description="Reply to every affected customer, by language code; {name}, {handle}, {status_url} and "
        "{title} are filled in.",
    )
    default_language: str = Field(default="en", max_length=16)
    notify_customers: bool = True
    post_to_accounts: list[str] | None = Field(
        default=None, description="'network/account' to post the update from; the configured ones when omitted."
    )


class ComponentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=128)
    description: str = Field(default="", max_length=1000)
    position: int = 0


class ComponentStatusIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: str


class ComponentOut(BaseModel):
    id: str
    name: str
    description: str
    status: str
    position: int


@router.get("/incidents", response_model=list[IncidentOut])
def list_incidents(
    runtime: RuntimeDep,
    actor: ActorDep,
    status_: Annotated[list[str] | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[IncidentOut]:
    with runtime.db.read() as conn:
        rows = store.list_incidents(conn, statuses=status_ or [], limit=limit)
    return [IncidentOut.model_validate(row) for row in rows]


def incident_detail(runtime: Runtime, incident_id: str) -> dict[str, Any]:
    with runtime.db.read() as conn:
        incident = store.get_incident(conn, incident_id)
        if incident is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"incident {incident_id} not found")
        deliveries = store.delivery_status(conn, incident_id)
        updates = store.updates_of(conn, incident_id)
        incident["conversations"] = store.conversations_of_incident(conn, incident_id)
        incident["updates"] = [{**u, "deliveries": deliveries.get(u["id"], {})} for u in updates]
        incident["status_posts"] = store.status_posts_of(conn, [u["id"] for u in updates])
    return incident


@router.get("/incidents/{incident_id}", response_model=IncidentDetail)
def read_incident(incident_id: str, runtime: RuntimeDep, actor: ActorDep) -> IncidentDetail:
    return IncidentDetail.model_validate(incident_detail(runtime, incident_id))


@router.post("/incidents", response_model=Created, status_code=status.HTTP_201_CREATED)
def create_incident(body: IncidentCreate, runtime: RuntimeDep, actor: ActorDep) -> Created:
    return Created(id=runtime.incident_actions.create(actor, body.title, body.conversation_ids))


@router.put("/incidents/{incident_id}/status", status_code=status.HTTP_204_NO_CONTENT)
def set_status(incident_id: str, body: IncidentStatusIn, runtime: RuntimeDep, actor: ActorDep) -> None:
    runtime.incident_actions.set_status(actor, incident_id, body.status)


@router.patch("/incidents/{incident_id}", status_code=status.HTTP_204_NO_CONTENT)
def edit(incident_id: str, body: IncidentEdit, runtime: RuntimeDep, actor: ActorDep) -> None:
    runtime.incident_actions.edit(
        actor, incident_id, title=body.title, impact=body.impact, public=body.public, component_ids=body.component_ids
    )


@router.post("/incidents/{incident_id}/conversations", status_code=status.HTTP_204_NO_CONTENT)
def add_conversations(incident_id: str, body: ConversationIds, runtime: RuntimeDep, actor: ActorDep) -> None:
    runtime.incident_actions.add_conversations(actor, incident_id, body.conversation_ids)


@router.post("/incidents/{incident_id}/conversations/remove", status_code=status.HTTP_204_NO_CONTENT)
def remove_conversations(incident_id: str, body: ConversationIds, runtime: RuntimeDep, actor: ActorDep) -> None:
    runtime.incident_actions.remove_conversations(actor, incident_id, body.conversation_ids)


@router.post("/incidents/{incident_id}/merge", status_code=status.HTTP_204_NO_CONTENT)
def merge(incident_id: str, body: MergeIncidentIn, runtime: RuntimeDep, actor: ActorDep) -> None:
    runtime.incident_actions.merge(actor, incident_id, body.merge_incident_id)


@router.post("/incidents/{incident_id}/conversations/move", status_code=status.HTTP_204_NO_CONTENT)
def move_conversations(incident_id: str, body: MoveIn, runtime: RuntimeDep, actor: ActorDep) -> None:
    """Move conversations to another open incident (audited as `incident.move`)."""
    runtime.incident_actions.move(actor, incident_id, body.target_incident_id, body.conversation_ids)


@router.post("/incidents/{incident_id}/split", response_model=Created, status_code=status.HTTP_201_CREATED)
def split(incident_id: str, body: SplitIn, runtime: RuntimeDep, actor: ActorDep) -> Created:
    return Created(id=runtime.incident_actions.split(actor, incident_id, body.conversation_ids, body.title))


@router.post("/incidents/{incident_id}/updates", response_model=Created, status_code=status.HTTP_201_CREATED)
def post_update(incident_id: str, body: UpdateIn, runtime: RuntimeDep, actor: ActorDep) -> Created:
    """Publish an update; every grouped customer gets the template in their language, in their
    channel (public under their post, or private where they wrote privately)."""
    update_id = runtime.incident_actions.post_update(
        actor,
        incident_id,
        status=body.status,
        body=body.body,
        customer_templates=body.customer_templates,
        default_language=body.default_language,
        notify_customers=body.notify_customers,
        post_to_accounts=body.post_to_accounts,
    )
    return Created(id=update_id)


class Requeued(BaseModel):
    requeued: int


@router.post("/incidents/{incident_id}/retry", response_model=Requeued)
def retry_failed(incident_id: str, runtime: RuntimeDep, actor: ActorDep) -> Requeued:
    """Send again the customer replies of this incident that failed for good (e.g. after an
    account was reconnected)."""
    return Requeued(requeued=runtime.incident_actions.retry_failed(actor, incident_id))


@router.get("/components", response_model=list[ComponentOut])
def list_components(runtime: RuntimeDep, actor: ActorDep) -> list[ComponentOut]:
    with runtime.db.read() as conn:
        return [ComponentOut.model_validate(row) for row in store.list_components(conn)]


@router.post("/components", response_model=Created, status_code=status.HTTP_201_CREATED)
def create_component(body: ComponentIn, runtime: RuntimeDep, actor: Admin) -> Created:
    return Created(id=runtime.incident_actions.create_component(actor, body.name, body.description, body.position))


@router.put("/components/{component_id}/status", status_code=status.HTTP_204_NO_CONTENT)
def set_component_status(component_id: str, body: ComponentStatusIn, runtime: RuntimeDep, actor: ActorDep) -> None:
    runtime.incident_actions.set_component_status(actor, component_id, body.status)
