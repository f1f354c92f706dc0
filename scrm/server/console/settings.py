"""The signed-in agent's own settings: the time zone the console shows their times in, and
for the agency's people the brand the pages show.

The choice is stored on the agent (``agents.timezone``, what ``scrm agents add --timezone``
and ``PUT /api/v1/agents/{username}`` set too), so it follows the agent to every browser and
every sign-in; changing it writes an ``agent.timezone`` audit entry.  A key that acts as no
agent reads times in the configured ``timezone`` and has nothing to set.

An agent or key of no brand (the agency's) sees every brand; the switcher in the page header
limits every page to one brand, or back to all, for the rest of the session.  It goes
through the same brand scoping as a brand's own people (:meth:`Scrm.for_brand`), so no page
checks brands itself.  A brand's own people have no switcher and cannot use it: their brand
is their key's.
"""

from __future__ import annotations

from functools import cache
from typing import Annotated
from zoneinfo import available_timezones

from fastapi import APIRouter, Form
from fastapi.responses import Response

from scrm.core.agents import set_timezone
from scrm.core.errors import N_, NotFound
from scrm.server.auth import ALL_ROLES
from scrm.server.console.pages import ConsoleError, Csrf, SignedIn, _action, _text

__all__ = ["router"]

router = APIRouter()


@cache
def zones() -> list[str]:
    """Every IANA zone name the system knows, sorted (the page's choices)."""
    return sorted(available_timezones())


@router.get("/settings")
def settings_page(ctx: SignedIn) -> Response:
    ctx.allow(ALL_ROLES)
    return ctx.render("settings.html", zones=zones(), own=ctx.zone, configured=ctx.state.timezone)


@router.post("/settings/timezone")
def choose_timezone(
    ctx: SignedIn,
    timezone: Annotated[str | None, Form(max_length=64)] = None,
    csrf: Csrf = None,
) -> Response:
    """Set (or, empty, clear) the time zone the agent reads times in."""
    ctx.check_csrf(csrf)
    ctx.allow(ALL_ROLES)
    agent = ctx.principal.agent
    if agent is None:
        raise ConsoleError(409, N_("your key acts as no agent: times follow the configured time zone"))
    zone = _text(timezone, "timezone")
    done = ctx.t("Times are now shown in %(zone)s.", zone=zone or ctx.state.timezone)
    with _action(ctx, done), ctx.app.session() as s:
        set_timezone(s, agent, zone, actor=ctx.principal.actor)
    return ctx.redirect("/settings")


@router.post("/brand")
def choose_brand(
    ctx: SignedIn, brand: Annotated[str, Form(max_length=32)] = "", csrf: Csrf = None
) -> Response:
    """Limit every page to brand ``brand`` (a key), or with none show every brand."""
    ctx.check_csrf(csrf)
    ctx.allow(ALL_ROLES)
    if ctx.principal.brand_id is not None:
        raise ConsoleError(
            403, N_("your key belongs to one brand: only the agency's people choose one")
        )
    try:
        ctx.session.brand = ctx.app.brands.id_of(brand) if brand else None
    except NotFound as exc:
        raise ConsoleError.of(exc) from None
    menu = ctx.brand_menu()
    name = dict(menu[0]).get(brand, brand) if menu else brand
    ctx.session.say(
        ctx.t("Showing brand %(name)s.", name=name) if brand else ctx.t("Showing every brand.")
    )
    back = ctx.back()
    # A record of the brand left behind is not found in the one picked: start from the inbox.
    return ctx.redirect("/inbox" if back.startswith(("/cases/", "/customers/")) else back)
