"""The report page: the HTML service report (``scrm report --html``) inside the console, with
a picker for the period and the slice.  The roles that may read it are the REST API's
``GET /api/v1/reports`` roles (``admin``, ``readonly``); the numbers come from the same
:func:`~scrm.core.metrics.generate_report` and the page from the same
:func:`~scrm.core.metrics.html.render_html`.

The report is a document of its own (its inline style and SVG charts), so the console page
frames it from ``/app/reports/view`` with a policy that allows that style, no script, and
framing by the console only.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, Response

from scrm.core.errors import N_
from scrm.core.metrics import PeriodError, generate_report, parse_period, report_dimensions
from scrm.core.metrics.html import render_html
from scrm.server.console.pages import ConsoleError, Ctx, SignedIn

__all__ = ["READERS", "router"]

router = APIRouter()
#: Who may read reports (the REST API's ``ReaderKey``).
READERS = ("admin", "readonly")
PERIODS = ("1d", "7d", "30d", "90d")
#: The framed report: its own inline style, no script, framed by the console only.
REPORT_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "frame-ancestors 'self'; base-uri 'none'; form-action 'none'",
    "X-Frame-Options": "SAMEORIGIN",
}
Text = Annotated[str | None, Query(max_length=40)]


def _period(ctx: Ctx, since: str | None, start: str | None, end: str | None) -> tuple[datetime, datetime]:  # fmt: skip
    try:
        return parse_period(
            since=since or None,
            start=start or None,
            end=end or None,
            timezone=ctx.app.config.timezone,
            now=datetime.now(UTC),
        )
    except PeriodError as exc:
        raise ConsoleError.of(exc) from None


def _by(ctx: Ctx, by: str) -> str:
    dimensions = report_dimensions(ctx.app.pm)
    if by not in dimensions:
        raise ConsoleError(422, N_("by must be one of %(names)s"), names=", ".join(dimensions))
    return by


@router.get("/reports")
def reports_page(
    ctx: SignedIn,
    since: Text = None,
    start: Annotated[str | None, Query(alias="from", max_length=40)] = None,
    end: Annotated[str | None, Query(alias="to", max_length=40)] = None,
    by: Annotated[str, Query(max_length=32)] = "channel",
) -> Response:
    ctx.allow(READERS)
    _period(ctx, since, start, end)  # a bad period is explained here, not inside the frame
    query = {k: v for k, v in (("since", since), ("from", start), ("to", end)) if v}
    return ctx.render(
        "reports.html",
        since=since or "",
        start=start or "",
        end=end or "",
        by=_by(ctx, by),
        periods=PERIODS,
        dimensions=report_dimensions(ctx.app.pm),
        view=f"/app/reports/view?{urlencode({**query, 'by': by})}",
    )


@router.get("/reports/view")
def report_view(
    ctx: SignedIn,
    since: Text = None,
    start: Annotated[str | None, Query(alias="from", max_length=40)] = None,
    end: Annotated[str | None, Query(alias="to", max_length=40)] = None,
    by: Annotated[str, Query(max_length=32)] = "channel",
) -> Response:
    """The report document itself, for the frame on the report page."""
    ctx.allow(READERS)
    begin, stop = _period(ctx, since, start, end)
    report = generate_report(ctx.app, start=begin, end=stop, by=_by(ctx, by), notify=False)
    response = ctx._finish(HTMLResponse(render_html(report)))
    response.headers.update(REPORT_HEADERS)
    return response
