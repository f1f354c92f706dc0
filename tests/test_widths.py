"""``scrm sla check`` and ``scrm report`` as text: one line per row, as wide as the terminal."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path

import pytest
from rich.cells import cell_len

from scrm.cli.context import fit_widths
from scrm.core.timefmt import format_time, get_zone
from scrm.testing import CliInvoker


@pytest.fixture
def sample_now(cli: CliInvoker, sample_dir: Path) -> None:
    """The bundled sample placed so that it ends now: many cases are past a deadline."""
    cli("ingest", str(sample_dir / "interactions.jsonl"), "--as-of", "now")
    cli("ingest", "--channel", "phone", str(sample_dir / "phone.jsonl"), "--as-of", "now")


def case_lines(out: str) -> dict[int, str]:
    """The lines of the breached table by case number (a line that starts with one)."""
    rows: dict[int, str] = {}
    for line in out.splitlines():
        first = line.split(maxsplit=1)[0] if line.strip() else ""
        if first.isdigit():
            assert int(first) not in rows, f"case {first} takes two lines"
            rows[int(first)] = line
    return rows


@pytest.mark.parametrize("width", [80, 100])
def test_sla_check_fits_the_terminal_one_line_per_breached_case(
    cli: CliInvoker, sample_now: None, width: int
) -> None:
    env = {"COLUMNS": str(width)}
    out = cli("sla", "check", env=env).stdout
    assert max(cell_len(line) for line in out.splitlines()) <= width
    worst = json.loads(cli("cases", "list", "--breaching", "--limit", "5", "--json").stdout)
    rows = case_lines(out.split("the most overdue:")[1])
    assert list(rows) == [c["id"] for c in worst]
    zone = get_zone("Europe/Istanbul")  # the default zone, named under the table
    for c in worst:
        due = format_time(datetime.fromisoformat(c["next_due"]), zone)
        assert due in rows[c["id"]]  # a time is never cut
        assert c["status"] in rows[c["id"]]
    assert "times in Europe/Istanbul" in out

    verbose = cli("sla", "check", "--verbose", env=env).stdout
    assert max(cell_len(line) for line in verbose.splitlines()) <= width
    breaching = json.loads(cli("sla", "check", "--json").stdout)["breaching"]
    assert set(case_lines(verbose)) == {c["id"] for c in breaching}


def test_narrow_breached_table_cuts_the_widest_text_first(
    cli: CliInvoker, sample_now: None
) -> None:
    out = cli("sla", "check", env={"COLUMNS": "56"}).stdout
    assert max(cell_len(line) for line in out.splitlines()) <= 56
    rows = case_lines(out.split("the most overdue:")[1])
    assert len(rows) == 5 and any("…" in line for line in rows.values())


def test_fit_widths_shrinks_the_widest_flexible_column_first() -> None:
    # 3 + 20 + 10 + 5 and three gaps of 2: 44 cells, 40 wanted.
    assert fit_widths([3, 20, 10, 5], [False, True, True, False], 40) == [3, 16, 10, 5]
    assert fit_widths([3, 12, 12, 5], [False, True, True, False], 32) == [3, 9, 9, 5]
    # Fixed columns stay whole even when nothing else can give.
    assert fit_widths([30, 8], [False, True], 20, least=4) == [30, 4]


def report_parts(out: str) -> list[list[str]]:
    """The report's tables: each a header line starting ``metric`` and its rows."""
    parts: list[list[str]] = []
    for line in out.splitlines():
        if line.startswith("metric "):
            parts.append([line])
        elif parts and line.strip() and not line.startswith(("social:", "traditional:")):
            parts[-1].append(line)
    return parts


@pytest.mark.parametrize("width", [80, 100])
def test_text_report_fits_the_terminal_one_line_per_metric(
    cli: CliInvoker, sample_now: None, width: int
) -> None:
    rep = json.loads(cli("report", "--json").stdout)
    out = cli("report", env={"COLUMNS": str(width)}).stdout
    assert max(cell_len(line) for line in out.splitlines()) <= width
    assert "times in Europe/Istanbul" in out
    parts = report_parts(out.split("channel parity")[0])
    slices = [h for p in parts for h in p[0].split()[1:]]
    assert slices == ["TOTAL", *sorted(rep["channel_sides"])]  # every slice, each once
    for part in parts:
        assert len(part) == 1 + 20  # the header and one line per metric
        labels = [re.split(r"\s{2,}", line)[0] for line in part[1:]]
        assert len(set(labels)) == len(labels)  # cut names never read alike
        assert part[1].split()[0] == "in" and part[-1].split()[0] == "sentiment"
    assert any(
        line.startswith("wait for an agent, median") and "4m 00s" in line
        for p in parts
        for line in p
    )
    parity = report_parts(out.split("channel parity")[1].split("Durations are")[0])
    assert parity[0][0].split()[1:4] == ["social", "traditional", "gap"]
    shown = [h for p in parity for h in p[0].split()[1:]]
    assert shown == ["social", "traditional", "gap", *sorted(rep["channel_sides"])]
    for part in parity:
        assert len(part) == 1 + len(rep["parity"])
