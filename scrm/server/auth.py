"""API-key authentication and role checks for ``/api/v1``.

Every API route takes ``who: Principal = require(...)`` naming the roles allowed; the key
comes as ``Authorization: Bearer <token>``.  An agent key also limits what is *visible*:
cases (and their interactions) outside its departments answer 404, as if they did not
exist.  Tokens are looked up by their SHA-256 and never logged or echoed.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select

from scrm.core.apikeys import Principal, authenticate
from scrm.core.app import Scrm
from scrm.core.errors import N_, Forbidden
from scrm.core.models import Case, Department, Interaction
from scrm.core.queries import NotFound
from scrm.server.errors import ApiError

__all__ = [
    "ALL_ROLES",
    "WORKER_ROLES",
    "AdminKey",
    "AnyKey",
    "IngestKey",
    "ReaderKey",
    "WorkerKey",
    "check_case",
    "check_interaction",
    "check_role",
    "get_scrm",
    "require",
    "server_app",
]

ALL_ROLES = ("admin", "agent", "readonly", "integration")

_bearer = HTTPBearer(auto_error=False, description="An API key from `scrm apikey create`.")
_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def server_app(request: Request) -> Scrm:
    """The application the server was built on, across brands."""
    app: Scrm = request.app.state.scrm
    return app


def _caller(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal | None:
    """The request's API key's caller, or None (no key, or an unknown or revoked one).

    FastAPI runs it once per request, for both :func:`get_scrm` and :func:`current_principal`.
    """
    if credentials is None or credentials.scheme.lower() != "bearer":
        return None
    with server_app(request).session() as s:
        return authenticate(s, credentials.credentials)


def get_scrm(request: Request, caller: Annotated[Principal | None, Depends(_caller)]) -> Scrm:
    """The application as the caller may see it: limited to the key's brand, if it has one.

    Every route gets its application here, so every query and change it makes is scoped to
    the caller's brand (:mod:`scrm.core.tenancy`) without a check of its own.
    """
    app = server_app(request)
    return app.for_brand(caller.brand_id) if caller is not None else app


def current_principal(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    caller: Annotated[Principal | None, Depends(_caller)],
) -> Principal:
    """Authenticate the request's API key; 401 without one or with an unknown/revoked one."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise ApiError(401, "unauthorized", "an API key is required", headers=_CHALLENGE)
    if caller is None:
        raise ApiError(401, "unauthorized", "the API key is unknown or revoked", headers=_CHALLENGE)
    return caller


def require(*roles: str) -> Any:
    """A dependency that lets only keys of ``roles`` through (403 otherwise)."""
    unknown = set(roles) - set(ALL_ROLES)
    assert not unknown, f"unknown roles {unknown}"

    def check(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        return check_role(principal, roles)

    check.roles = roles  # type: ignore[attr-defined]
    return Depends(check)


def check_role(principal: Principal, roles: tuple[str, ...]) -> Principal:
    """Return ``principal`` if its role is one of ``roles``; 403 otherwise.

    The one role check of the REST API (through :func:`require`) and the console.
    """
    if principal.role not in roles:
        raise Forbidden(N_("a key with role %(role)s may not do this"), role=principal.role)
    return principal


def scope(who: Principal) -> list[str] | None:
    """The departments a key is limited to, or None for no limit."""
    return list(who.departments) if who.role == "agent" else None


def check_case(app: Scrm, who: Principal, case_id: int) -> None:
    """Raise NotFound unless case ``case_id`` exists and ``who`` may see it."""
    with app.session() as s:
        row = s.execute(
            select(Case.id, Department.code)
            .outerjoin(Department, Department.id == Case.department_id)
            .where(Case.id == case_id)
        ).first()
    if row is None or not who.sees_department(row[1]):
        raise NotFound(N_("no case %(id)s"), id=case_id)


def check_interaction(app: Scrm, who: Principal, interaction_id: int) -> None:
    """Raise NotFound unless the interaction exists and ``who`` may see it."""
    with app.session() as s:
        row = s.execute(
            select(Interaction.id, Department.code)
            .outerjoin(Case, Case.id == Interaction.case_id)
            .outerjoin(Department, Department.id == Case.department_id)
            .where(Interaction.id == interaction_id)
        ).first()
    if row is None or not who.sees_department(row[1]):
        raise NotFound(N_("no interaction %(id)s"), id=interaction_id)


#: Who may work cases: move them, assign them, reply, promise, correct labels.
WORKER_ROLES = ("admin", "agent")

#: Parameter types for routes: ``who: AnyKey`` and so on.
AnyKey = Annotated[Principal, require(*ALL_ROLES)]
ReaderKey = Annotated[Principal, require("admin", "readonly")]
WorkerKey = Annotated[Principal, require(*WORKER_ROLES)]
IngestKey = Annotated[Principal, require("admin", "agent", "integration")]
AdminKey = Annotated[Principal, require("admin")]
