"""The case board (`scrm cases list`) and times shown in the configured zone, through the CLI."""

from __future__ import annotations

import itertools
import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError
from rich.cells import cell_len

from scrm.cli.board import MARKERS
from scrm.cli.context import clip
from scrm.core.config import Config
from scrm.core.timefmt import format_time, get_zone, localize_text
from scrm.testing import CliInvoker
from tests.helpers import message

ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d")


@pytest.fixture
def sample_now(cli: CliInvoker, sample_dir: Path) -> list[dict]:
    """The bundled sample placed so that it ends now; the open cases as JSON."""
    cli("ingest", str(sample_dir / "interactions.jsonl"), "--as-of", "now")
    cli("ingest", "--channel", "phone", str(sample_dir / "phone.jsonl"), "--as-of", "now")
    return json.loads(cli("cases", "list", "--status", "open", "--limit", "500", "--json").stdout)


def from_cell(line: str, column: int) -> str:
    """The part of ``line`` from terminal column ``column`` on (an emoji takes two columns)."""
    width = 0
    for i, char in enumerate(line):
        if width >= column:
            return line[i:]
        width += cell_len(char)
    return ""


def board_rows(out: str, ids: set[int]) -> dict[int, str]:
    """The board's lines by case id (a line that starts with a case number)."""
    rows: dict[int, str] = {}
    for line in out.splitlines():
        if " cases by " in line:  # the summary under the board
            continue
        first = line.split(maxsplit=1)[0] if line.strip() else ""
        if first.isdigit() and int(first) in ids:
            assert int(first) not in rows, f"case {first} takes two lines"
            rows[int(first)] = line
    return rows


@pytest.mark.parametrize("width", [80, 100, 120])
def test_the_board_fits_the_terminal_one_line_per_case(
    cli: CliInvoker, sample_now: list[dict], width: int
) -> None:
    out = cli(
        "cases", "list", "--status", "open", "--limit", "30", env={"COLUMNS": str(width)}
    ).stdout
    assert max(cell_len(line) for line in out.splitlines()) <= width
    by_id = {c["id"]: c for c in sample_now}
    rows = board_rows(out, set(by_id))
    assert len(rows) == 30
    header = out.splitlines()[0].split()
    assert header[:3] == ["case", "status", "prio"] and header[-2:] == ["due", "subject"]
    if width >= 100:
        assert "dept" in header and "customer" in header
    start = out.splitlines()[0].index("subject")
    cut = 0
    for case_id, line in rows.items():
        subject = " ".join((by_id[case_id]["subject"] or "").split())
        shown = from_cell(line, start).rstrip()  # an emoji before it takes two columns
        if shown.endswith("…"):  # cut, and the ellipsis says so
            cut += 1
            kept = shown.removesuffix("…")
            assert kept and subject.startswith(kept), line
        else:
            assert shown == subject, line
    assert cut > 0
    markers = {m for line in rows.values() for m in line.split()[1] if m in MARKERS}
    assert "!" in markers  # the sample, placed at now, has cases past their deadlines
    for m in markers:
        assert f"{m} {MARKERS[m]}" in out  # every marker shown is explained
    late = sum(c["breaching"] for c in sample_now)
    assert f"30 of {len(sample_now)} cases by deadline: {late} past a deadline" in out


def test_default_order_is_breaching_first_then_next_deadline(
    cli: CliInvoker, sample_now: list[dict]
) -> None:
    board = json.loads(cli("cases", "list", "--status", "open", "--json").stdout)
    dues = [c["next_due"] for c in board]
    breaching = [c["breaching"] for c in board]
    assert breaching == sorted(breaching, reverse=True) and any(breaching)
    assert [d for d in dues if d] == sorted(d for d in dues if d)
    # The first screen is not one channel's cases in id order.
    assert len({c["channel"] for c in board[:20]}) >= 3


@pytest.mark.parametrize(
    ("sort", "key"),
    [
        ("id", lambda c: c["id"]),
        ("opened", lambda c: (-datetime.fromisoformat(c["opened_at"]).timestamp(), -c["id"])),
        ("priority", lambda c: -["low", "normal", "high", "urgent"].index(c["priority"])),
    ],
)
def test_sort_option(cli: CliInvoker, sample_now: list[dict], sort: str, key) -> None:
    got = json.loads(cli("cases", "list", "--sort", sort, "--limit", "500", "--json").stdout)
    assert [key(c) for c in got] == sorted(key(c) for c in got)
    assert len(got) > 100


def test_wide_shows_every_column_and_cuts_nothing(cli: CliInvoker, sample_now: list[dict]) -> None:
    out = cli("cases", "list", "--wide", "--limit", "5", env={"COLUMNS": "80"}).stdout
    header = out.splitlines()[0].split()
    for name in ("kind", "category", "opened", "assignee", "replies", "customer", "dept"):
        assert name in header
    first = json.loads(cli("cases", "list", "--limit", "1", "--json").stdout)[0]
    assert " ".join(first["subject"].split()) in out
    assert "times in Europe/Istanbul" in " ".join(out.split())


