"""Request and response bodies of the REST API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from townsquare.model import ConversationStatus, Priority, Role, Visibility


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class ConversationOut(Out):
    id: str
    channel: str
    account: str
    contact_id: str
    contact_name: str
    status: ConversationStatus
    priority: Priority
    assignee_id: str | None
    assignee_name: str | None
    team_id: str | None
    subject: str
    language: str | None
    sentiment: str | None
    urgency: float | None
    urgency_reasons: list[dict[str, Any]] | None = None
    has_public: bool
    has_private: bool
    personal_data_flag: bool
    message_count: int
    tags: list[str]
    first_message_at: datetime
    last_message_at: datetime
    first_response_due_at: datetime | None
    resolution_due_at: datetime | None
    first_responded_at: datetime | None
    resolved_at: datetime | None
    created_at: datetime
    updated_at: datetime


class ConversationPage(BaseModel):
    items: list[ConversationOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


class LabelOut(Out):
    sentiment: str | None
    intents: list[str] | None
    spam: bool | None
    needs_reply: bool | None
    labelled_by: str | None
    labelled_by_name: str | None = None
    labelled_at: datetime


class MessageOut(Out):
    id: str
    channel: str
    external_id: str
    direction: str
    visibility: Visibility
    author_name: str
    author_handle: str
    text: str
    language: str | None
    in_reply_to: str | None
    url: str | None
    reach: int | None
    created_at: datetime
    received_at: datetime
    sentiment: str | None
    intent: str | None
    urgency: float | None
    triage: dict[str, Any] | None
    label: LabelOut | None = None


class NoteOut(Out):
    id: str
    author_id: str | None
    author_name: str | None
    body: str
    created_at: datetime


class ReplyOut(Out):
    id: str
    visibility: Visibility
    text: str
    status: str
    attempts: int
    last_error: str | None
    external_id: str | None
    url: str | None
    author_name: str | None
    created_at: datetime
    sent_at: datetime | None


class ConversationDetail(ConversationOut):
    messages: list[MessageOut]
    notes: list[NoteOut]
    replies: list[ReplyOut]


class IdentityOut(Out):
    id: str
    channel: str
    external_id: str
    handle: str
    display_name: str
    reach: int | None
    url: str | None


class ContactOut(Out):
    id: str
    display_name: str
    customer: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class ContactDetail(ContactOut):
    identities: list[IdentityOut]


class ReplyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=20_000)
    visibility: Visibility = Visibility.PUBLIC
    in_reply_to_message_id: str | None = Field(
        default=None, description="The message answered; the newest customer message when omitted."
    )
    draft: bool = Field(
        default=False, description="Keep it as a draft; send it later with POST /api/replies/{id}/send."
    )


class ReplyQueued(BaseModel):
    reply_id: str
    status: str = "queued"


class DraftSend(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str | None = Field(default=None, min_length=1, max_length=20_000, description="Edited text, if changed.")
    visibility: Visibility | None = None


class AssignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    assignee_id: str | None


class StatusIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: ConversationStatus


class PriorityIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    priority: Priority


class TeamIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    team_id: str | None


class TagIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tag: str = Field(min_length=1, max_length=64)


class LabelIn(BaseModel):
    """What triage should have answered for a customer's message; give any of the fields. The
    values are triage's own (checked by the action): sentiment negative, neutral or positive;
    intents among complaint, question, request, praise, recommendation_request, other."""

    model_config = ConfigDict(extra="forbid")
    sentiment: str | None = Field(default=None, max_length=16)
    intents: list[str] | None = Field(default=None, min_length=1, max_length=6, description="The main intent first.")
    spam: bool | None = None
    needs_reply: bool | None = None


class ClassScoresOut(BaseModel):
    precision: float
    recall: float
    f1: float
    support: int = Field(description="Posts the agents gave this class.")


class ConfusionOut(BaseModel):
    labels: list[str]
    matrix: list[list[int]] = Field(
        description="matrix[i][j]: posts agents labelled labels[i] that triage had called labels[j]."
    )


class TaskScoresOut(BaseModel):
    n: int
    accuracy: float
    macro_f1: float
    macro_f1_ci95: list[float] | None = Field(description="95 % bootstrap interval of the macro-F1.")
    confusion: ConfusionOut
    per_class: dict[str, ClassScoresOut]


class CorrectionReportOut(BaseModel):
    """Triage's stored answers scored against the agents' labels: truth = the agent's label."""

    labelled: int = Field(description="Labelled posts read.")
    without_triage: int = Field(description="Of those, posts triage never answered (it was off).")
    model: str | None = Field(default=None, description="Only this model's answers were scored; null: every model's.")
    models: dict[str, int] = Field(
        default_factory=dict,
        description='Labelled answers per model that gave them ("fast 1a2b3c4d": the mode and its weight files\' '
        'digests; "unrecorded": stored before models were kept), whatever the model filter.',
    )
    changed: dict[str, int] = Field(description="Per task, posts where the agent's answer differs from triage's.")
    tasks: dict[str, dict[str, TaskScoresOut]] = Field(description='Per task, "all" and each language.')
    note: str


class NoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    body: str = Field(min_length=1, max_length=20_000)


class ContactUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    display_name: str | None = Field(default=None, min_length=1, max_length=512)
    customer: dict[str, Any] | None = Field(
        default=None, description="The customer record: customer number, contract, open orders, or not a customer."
    )


class MergeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    merge_contact_id: str = Field(description="This contact's identities and conversations move over; it is deleted.")


class UserOut(Out):
    id: str
    email: str
    name: str
    role: Role
    team_id: str | None
    active: bool
    created_at: datetime


class UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: EmailStr
    name: str = Field(min_length=1, max_length=200)
    role: Role = Role.AGENT
    password: str | None = Field(default=None, min_length=8, max_length=1024)
    team_id: str | None = None


class UserUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Role | None = None
    active: bool | None = None
    password: str | None = Field(default=None, min_length=8, max_length=1024)
    team_id: str | None = None


class TokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)


class TokenCreated(BaseModel):
    id: str
    token: str = Field(description="Shown once; only its digest is stored.")


class TokenOut(Out):
    id: str
    user_id: str
    name: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class TeamOut(Out):
    id: str
    name: str


class TeamCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=128)


class AuditOut(Out):
    id: str
    at: datetime
    actor_id: str | None
    actor_label: str
    action: str
    target_type: str
    target_id: str
    details: dict[str, Any]


class Created(BaseModel):
    id: str
