"""The one endpoint that answers without authentication, for load balancers and monitors."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status

from townsquare.api.deps import RuntimeDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz(runtime: RuntimeDep) -> dict[str, str]:
    try:
        runtime.db.ping()
    except Exception:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "database unreachable") from None
    return {"status": "ok", "database": runtime.db.dialect}
