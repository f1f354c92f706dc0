"""Administration over HTTP: plugins, agents, a delivery run."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Response
from pydantic import BaseModel, ConfigDict, Field

from scrm.core import passwords, webhooks
from scrm.core.agents import AgentIn, AgentOut, TimeZoneName
from scrm.core.app import Scrm
from scrm.core.plugins import plugin_info
from scrm.core.services import agents, outbox
from scrm.server.auth import AdminKey, ReaderKey, get_scrm

__all__ = ["router"]

router = APIRouter(tags=["admin"])
App = Annotated[Scrm, Depends(get_scrm)]


class PluginOut(BaseModel):
    name: str
    distribution: str
    version: str
    hooks: list[str]


class DeliverOut(BaseModel):
    replies_sent: int
    replies_retried: int
    replies_failed: int
    webhooks_sent: int
    webhooks_retried: int
    webhooks_failed: int


@router.get("/plugins", summary="Installed plugins and the hooks they implement")
def plugins(app: App, who: ReaderKey) -> list[PluginOut]:
    return [PluginOut.model_validate(p) for p in plugin_info(app.pm)]


Word = Annotated[str, Field(min_length=1, max_length=64)]


class AgentBody(BaseModel):
    """An agent as an administrator saves it (the username is in the path)."""

    model_config = ConfigDict(extra="forbid")

    display_name: str | None = Field(default=None, max_length=200)
    email: str | None = Field(default=None, max_length=320)
    department: str | None = Field(default=None, max_length=64, description="Department code.")
    role: Literal["agent", "lead", "head"] = "agent"
    status: Literal["active", "away", "offline"] = Field(
        default="active", description="Only active agents get new cases."
    )
    capacity: int = Field(default=10, ge=0, le=10_000, description="Open cases at most.")
    skills: dict[Literal["languages", "categories", "pools"], list[Word]] = Field(
        default_factory=dict, max_length=3, description='e.g. {"languages": ["tr", "en"]}'
    )
    timezone: TimeZoneName | None = Field(
        default=None,
        description="IANA time zone the console shows the agent's times in, e.g. "
        '"Europe/Berlin"; null: the configured timezone.',
    )


class AgentSavedOut(BaseModel):
    agent: AgentOut
    assigned: int = Field(description="Waiting cases the save handed to the agent's department.")


@router.put(
    "/agents/{username}",
    summary="Add or update an agent; an active one takes waiting cases at once",
)
def save_agent(
    app: App,
    username: Annotated[str, Path(pattern=r"^[A-Za-z0-9_.-]{1,64}$")],
    body: AgentBody,
    who: AdminKey,
) -> AgentSavedOut:
    data = AgentIn.model_validate({**body.model_dump(), "username": username})
    done = agents.save(app, data, actor=who.actor)
    return AgentSavedOut(agent=done.agent, assigned=done.assigned)


@router.post(
    "/admin/deliver",
    summary="Deliver due replies (outbox) and outgoing webhooks now",
    description="What a worker does on its schedule; useful for tests and small installations.",
)
def deliver(app: App, who: AdminKey) -> DeliverOut:
    replies = outbox.deliver(app)
    hooks = webhooks.deliver(app.Session, app.config.server)
    return DeliverOut(
        replies_sent=replies.sent,
        replies_retried=replies.retried,
        replies_failed=replies.failed,
        webhooks_sent=hooks.sent,
        webhooks_retried=hooks.retried,
        webhooks_failed=hooks.failed,
    )


class PasswordIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    password: str = Field(
        min_length=passwords.MIN_LENGTH,
        max_length=passwords.MAX_LENGTH,
        description="The agent's new console password; only its salted hash is stored.",
    )


@router.put(
    "/agents/{username}/password",
    status_code=204,
    summary="Set the password an agent signs in to the console with (audited, admin only)",
)
def set_password(
    app: App,
    username: Annotated[str, Path(max_length=64)],
    body: PasswordIn,
    who: AdminKey,
) -> Response:
    """What `scrm agents password` does: a new password ends the agent's console sessions."""
    with app.session() as s:
        passwords.set_agent_password(s, username, body.password, actor=who.actor)
    return Response(status_code=204)
