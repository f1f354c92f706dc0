"""Administration over HTTP: plugins, a delivery run."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response
from pydantic import BaseModel, ConfigDict, Field

from scrm.core import passwords, webhooks
from scrm.core.app import Scrm
from scrm.core.plugins import plugin_info
from scrm.server.auth import AdminKey, ReaderKey, get_scrm
from scrm.server.errors import ApiError

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


@router.post(
    "/admin/deliver",
    summary="Deliver due replies (outbox) and outgoing webhooks now",
    description="What a worker does on its schedule; useful for tests and small installations.",
)
def deliver(app: App, who: AdminKey) -> DeliverOut:
    replies = app.workflow.deliver()
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
    try:
        with app.session() as s:
            passwords.set_agent_password(s, username, body.password, actor=who.actor)
    except passwords.PasswordError as exc:
        raise ApiError(422, "invalid", str(exc), field="password") from None
    return Response(status_code=204)
