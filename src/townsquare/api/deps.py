"""Who is asking: API tokens (Authorization: Bearer) or the web app's session cookie."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status

from townsquare.actions import Actor
from townsquare.actions.service import token_digest
from townsquare.model import Role
from townsquare.runtime import Runtime
from townsquare.store import users

UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
CSRF_HEADER = "X-CSRF-Token"


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail, headers={"WWW-Authenticate": "Bearer"})


def session_csrf(request: Request) -> str:
    """The session's CSRF token, created on first use."""
    token = request.session.get("csrf")
    if not token:
        token = request.session["csrf"] = secrets.token_urlsafe(32)
    return str(token)


def actor_from_request(request: Request, runtime: Runtime) -> Actor | None:
    header = request.headers.get("authorization", "")
    if header:
        scheme, _, credentials = header.partition(" ")
        if scheme.lower() != "bearer" or not credentials.strip():
            raise _unauthorized("use 'Authorization: Bearer <token>'")
        with runtime.db.read() as conn:
            user = users.user_by_token_hash(conn, token_digest(credentials.strip()))
        if user is None or not user["active"]:
            raise _unauthorized("the token is unknown, revoked, or its user is deactivated")
        return Actor(id=user["id"], label=user["email"], role=Role(user["role"]))
    user_id = request.session.get("user_id") if "session" in request.scope else None
    if not user_id:
        return None
    with runtime.db.read() as conn:
        user = users.user_by_id(conn, str(user_id))
    if user is None or not user["active"]:
        request.session.clear()
        return None
    return Actor(id=user["id"], label=user["email"], role=Role(user["role"]))


def current_actor(request: Request, runtime: RuntimeDep) -> Actor:
    actor = actor_from_request(request, runtime)
    if actor is None:
        raise _unauthorized("authentication required: an API token or a signed-in session")
    # A browser session changing state must prove the request came from our own pages.
    if request.method in UNSAFE_METHODS and "authorization" not in request.headers:
        sent = request.headers.get(CSRF_HEADER, "")
        if not sent or not secrets.compare_digest(sent, session_csrf(request)):
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"missing or wrong {CSRF_HEADER} header")
    return actor


ActorDep = Annotated[Actor, Depends(current_actor)]


def require(role: Role) -> object:
    def check(actor: ActorDep) -> Actor:
        if not actor.can(role):
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"this needs the {role.value} role")
        return actor

    return Depends(check)
