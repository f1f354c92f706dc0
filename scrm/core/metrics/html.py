"""One self-contained HTML page of a report: inline CSS, inline SVG charts, no network.

Every chart is an ``<svg class="chart" data-chart="...">`` drawn here in Python, with axes,
units and a legend; its data marks carry ``class="mark"``.  A few lines of inline script
count, once the page is laid out, the marks each chart actually rendered (non-empty
bounding box) into ``data-rendered`` attributes, which the screenshot test reads.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from datetime import date
from html import escape

from scrm.core.metrics.compute import HISTOGRAM, NO_RESPONSE
from scrm.core.metrics.model import DayPoint, GroupMetrics, Report
from scrm.core.metrics.tables import COLUMNS, display, flat, human_duration, percent
from scrm.core.timefmt import format_time, get_zone, zone_label

__all__ = ["render_html"]

PALETTE = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#9c755f", "#ff9da7", "#bab0ac")  # fmt: skip
SIDE_COLOURS = {"social": "#4e79a7", "traditional": "#f28e2b", "all": "#555555"}
HIST_COLOURS = ("#1a9850", "#91cf60", "#fee08b", "#fc8d59", "#d73027", "#bdbdbd")
W = 760  # chart width in px
FONT = 12


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def _nice_max(v: float) -> float:
    """Round a maximum up to 1, 2 or 5 times a power of ten (an axis end people can read)."""
    if v <= 0:
        return 1.0
    p = 10 ** math.floor(math.log10(v))
    for m in (1, 2, 5, 10):
        if v <= m * p:
            return float(m * p)
    return float(10 * p)


def _legend(
    items: Sequence[tuple[str, str]], x: float, y: float, dash: dict[str, str] | None = None
) -> str:
    out, cx = [], x
    for label, colour in items:
        if cx + 30 + 6.5 * len(label) > W:  # wrap
            cx, y = x, y + 17
        style = f' stroke-dasharray="{dash[label]}"' if dash and label in dash else ""
        out.append(
            f'<line x1="{cx}" y1="{y}" x2="{cx + 18}" y2="{y}" stroke="{colour}" stroke-width="4"{style}/>'
            f'<text x="{cx + 23}" y="{y + 4}">{_e(label)}</text>'
        )
        cx += 34 + 6.5 * len(label)
    return "".join(out)


def _svg(name: str, title: str, height: int, body: str) -> str:
    return (
        f'<svg class="chart" data-chart="{name}" role="img" aria-label="{_e(title)}" '
        f'viewBox="0 0 {W} {height}" width="{W}" height="{height}" '
        f'xmlns="http://www.w3.org/2000/svg" font-family="sans-serif" font-size="{FONT}">'
        f"<title>{_e(title)}</title>{body}</svg>"
    )


def _empty(name: str, title: str) -> str:
    return _svg(name, title, 60, '<text x="10" y="35" fill="#777">No data in this period.</text>')


def _line_chart(
    name: str,
    title: str,
    days: list[date],
    series: list[tuple[str, str, list[float | None]]],
    *,
    y_label: str,
    y_min: float | None = None,
    y_max: float | None = None,
    dash: dict[str, str] | None = None,
) -> str:
    """Lines over days; ``series`` is (label, colour, one value per day or None)."""
    values = [v for _, _, vs in series for v in vs if v is not None]
    if not days or not values:
        return _empty(name, title)
    h, left, right, top, bottom = 310, 60, 20, 20, 80
    lo = y_min if y_min is not None else 0.0
    hi = y_max if y_max is not None else _nice_max(max(values))
    pw, ph = W - left - right, h - top - bottom
    step = pw / max(len(days) - 1, 1)

    def px(i: int) -> float:
        return left + (i * step if len(days) > 1 else pw / 2)

    def py(v: float) -> float:
        return top + ph - (v - lo) / (hi - lo) * ph

    parts = []
    for k in range(5):  # y grid and ticks
        v = lo + (hi - lo) * k / 4
        y = py(v)
        parts.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{W - right}" y2="{y:.1f}" stroke="#e5e5e5"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{v:g}</text>'
        )
    if lo < 0 < hi:
        parts.append(
            f'<line x1="{left}" y1="{py(0):.1f}" x2="{W - right}" y2="{py(0):.1f}" stroke="#999"/>'
        )
    every = max(1, math.ceil(len(days) / 10))
    for i, d in enumerate(days):  # x ticks
        if i % every == 0 or i == len(days) - 1:
            parts.append(
                f'<line x1="{px(i):.1f}" y1="{top + ph}" x2="{px(i):.1f}" y2="{top + ph + 4}" stroke="#333"/>'
                f'<text x="{px(i):.1f}" y="{top + ph + 17}" text-anchor="middle">{d.strftime("%d %b")}</text>'
            )
    parts.append(
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + ph}" stroke="#333"/>'
        f'<line x1="{left}" y1="{top + ph}" x2="{W - right}" y2="{top + ph}" stroke="#333"/>'
        f'<text transform="translate(14,{top + ph / 2}) rotate(-90)" text-anchor="middle">{_e(y_label)}</text>'
        f'<text x="{left + pw / 2}" y="{top + ph + 33}" text-anchor="middle">day</text>'
    )
    for label, colour, vs in series:
        pts = [(px(i), py(v)) for i, v in enumerate(vs) if v is not None]
        if not pts:
            continue
        style = f' stroke-dasharray="{dash[label]}"' if dash and label in dash else ""
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)
        parts.append(
            f'<polyline class="mark" fill="none" stroke="{colour}" stroke-width="2"{style} points="{path}"><title>{_e(label)}</title></polyline>'
        )
        for (x, y), v in zip(pts, [v for v in vs if v is not None], strict=True):
            parts.append(
                f'<circle class="mark" cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{colour}"><title>{_e(label)}: {v:.3g}</title></circle>'
            )
    parts.append(_legend([(lbl, c) for lbl, c, _ in series], left, h - 30, dash))
    return _svg(name, title, h, "".join(parts))


def _hbars(
    name: str,
    title: str,
    rows: list[tuple[str, list[tuple[str, float, str, str]]]],
    *,
    x_label: str,
    x_max: float,
    x_fmt: str = "{:g}",
    stacked: bool = False,
    legend: Sequence[tuple[str, str]] = (),
    band: tuple[float, float] | None = None,
    x_min: float = 0.0,
    notes: Sequence[str] = (),
    right: int = 80,
) -> str:
    """Horizontal bars.  ``rows``: (row label, [(series, value, colour, tooltip)]).

    Grouped bars sit under each other; ``stacked`` bars follow each other on one line.
    """
    if not rows:
        return _empty(name, title)
    left, top = 150, 12
    per_row = 22 if stacked else 16 * max(len(bars) for _, bars in rows) + 8
    ph = per_row * len(rows)
    h = top + ph + 40 + (40 if legend else 0)
    pw = W - left - right

    def px(v: float) -> float:
        return left + (v - x_min) / (x_max - x_min) * pw

    parts = []
    if band is not None:
        parts.append(
            f'<rect x="{px(band[0]):.1f}" y="{top}" width="{px(band[1]) - px(band[0]):.1f}" height="{ph}" fill="#f2f2f2"/>'
        )
    for k in range(5):
        v = x_min + (x_max - x_min) * k / 4
        parts.append(
            f'<line x1="{px(v):.1f}" y1="{top}" x2="{px(v):.1f}" y2="{top + ph}" stroke="#e5e5e5"/>'
            f'<text x="{px(v):.1f}" y="{top + ph + 15}" text-anchor="middle">{x_fmt.format(v)}</text>'
        )
    for r, (label, bars) in enumerate(rows):
        y0 = top + r * per_row + 4
        parts.append(
            f'<text x="{left - 8}" y="{y0 + (per_row - 8) / 2 + 4:.1f}" text-anchor="end">{_e(label)}</text>'
        )
        if r < len(notes):
            ny = y0 + (per_row - 8) / 2 + 4
            parts.append(f'<text x="{px(x_max) + 8:.1f}" y="{ny:.1f}">{_e(notes[r])}</text>')
        acc = 0.0
        for b, (series, value, colour, tip) in enumerate(bars):
            if stacked:
                x, w, y, bh = px(acc), px(acc + value) - px(acc), y0, per_row - 8
                acc += value
            else:
                a, z = sorted((px(max(x_min, 0.0)), px(value)))
                x, w, y, bh = a, z - a, y0 + b * 16, 13
                parts.append(
                    f'<text x="{max(x + w, px(0) if x_min < 0 else x) + 4:.1f}" y="{y + 10}" fill="#333">{_e(tip)}</text>'
                )
            parts.append(
                f'<rect class="mark" x="{x:.1f}" y="{y}" width="{max(w, 0):.1f}" height="{bh}" fill="{colour}"><title>{_e(label)} · {_e(series)}: {_e(tip)}</title></rect>'
            )
    parts.append(
        f'<line x1="{px(max(x_min, 0.0)):.1f}" y1="{top}" x2="{px(max(x_min, 0.0)):.1f}" y2="{top + ph}" stroke="#333"/>'
        f'<text x="{left + pw / 2}" y="{top + ph + 31}" text-anchor="middle">{_e(x_label)}</text>'
    )
    if legend:
        parts.append(_legend(legend, left, h - 26))
    return _svg(name, title, h, "".join(parts))


def _series_by_day(
    points: list[DayPoint],
) -> tuple[list[date], dict[str | None, dict[date, DayPoint]]]:
    days = sorted({p.day for p in points})
    by_key: dict[str | None, dict[date, DayPoint]] = defaultdict(dict)
    for p in points:
        by_key[p.key][p.day] = p
    return days, by_key


def _volume_chart(r: Report) -> str:
    days, by_ch = _series_by_day(r.daily_channels)
    _, total = _series_by_day(r.daily_total)
    series: list[tuple[str, str, list[float | None]]] = [
        (
            f"{ch} in",
            PALETTE[i % len(PALETTE)],
            [float(pts[d].volume_in) if d in pts else 0.0 for d in days],
        )
        for i, (ch, pts) in enumerate(sorted(by_ch.items(), key=lambda kv: str(kv[0])))
    ]
    tot = total.get("all", {})
    series.append(
        (
            "all out (replies)",
            "#555555",
            [float(tot[d].volume_out) if d in tot else 0.0 for d in days],
        )
    )
    return _line_chart(
        "volume", "Messages per day, inbound by channel and outbound", days, series,
        y_label="messages per day", dash={"all out (replies)": "5 3"},
    )  # fmt: skip


def _sentiment_chart(r: Report) -> str:
    days, by_ch = _series_by_day(r.daily_channels)
    sums: dict[str, dict[date, list[float]]] = {
        s: defaultdict(lambda: [0.0, 0.0]) for s in ("social", "traditional", "all")
    }
    for ch, pts in by_ch.items():
        side = r.channel_sides.get(str(ch), "social")
        for d, p in pts.items():
            if p.sentiment_average is None:
                continue
            for s in (side, "all"):
                sums[s][d][0] += p.sentiment_average * p.sentiment_count
                sums[s][d][1] += p.sentiment_count
    series = [
        (
            s,
            SIDE_COLOURS[s],
            [
                (sums[s][d][0] / sums[s][d][1]) if d in sums[s] and sums[s][d][1] else None
                for d in days
            ],
        )
        for s in ("social", "traditional", "all")
    ]
    return _line_chart(
        "sentiment", "Average sentiment of inbound messages per day (-1 negative ... +1 positive)",
        days, series, y_label="sentiment score", y_min=-1.0, y_max=1.0, dash={"all": "5 3"},
    )  # fmt: skip


def _response_chart(r: Report) -> str:
    labels = [lbl for lbl, _, _ in HISTOGRAM] + [NO_RESPONSE]
    rows, notes = [], []
    for g in [*r.channels, *r.sides]:
        n = g.cases_opened
        if not n:
            continue
        bars = [
            (
                lbl,
                g.response_histogram.get(lbl, 0) / n * 100,
                HIST_COLOURS[i],
                f"{g.response_histogram.get(lbl, 0)} cases",
            )
            for i, lbl in enumerate(labels)
        ]
        rows.append((str(g.key) if g in r.channels else f"all {g.key}", bars))
        med, p90 = human_duration(g.first_response.median), human_duration(g.first_response.p90)
        notes.append(f"median {med} · p90 {p90}")
    return _hbars(
        "response", "First response time: share of cases per time bucket, per channel", rows,
        x_label="% of cases opened in the period", x_max=100, x_fmt="{:g}%", stacked=True,
        legend=[(lbl, HIST_COLOURS[i]) for i, lbl in enumerate(labels)], notes=notes, right=200,
    )  # fmt: skip


def _waits(r: Report) -> str:
    """Time to reach a person: each channel's first response beside the traditional waits."""
    rows = []
    for g in [*r.channels, *r.sides]:
        if not g.cases_opened and not g.contact_wait.count:
            continue
        name = str(g.key) if g in r.channels else f"all {g.key}"
        cells = (
            name,
            r.channel_sides.get(str(g.key), "") if g in r.channels else "",
            human_duration(g.first_response.median),
            human_duration(g.contact_wait.median),
            human_duration(g.contact_wait.p90),
            str(g.contact_wait.count),
        )
        rows.append("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in cells) + "</tr>")
    if not rows:
        return ""
    head = "".join(
        f"<th>{_e(h)}</th>"
        for h in ("channel", "side", "first response, median", "wait for an agent, median",
                  "wait for an agent, p90", "waits recorded")
    )  # fmt: skip
    return (
        "<p class='note'>Before the first response, a phone caller first waits for an agent: "
        "the waits recorded on the period's traditional contacts (<code>wait_seconds</code>) "
        "beside each channel's first response.</p>"
        f'<div class="scroll"><table class="waits"><tr>{head}</tr>{"".join(rows)}</table></div>'
    )


def _sla_chart(r: Report) -> str:
    rows = []
    for clock, label in (
        ("first_response", "first response"),
        ("follow_up", "follow-up"),
        ("resolution", "resolution"),
    ):
        bars = []
        for g in [*r.sides, r.total]:
            c = g.sla[clock]
            if c.met + c.breached == 0:
                continue
            key = "all" if g is r.total else str(g.key)
            tip = f"{percent(c.compliance)} ({c.met} met / {c.breached} breached)"
            bars.append((key, (c.compliance or 0.0) * 100, SIDE_COLOURS[key], tip))
        if bars:
            rows.append((label, bars))
    return _hbars(
        "sla", "SLA compliance per clock: deadlines met / (met + breached)", rows,
        x_label="% of deadlines met", x_max=100, x_fmt="{:g}%",
        legend=[(k, c) for k, c in SIDE_COLOURS.items()],
    )  # fmt: skip


def _parity_chart(r: Report) -> str:
    rows = []
    tol = r.tolerance_percent
    for p in r.parity:
        if p.gap is None:
            continue
        colour = "#d73027" if p.flagged and p.gap > 0 else "#1a9850" if p.flagged else "#9e9e9e"
        unit = " pts" if p.unit == "ratio" else "%"
        rows.append(
            (p.label, [("gap", max(-200.0, min(200.0, p.gap)), colour, f"{p.gap:+.0f}{unit}")])
        )
    if not rows:
        return _empty("parity", "Channel parity")
    span = _nice_max(max([abs(b[0][1]) for _, b in rows] + [tol * 1.5]))
    return _hbars(
        "parity", "Channel parity: how much worse (+) or better (-) traditional channels are served", rows,
        x_label=f"gap, % of the social value (percentage points for rates); grey band: ±{tol:g} tolerance",
        x_min=-span, x_max=span, x_fmt="{:+g}", band=(-tol, tol),
        legend=[("traditional worse", "#d73027"), ("traditional better", "#1a9850"), ("within tolerance", "#9e9e9e")],
    )  # fmt: skip


def _categories_chart(r: Report) -> str:
    if not r.top_categories:
        return _empty("categories", "Top categories")
    top = max(n for _, n in r.top_categories)
    rows = [(cat, [("cases", float(n), PALETTE[0], str(n))]) for cat, n in r.top_categories]
    return _hbars(
        "categories",
        "Top categories of cases opened in the period",
        rows,
        x_label="cases",
        x_max=_nice_max(top),
    )


def _kpis(r: Report) -> str:
    t = r.total
    cards = [
        ("messages in / out", f"{t.volume_in} / {t.volume_out}"),
        ("cases opened", str(t.cases_opened)),
        ("first response, median", human_duration(t.first_response.median)),
        ("resolution, median", human_duration(t.resolution.median)),
        ("open backlog", f"{t.backlog.count} (median age {human_duration(t.backlog.median_age)})"),
        ("SLA first response met", percent(t.sla["first_response"].compliance)),
        ("promises kept", percent(t.follow_ups.kept_rate)),
        (
            "CSAT",
            "-"
            if t.csat.average is None
            else f"{t.csat.average:.2f} ({percent(t.csat.response_rate)} answered)",
        ),
    ]
    return '<div class="kpis">' + "".join(f'<div class="kpi"><div class="v">{_e(v)}</div><div class="l">{_e(k)}</div></div>' for k, v in cards) + "</div>"  # fmt: skip


def _table(title: str, groups: list[GroupMetrics]) -> str:
    """Metrics down, slices across (the total last); metrics no slice has are left out."""
    rows = [flat(g) for g in groups]
    head = "<th>metric</th>" + "".join(f"<th>{_e(g.key or '(none)')}</th>" for g in groups)
    body = []
    for n, label in COLUMNS[1:]:
        if all(row[n] is None for row in rows):
            continue
        cells = "".join(f"<td>{_e(display(n, row[n]))}</td>" for row in rows)
        body.append(f"<tr><td>{_e(label)}</td>{cells}</tr>")
    return f'<h2>{_e(title)}</h2><div class="scroll"><table><tr>{head}</tr>{"".join(body)}</table></div>'


def _parity_table(r: Report) -> str:
    chans = sorted(r.channel_sides)
    head = "<th>metric</th>" + "".join(
        f"<th>{_e(c)}<br><small>{_e(r.channel_sides[c])}</small></th>" for c in chans
    )
    head += "<th>social</th><th>traditional</th><th>gap</th>"

    def fmt(unit: str, v: float | None) -> str:
        if v is None:
            return "-"
        return (
            human_duration(v)
            if unit == "seconds"
            else percent(v)
            if unit == "ratio"
            else f"{v:.2f}"
        )

    rows = []
    for p in r.parity:
        cls = "" if not p.flagged else ' class="worse"' if (p.gap or 0) > 0 else ' class="better"'
        gap = "-" if p.gap is None else f"{p.gap:+.0f}{' pts' if p.unit == 'ratio' else '%'}"
        cells = "".join(f"<td>{_e(fmt(p.unit, p.channels.get(c)))}</td>" for c in chans)
        rows.append(
            f"<tr{cls}><td>{_e(p.label)} <small>({p.better} is better)</small></td>{cells}"
            f"<td>{_e(fmt(p.unit, p.social))}</td><td>{_e(fmt(p.unit, p.traditional))}</td><td>{_e(gap)}</td></tr>"
        )
    return f'<div class="scroll"><table class="parity"><tr>{head}</tr>{"".join(rows)}</table></div>'


_CSS = """
body{font-family:sans-serif;margin:24px auto;max-width:1000px;color:#222;line-height:1.4}
h1{font-size:22px;margin-bottom:2px} h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd}
.meta{color:#666;font-size:13px} .kpis{display:flex;flex-wrap:wrap;gap:10px;margin:16px 0}
.kpi{border:1px solid #ddd;border-radius:6px;padding:8px 12px;min-width:150px}
.kpi .v{font-size:18px;font-weight:bold} .kpi .l{font-size:12px;color:#666}
table{border-collapse:collapse;font-size:12px} td,th{border:1px solid #ddd;padding:3px 6px;text-align:right}
td:first-child,th:first-child{text-align:left} .scroll{overflow-x:auto}
tr.worse td{background:#fde0dc} tr.better td{background:#e0f3e0} .note{font-size:12px;color:#555}
svg.chart{display:block;margin:8px 0;max-width:100%;height:auto}
"""

_SCRIPT = """
(function(){var ok=0;document.querySelectorAll('svg.chart').forEach(function(svg){
var n=0;svg.querySelectorAll('.mark').forEach(function(m){var b=m.getBBox();if(b.width>0||b.height>0)n++;});
svg.setAttribute('data-rendered',String(n));if(n>0)ok++;});
document.body.setAttribute('data-charts-rendered',String(ok));})();
"""


def render_html(r: Report) -> str:
    """Return the whole report as one HTML document (no external resources)."""
    zone = get_zone(r.timezone)
    period = f"{format_time(r.start, zone)} - {format_time(r.end, zone)}"
    flagged = [p for p in r.parity if p.flagged]
    summary = (
        "Traditional channels are served differently beyond the tolerance on: "
        + ", ".join(f"{p.label} ({p.gap:+.0f}{' pts' if p.unit == 'ratio' else '%'})" for p in flagged if p.gap is not None)
        if flagged
        else "No parity gap beyond the tolerance."
    )  # fmt: skip
    sections = [
        f"<h1>scrm service report</h1><div class='meta'>Period {_e(period)} · sliced by {_e(r.by)} · "
        f"backlog measured at {format_time(r.as_of, zone)} · times and days in {_e(zone_label(zone, r.as_of))}"
        f"{' · business time from the SLA calendars' if r.business_time else ''}</div>",
        _kpis(r),
        "<h2>Volume and sentiment over time</h2>",
        _volume_chart(r),
        _sentiment_chart(r),
        "<h2>Response times per channel</h2>",
        _response_chart(r),
        _waits(r),
        "<h2>SLA compliance</h2>",
        _sla_chart(r),
        f"<h2>Channel parity (tolerance ±{r.tolerance_percent:g})</h2><p class='note'>{_e(summary)} "
        "Channels: "
        + _e(", ".join(f"{c} = {s}" for c, s in sorted(r.channel_sides.items())))
        + ".</p>",
        _parity_chart(r),
        _parity_table(r),
        "<h2>Top categories</h2>",
        _categories_chart(r),
        _table(f"All metrics by {r.by}", [*r.groups, r.total]),
        "<p class='note'>Times are medians and 90th percentiles (continuous, interpolated) in "
        "elapsed time; '-' means no case to measure. Definitions: docs/reports.md.</p>",
    ]
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>scrm report {_e(period)}</title><style>{_CSS}</style></head><body>"
        + "".join(sections)
        + f"<script>{_SCRIPT}</script></body></html>"
    )
