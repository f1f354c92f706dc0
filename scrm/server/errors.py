"""One error shape for every failure: ``{"error": {"code", "message", "field"}}``.

scrm's errors (:class:`scrm.core.errors.ScrmError`) carry their HTTP status and code and are
mapped here once; anything else is a bug: a 500 that says only that something failed (the
traceback goes to the log, never to the client).  No handler echoes a header, a token or a
request body back.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from scrm.core.cases import Conflict
from scrm.core.config import plain_message
from scrm.core.errors import ScrmError
from scrm.core.queries import CaseDetail

__all__ = [
    "RESPONSES",
    "WEBHOOK_RESPONSES",
    "ApiError",
    "ConflictOut",
    "ErrorOut",
    "error_response",
    "install_error_handlers",
]

log = logging.getLogger(__name__)

_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid",
    503: "not_ready",
}


class ErrorDetail(BaseModel):
    code: str = Field(description="Stable machine-readable code, e.g. not_found, conflict.")
    message: str = Field(description="One sentence for a person.")
    field: str | None = Field(default=None, description="Dotted path of the input at fault.")


class ErrorOut(BaseModel):
    error: ErrorDetail


class ConflictOut(ErrorOut):
    """A stale version: the error and the case as it is now."""

    current: CaseDetail | None = None


class ApiError(Exception):
    """An HTTP error with scrm's error body."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field
        self.headers = headers


def _err(description: str, model: type[BaseModel] = ErrorOut) -> dict[str, Any]:
    return {"model": model, "description": description}


#: Error responses every API route documents in the OpenAPI schema.
RESPONSES: dict[int | str, dict[str, Any]] = {
    401: _err("No API key, or an unknown or revoked one."),
    403: _err("The key's role may not do this."),
    404: _err("No such record, or not visible to this key."),
    413: _err("The request body is too large."),
    422: _err("The input is invalid; `field` names what is wrong."),
}


#: Error responses of the channel webhook routes plugins add.
WEBHOOK_RESPONSES: dict[int | str, dict[str, Any]] = {
    403: _err("The platform's signature (or handshake token) is missing or wrong."),
    404: _err("The channel is not available."),
    413: _err("The request body is too large."),
    422: _err("A parameter is invalid."),
}


def error_response(
    status: int,
    code: str,
    message: str,
    field: str | None = None,
    *,
    headers: Mapping[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {"error": {"code": code, "message": message, "field": field}}
    body.update(extra or {})
    return JSONResponse(body, status_code=status, headers=headers)


def _field(loc: Sequence[Any]) -> str | None:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header", "cookie"):
        parts = parts[1:]
    return ".".join(parts) or None


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers that turn every failure into the error shape."""

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.message, exc.field, headers=exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _CODES.get(exc.status_code, "http_error")
        return error_response(exc.status_code, code, str(exc.detail), headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        first = errors[0] if errors else {"msg": "invalid input", "loc": ()}
        return error_response(422, "invalid", plain_message(first), _field(first.get("loc", ())))

    @app.exception_handler(ScrmError)
    async def scrm_error(request: Request, exc: ScrmError) -> JSONResponse:
        if exc.http_status == 500:
            return _internal(request, exc)
        if exc.http_status > 500:  # not ready: the client is told why, in general words
            return error_response(exc.http_status, exc.code, exc.public_message)
        message = (str(exc).splitlines() or [type(exc).__name__])[0][:500]
        return error_response(exc.http_status, exc.code, message, exc.field)

    @app.exception_handler(Conflict)
    async def conflict(request: Request, exc: Conflict) -> JSONResponse:
        # The generic shape, plus what the caller needs to retry: the case as it is now.
        current = request.app.state.scrm.case(exc.case_id)
        return error_response(
            exc.http_status,
            exc.code,
            str(exc),
            exc.field,
            headers={"ETag": f'"{current.version}"'},
            extra={"current": current.model_dump(mode="json")},
        )

    @app.exception_handler(Exception)
    async def internal(request: Request, exc: Exception) -> JSONResponse:
        return _internal(request, exc)


def _internal(request: Request, exc: Exception) -> JSONResponse:
    """A bug, or a failure the client cannot fix: logged with its traceback, told nothing."""
    log.error(
        "%s %s failed: %s", request.method, request.url.path, type(exc).__name__, exc_info=exc
    )
    return error_response(500, "internal", ScrmError.public_message)
