"""Agents and departments: who works cases, where, with which skills."""

from __future__ import annotations

from typing import Annotated, Any

import sqlalchemy as sa
from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from scrm.core import audit
from scrm.core.db import utcnow
from scrm.core.errors import N_, InvalidInput, NotFound
from scrm.core.models import Agent, Department
from scrm.core.tenancy import BrandScopeError
from scrm.core.timefmt import get_zone

__all__ = [
    "AgentIn",
    "AgentOut",
    "TimeZoneName",
    "agent_timezone",
    "ensure_departments",
    "list_agents",
    "save_agent",
    "set_timezone",
]

ROLES = ("agent", "lead", "head")
STATUSES = ("active", "away", "offline")


def _zone(name: str) -> str:
    get_zone(name)  # raises ValueError naming the zone
    return name


#: An IANA time zone name (``Europe/Istanbul``), checked against the zone database.
TimeZoneName = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_zone)]


class AgentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    display_name: str | None = None
    email: str | None = None
    department: str | None = None
    role: str = Field(default="agent", pattern="^(agent|lead|head)$")
    status: str = Field(default="active", pattern="^(active|away|offline)$")
    capacity: int = Field(default=10, ge=0)
    skills: dict[str, Any] = Field(
        default_factory=dict,
        description='e.g. {"languages": ["tr", "en"], "categories": ["billing"]}',
    )
    timezone: TimeZoneName | None = Field(
        default=None,
        description="IANA time zone the console shows the agent's times in; "
        "None: the configured timezone.",
    )


class AgentOut(AgentIn):
    model_config = ConfigDict(extra="forbid", from_attributes=True)

    id: int


def save_agent(session: Session, data: AgentIn, *, actor: str) -> AgentOut:
    """Create or update an agent by username, with its audit entry, in the caller's transaction.

    :class:`scrm.core.services.agents` also assigns waiting cases to an active agent.

    :param actor: who saved it.
    :raises InvalidInput: for an unknown department.
    """
    dep_id = None
    if data.department:
        dep_id = session.scalar(sa.select(Department.id).where(Department.code == data.department))
        if dep_id is None:
            codes = ", ".join(session.scalars(sa.select(Department.code).order_by(Department.code)))
            raise InvalidInput(
                N_("no department %(code)r; departments: %(known)s"),
                code=data.department,
                known=codes,
            )
    agent = session.scalar(sa.select(Agent).where(Agent.username == data.username))
    fields = data.model_dump(exclude={"department"})
    if agent is None:
        agent = Agent(**fields, department_id=dep_id)
        try:
            with session.begin_nested():
                session.add(agent)
        except IntegrityError:
            # Usernames are unique across brands (people sign in by them): taken by an
            # agent that this caller, limited to one brand, cannot see.
            raise BrandScopeError(
                N_("the username %(username)r is taken outside this brand"), username=data.username
            ) from None
    else:
        for k, v in fields.items():
            setattr(agent, k, v)
        agent.department_id = dep_id
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="agent.save",
        target_type="agent",
        target_id=agent.id,
        details={
            "username": data.username,
            "department": data.department,
            "role": data.role,
            "status": data.status,
            "timezone": data.timezone,
        },
    )
    return AgentOut.model_validate({**fields, "id": agent.id, "department": data.department})


def list_agents(session: Session) -> list[AgentOut]:
    rows = session.execute(
        sa.select(Agent, Department.code).outerjoin(Department).order_by(Agent.username)
    )
    return [
        AgentOut.model_validate(
            {
                "id": a.id,
                "username": a.username,
                "display_name": a.display_name,
                "email": a.email,
                "department": code,
                "role": a.role,
                "status": a.status,
                "capacity": a.capacity,
                "skills": a.skills,
                "timezone": a.timezone,
            }
        )
        for a, code in rows
    ]


def set_timezone(session: Session, username: str, zone: str | None, *, actor: str) -> None:
    """Set the time zone agent ``username`` reads times in (None: the configured one), with
    its ``agent.timezone`` audit entry, in the caller's transaction.

    :raises NotFound: for an unknown agent.
    :raises InvalidInput: for a name that is no IANA time zone.
    """
    if zone is not None:
        try:
            _zone(zone)
        except InvalidInput as exc:
            raise InvalidInput(exc.message, field="timezone", **exc.params) from None
    agent = session.scalar(sa.select(Agent).where(Agent.username == username))
    if agent is None:
        raise NotFound(N_("no agent %(name)r"), name=username)
    before, agent.timezone = agent.timezone, zone
    audit.record(
        session,
        actor=actor,
        action="agent.timezone",
        target_type="agent",
        target_id=username,
        details={"from": before, "to": zone},
    )
    session.flush()


def agent_timezone(session: Session, username: str) -> str | None:
    """The time zone agent ``username`` chose, or None (none chosen, or no such agent)."""
    return session.scalar(sa.select(Agent.timezone).where(Agent.username == username))


def ensure_departments(session: Session, departments: list[tuple[str, str]]) -> dict[str, int]:
    """Create the departments ``(code, name)`` that do not exist yet; return their ids by code.

    Safe when several processes start at once against one database: an insert that another
    process made first is skipped (``ON CONFLICT DO NOTHING``), not an error.
    """
    if departments:
        rows = [{"code": code, "name": name, "created_at": utcnow()} for code, name in departments]
        insert = (
            postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
        )
        stmt: Any = insert(Department).values(rows)
        session.execute(stmt.on_conflict_do_nothing(index_elements=["code"]))
    codes = [code for code, _ in departments]
    return {
        code: dep_id
        for code, dep_id in session.execute(
            sa.select(Department.code, Department.id).where(Department.code.in_(codes))
        )
    }
