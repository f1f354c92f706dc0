"""``/api/v1/reports``: the service metrics and channel parity as JSON (see docs/reports.md)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from scrm.core.app import Scrm
from scrm.core.metrics import DIMENSIONS, generate_report, parse_period, report_dimensions
from scrm.core.metrics.model import Report
from scrm.server.auth import ReaderKey, get_scrm
from scrm.server.errors import ApiError

__all__ = ["router"]

router = APIRouter(prefix="/reports", tags=["reports"])
App = Annotated[Scrm, Depends(get_scrm)]


@router.get(
    "", summary="Service metrics for a period, per slice, with social vs traditional parity"
)
def metrics_report(
    app: App,
    who: ReaderKey,
    since: Annotated[
        str | None, Query(description="Period before `to` (or now): 30d, 12h, 2w. Default 30d.")
    ] = None,
    start: Annotated[
        str | None, Query(alias="from", description="Start date or time (ISO 8601).")
    ] = None,
    end: Annotated[
        str | None, Query(alias="to", description="End date or time (ISO 8601), exclusive.")
    ] = None,
    by: Annotated[
        str,
        Query(description=f"Slice: one of {', '.join(DIMENSIONS)}, or a plugin's (campaign)."),
    ] = "channel",
    brand: Annotated[
        str | None,
        Query(
            max_length=32,
            description="Only this brand's figures, in its time zone (an agency key; a brand's "
            "key sees its own only).",
        ),
    ] = None,
) -> Report:
    """The same report as `scrm report --json`: durations in seconds, rates as fractions, null when empty."""
    dimensions = report_dimensions(app.pm)
    if by not in dimensions:
        raise ApiError(422, "invalid", f"by must be one of {', '.join(dimensions)}", field="by")
    app = app.for_brand(brand)
    # A PeriodError is a 422 naming the parameter (``from``, ``to`` or ``since``).
    begin, stop = parse_period(
        since=since, start=start, end=end, timezone=app.timezone, now=datetime.now(UTC)
    )
    return generate_report(app, start=begin, end=stop, by=by, notify=False)
