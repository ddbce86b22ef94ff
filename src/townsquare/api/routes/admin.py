"""Users, teams, API tokens and the audit log: admins only."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from townsquare.actions import Actor
from townsquare.api.deps import RuntimeDep, require
from townsquare.api.schemas import (
    AuditOut,
    Created,
    TeamCreate,
    TeamOut,
    TokenCreated,
    TokenIn,
    TokenOut,
    UserIn,
    UserOut,
    UserUpdate,
)
from townsquare.model import Role
from townsquare.store import audit, users

router = APIRouter(prefix="/api", tags=["admin"])
Admin = Annotated[Actor, require(Role.ADMIN)]


@router.get("/users", response_model=list[UserOut])
def list_users(runtime: RuntimeDep, actor: Admin) -> list[UserOut]:
    with runtime.db.read() as conn:
        return [UserOut.model_validate(row) for row in users.list_users(conn)]


@router.post("/users", response_model=Created, status_code=status.HTTP_201_CREATED)
def create_user(body: UserIn, runtime: RuntimeDep, actor: Admin) -> Created:
    user_id = runtime.actions.create_user(
        actor, email=str(body.email), name=body.name, role=body.role, password=body.password, team_id=body.team_id
    )
    return Created(id=user_id)


@router.patch("/users/{user_id}", status_code=status.HTTP_204_NO_CONTENT)
def update_user(user_id: str, body: UserUpdate, runtime: RuntimeDep, actor: Admin) -> None:
    runtime.actions.update_user(
        actor, user_id, role=body.role, active=body.active, password=body.password, team_id=body.team_id
    )


@router.get("/users/{user_id}/tokens", response_model=list[TokenOut])
def list_tokens(user_id: str, runtime: RuntimeDep, actor: Admin) -> list[TokenOut]:
    with runtime.db.read() as conn:
        return [TokenOut.model_validate(row) for row in users.list_tokens(conn, user_id)]


@router.post("/users/{user_id}/tokens", response_model=TokenCreated, status_code=status.HTTP_201_CREATED)
def create_token(user_id: str, body: TokenIn, runtime: RuntimeDep, actor: Admin) -> TokenCreated:
    token_id, token = runtime.actions.create_token(actor, user_id, body.name)
    return TokenCreated(id=token_id, token=token)


@router.delete("/tokens/{token_id}", status_code=status.HTTP_204_NO_CONTENT)
def revoke_token(token_id: str, runtime: RuntimeDep, actor: Admin) -> None:
    runtime.actions.revoke_token(actor, token_id)


@router.get("/teams", response_model=list[TeamOut])
def list_teams(runtime: RuntimeDep, actor: Admin) -> list[TeamOut]:
    with runtime.db.read() as conn:
        return [TeamOut.model_validate(row) for row in users.list_teams(conn)]


@router.post("/teams", response_model=Created, status_code=status.HTTP_201_CREATED)
def create_team(body: TeamCreate, runtime: RuntimeDep, actor: Admin) -> Created:
    return Created(id=runtime.actions.create_team(actor, body.name))


@router.get("/audit", response_model=list[AuditOut])
def audit_log(
    runtime: RuntimeDep,
    actor: Admin,
    target_type: str | None = None,
    target_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[AuditOut]:
    with runtime.db.read() as conn:
        rows = audit.entries(conn, target_type=target_type, target_id=target_id, limit=limit)
    return [AuditOut.model_validate(row) for row in rows]