def test_paging_after_an_id_keeps_id_order(cli: CliInvoker, sample_now: list[dict]) -> None:
    page = json.loads(cli("cases", "list", "--after", "10", "--limit", "5", "--json").stdout)
    assert [c["id"] for c in page] == sorted(c["id"] for c in page) and page[0]["id"] == 11


def test_an_empty_board_says_so(cli: CliInvoker) -> None:
    assert "no cases match" in cli("cases", "list").stdout


# -- times -----------------------------------------------------------------------------------


def test_cli_times_are_in_the_configured_zone_and_labelled(cli: CliInvoker) -> None:
    """A call at 14:05+03:00 shows as 14:05 in Europe/Istanbul (the default zone)."""
    cli(
        "interactions", "add", "--channel", "phone", "--name", "Ayşe Yılmaz",
        "--phone", "+90 532 111 22 33", "--at", "2024-10-21T14:05:00+03:00",
        "--text", "Faturam iki kez kesildi, iade istiyorum.",
    )  # fmt: skip
    out = cli("interactions", "list", env={"COLUMNS": "160"}).stdout
    assert "2024-10-21 14:05" in out and "11:05" not in out
    assert "times in Europe/Istanbul (UTC+03:00)" in out
    [case] = json.loads(cli("cases", "list", "--json").stdout)
    assert case["opened_at"].endswith("+00:00") or case["opened_at"].endswith("Z")
    assert datetime.fromisoformat(case["opened_at"]) == datetime(2024, 10, 21, 11, 5, tzinfo=UTC)

    promised = cli("case", "promise", str(case["id"]), "--due", "4h").stdout
    assert re.search(r"due \d{4}-\d\d-\d\d \d\d:\d\d \+03:00", promised)
    shown = cli("case", "show", str(case["id"]), env={"COLUMNS": "200"}).stdout
    assert "opened 2024-10-21 14:05 on phone" in shown
    assert "times in Europe/Istanbul" in shown
    customer = cli("customers", "show", str(case["customer_id"]), env={"COLUMNS": "160"}).stdout
    assert "2024-10-21 14:05" in customer and "times in Europe/Istanbul" in customer


def test_a_timeline_never_mixes_iso_and_local_times(
    cli: CliInvoker, sample_now: list[dict]
) -> None:
    """Promises found in the brand's replies are events whose notes hold ISO instants."""
    cases_with_iso = (
        c["id"]
        for c in sample_now
        if any(
            ISO.search(e["note"] or "")
            for e in json.loads(cli("case", "show", str(c["id"]), "--json").stdout)["events"]
        )
    )
    # The first three are enough: each `case show` is a whole command.
    with_iso = list(itertools.islice(cases_with_iso, 3))
    assert with_iso  # JSON keeps ISO 8601
    for case_id in with_iso:
        shown = cli("case", "show", str(case_id), env={"COLUMNS": "200"}).stdout
        assert "due " in shown and not ISO.search(shown)


def test_the_html_report_says_its_zone(cli: CliInvoker, tmp_path: Path) -> None:
    cli("ingest", "-", input=json.dumps(message(1)) + "\n")
    page = tmp_path / "r.html"
    cli("report", "--from", "2024-10-01", "--to", "2024-10-31", "--html", str(page))
    html = page.read_text(encoding="utf-8")
    assert "Period 2024-10-01 00:00 - 2024-11-01 00:00" in html
    assert "times and days in Europe/Istanbul" in html and " UTC" not in html


class TestUtcZone:
    @pytest.fixture
    def scrm_config(self, scrm_database_url: str) -> Config:
        return Config(database_url=scrm_database_url, timezone="UTC")

    def test_utc_is_shown_as_utc(self, cli: CliInvoker) -> None:
        cli("ingest", "-", input=json.dumps(message(1)) + "\n")  # 2024-10-21 09:00 UTC
        out = cli("cases", "list", "--wide").stdout
        assert "2024-10-21 09:00" in out and "times in UTC" in out


def test_an_unknown_zone_is_refused_naming_it() -> None:
    with pytest.raises(ValidationError, match="unknown time zone 'Mars/Olympus'"):
        Config(timezone="Mars/Olympus")


@given(st.text(max_size=200))
def test_localize_text_only_touches_instants(text: str) -> None:
    zone = get_zone("Europe/Istanbul")
    out = localize_text(text, zone)
    if not re.search(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d", text):
        assert out == text


def test_localize_text_rewrites_each_form() -> None:
    zone = get_zone("Europe/Istanbul")
    note = (
        "due 2024-10-21T06:41:53+00:00; first_response due 2024-10-21 09:00 UTC; 2024-10-24T18:02Z"
    )
    assert localize_text(note, zone) == (
        "due 2024-10-21 09:41; first_response due 2024-10-21 12:00; 2024-10-24 21:02"
    )
    assert (
        format_time(datetime(2024, 10, 27, 11, 5), zone, offset=True) == "2024-10-27 14:05 +03:00"
    )


@given(st.text(max_size=120), st.integers(min_value=1, max_value=60))
def test_clip_fits_and_marks_the_cut(text: str, width: int) -> None:
    out = clip(text, width)
    assert cell_len(out) <= width
    flat = " ".join(text.split())
    if out == flat:
        return
    assert out.endswith("…")
    assert flat.startswith(out.removesuffix("…"))
