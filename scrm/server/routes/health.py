"""Liveness and readiness: the only routes besides channel webhooks that need no key."""

from __future__ import annotations

import sqlalchemy as sa
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from scrm.core.app import SchemaError
from scrm.server.errors import ErrorOut, error_response

__all__ = ["router"]

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness: the process answers")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Readiness: the database answers and its schema is at the newest migration",
    responses={503: {"model": ErrorOut, "description": "Not ready; the message says why."}},
)
def readyz(request: Request) -> JSONResponse:
    app = request.app.state.scrm
    try:
        with app.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except Exception as exc:
        return error_response(
            503, "not_ready", f"the database is unreachable ({type(exc).__name__})"
        )
    try:
        app.check_schema()
    except SchemaError:
        return error_response(503, "not_ready", "the database needs migrating: run scrm db upgrade")
    return JSONResponse({"status": "ready"})
