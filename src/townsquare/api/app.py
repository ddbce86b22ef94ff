"""Builds the ASGI application: REST API, webhook receivers, the agent web app, and (in the demo)
the demo network's own pages."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Protocol

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import JSONResponse, RedirectResponse
from starlette.middleware.sessions import SessionMiddleware

from townsquare import __version__
from townsquare.actions import ActionError, PersonalDataInPublicReply
from townsquare.api.deps import ActorDep, actor_from_request
from townsquare.api.routes import admin, contacts, conversations, events, health, incidents, triage, webhooks
from townsquare.runtime import Runtime

MAX_API_BODY_BYTES = 1_000_000
SESSION_COOKIE = "townsquare_session"


class Service(Protocol):
    """Something that runs beside the server (the demo network, a stream listener)."""

    def mount(self, app: FastAPI) -> None: ...

    def start(self) -> None: ...

    def stop(self) -> None: ...


def create_app(runtime: Runtime, *, manage_runtime: bool = False, services: Sequence[Service] = ()) -> FastAPI:
    """`manage_runtime`: start the runtime's workers with the server and stop them after it;
    `services` start after the runtime and stop before it."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if manage_runtime:
            runtime.start()
        for service in services:
            service.start()
        try:
            yield
        finally:
            for service in reversed(services):
                service.stop()
            if manage_runtime:
                runtime.stop()

    app = FastAPI(
        title="Townsquare",
        version=__version__,
        description="Social customer service: one inbox for what customers post on the networks.",
        lifespan=lifespan,
        # Served below behind authentication: only the health check, the webhook receivers, the
        # public status page and the web chat's visitor side answer without it.
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.runtime = runtime
    app.add_middleware(
        SessionMiddleware,
        secret_key=runtime.secret_key,
        session_cookie=SESSION_COOKIE,
        same_site="lax",
        https_only=runtime.settings.cookie_secure,
        max_age=14 * 24 * 3600,
    )

    @app.middleware("http")
    async def limit_body(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > MAX_API_BODY_BYTES):
            return JSONResponse({"detail": "request body too large or malformed length"}, status_code=413)
        return await call_next(request)

    @app.exception_handler(PersonalDataInPublicReply)
    async def personal_data(_request: Request, error: PersonalDataInPublicReply) -> JSONResponse:
        return JSONResponse(
            {"detail": error.message, "personal_data": error.kinds, "suggestion": "visibility=private"},
            status_code=error.status_code,
        )

    @app.exception_handler(ActionError)
    async def action_error(_request: Request, error: ActionError) -> JSONResponse:
        return JSONResponse({"detail": error.message}, status_code=error.status_code)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_request: Request, error: RequestValidationError) -> JSONResponse:
        # Say what is wrong and where, without echoing the input back (it may hold a password or
        # a customer's personal data).
        problems = [
            {"loc": list(problem.get("loc", ())), "msg": problem.get("msg", ""), "type": problem.get("type", "")}
            for problem in error.errors()
        ]
        return JSONResponse({"detail": problems}, status_code=422)

    for router in (
        health.router,
        conversations.router,
        conversations.replies_router,
        conversations.messages_router,
        contacts.router,
        incidents.router,
        admin.router,
        triage.router,
        events.router,
        webhooks.router,
    ):
        app.include_router(router)

    @app.get("/openapi.json", include_in_schema=False)
    def openapi_document(actor: ActorDep) -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False)
    def api_docs(request: Request) -> Response:
        if actor_from_request(request, runtime) is None:
            return RedirectResponse("/login?next=/docs", status_code=303)
        return get_swagger_ui_html(openapi_url="/openapi.json", title="Townsquare API")

    from townsquare.web.routes import mount_web

    mount_web(app)
    for service in services:
        service.mount(app)
    return app
