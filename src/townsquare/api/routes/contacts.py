"""Contacts, their identities on each network, and merging two contacts into one."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status

from townsquare.api.deps import ActorDep, RuntimeDep
from townsquare.api.schemas import ContactDetail, ContactOut, ContactUpdate, MergeIn
from townsquare.store import contacts

router = APIRouter(prefix="/api/contacts", tags=["contacts"])


@router.get("", response_model=list[ContactOut])
def list_contacts(
    runtime: RuntimeDep,
    actor: ActorDep,
    q: Annotated[str | None, Query(max_length=200, description="Part of a name or handle.")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[ContactOut]:
    with runtime.db.read() as conn:
        return [ContactOut.model_validate(row) for row in contacts.list_contacts(conn, query=q, limit=limit)]


@router.get("/{contact_id}", response_model=ContactDetail)
def read_contact(contact_id: str, runtime: RuntimeDep, actor: ActorDep) -> ContactDetail:
    with runtime.db.read() as conn:
        contact = contacts.get_contact(conn, contact_id)
    if contact is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"contact {contact_id} not found")
    return ContactDetail.model_validate(contact)


@router.patch("/{contact_id}", status_code=status.HTTP_204_NO_CONTENT)
def update_contact(contact_id: str, body: ContactUpdate, runtime: RuntimeDep, actor: ActorDep) -> None:
    runtime.actions.update_contact(actor, contact_id, display_name=body.display_name, customer=body.customer)


@router.post("/{contact_id}/merge", status_code=status.HTTP_204_NO_CONTENT)
def merge(contact_id: str, body: MergeIn, runtime: RuntimeDep, actor: ActorDep) -> None:
    runtime.actions.merge_contacts(actor, contact_id, body.merge_contact_id)
