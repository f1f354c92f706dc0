"""`--as-of`: recorded data placed relative to today when it is loaded, through the CLI."""

from __future__ import annotations

import importlib.util
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType

import pytest

from scrm.core.app import Scrm
from scrm.testing import CliInvoker
from tests.helpers import jsonl, message

ROOT = Path(__file__).resolve().parents[1]


def times(app: Scrm) -> dict[str, datetime]:
    """Every stored message's instant by external id."""
    out = json.loads(CliInvoker(app)("interactions", "list", "--limit", "1000", "--json").stdout)
    return {i["external_id"]: datetime.fromisoformat(i["created_at"]) for i in out}


def sample_times(path: Path, field: str) -> dict[str, datetime]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    key = "external_id" if field == "created_at" else "record_id"
    return {r[key]: datetime.fromisoformat(r[field]) for r in rows if key in r}


def test_as_of_now_moves_the_newest_message_to_now_and_keeps_every_gap(
    cli: CliInvoker, app: Scrm, sample_dir: Path
) -> None:
    before = datetime.now(UTC)
    cli("ingest", "--channel", "phone", str(sample_dir / "phone.jsonl"), "--as-of", "now")
    original = sample_times(sample_dir / "phone.jsonl", "received_at")
    stored = times(app)
    assert set(stored) == set(original)
    assert before - timedelta(seconds=1) <= max(stored.values()) <= datetime.now(UTC)
    shifts = {stored[k] - original[k] for k in original}
    assert len(shifts) == 1  # one amount for every message: order and gaps are kept


def test_as_of_an_instant_and_a_shared_newest_move_inputs_together(
    cli: CliInvoker, app: Scrm, sample_dir: Path
) -> None:
    """Two inputs of one data set, given the same --newest, move by the same amount; a time
    without an offset is in the configured zone (Europe/Istanbul)."""
    newest, as_of = "2024-10-27T17:45:52+00:00", "2030-06-01T12:00:00"
    twitter = str(ROOT / "plugins" / "twitter" / "sample" / "twitter.jsonl")
    phone = str(sample_dir / "phone.jsonl")
    for args in (["--channel", "twitter", twitter], ["--channel", "phone", phone]):
        cli("ingest", *args, "--as-of", as_of, "--newest", newest)
    want = datetime(2030, 6, 1, 9, 0, tzinfo=UTC) - datetime.fromisoformat(newest)
    stored = times(app)
    calls = sample_times(sample_dir / "phone.jsonl", "received_at")
    assert {stored[k] - calls[k] for k in calls} == {want}
    tweets = sample_times(sample_dir / "interactions.jsonl", "created_at")
    moved = {stored[k] - tweets[k] for k in stored if k in tweets}
    assert moved == {want} and len([k for k in stored if k in tweets]) > 100
    assert max(stored.values()) == datetime(2030, 6, 1, 9, 0, tzinfo=UTC)


def test_stdin_is_placed_too(cli: CliInvoker, app: Scrm) -> None:
    """Without --newest the input is read to its end first (spooled, not kept in memory)."""
    lines = jsonl([message(1, minutes=0), message(2, minutes=90, author="u2")])
    cli("ingest", "-", "--as-of", "2026-01-02T10:00:00+00:00", input=lines)
    stored = times(app)
    assert stored["2"] == datetime(2026, 1, 2, 10, 0, tzinfo=UTC)
    assert stored["2"] - stored["1"] == timedelta(minutes=90)


def test_account_ages_move_with_the_messages(cli: CliInvoker, sample_dir: Path) -> None:
    """The sample's coordinated burst comes from accounts days old: moved with their posts,
    they are as young as they were, and the burst is still flagged."""
    cli("ingest", str(sample_dir / "interactions.jsonl"), "--as-of", "now")
    flagged = json.loads(cli("review", "--json").stdout)
    assert len(flagged) >= 7


def test_a_message_moved_out_of_range_is_a_reject_naming_the_field(
    cli: CliInvoker, app: Scrm
) -> None:
    lines = jsonl([message(1)])
    out = cli(
        "ingest", "-", "--as-of", "2099-12-31", "--newest", "1990-01-01", "--json",
        input=lines, expect=3,
    ).stdout  # fmt: skip
    [reject] = json.loads(out)["rejects"]
    assert reject["field"] == "created_at" and "as-of" in reject["reason"]


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["--newest", "2024-10-27"], "--newest needs --as-of"),
        (["--as-of", "yesterday"], "is not 'now' or an ISO 8601 date or time"),
        (["--as-of", "now", "--newest", "soon"], "is not 'now' or an ISO 8601 date or time"),
    ],
)
def test_bad_placement_options_are_usage_errors(
    cli: CliInvoker, app: Scrm, args: list[str], error: str
) -> None:
    result = cli("ingest", "-", *args, input=jsonl([message(1)]), expect=2)
    assert error in result.stderr
    assert times(app) == {}  # nothing stored


def test_the_demo_is_alive(cli: CliInvoker, sample_dir: Path) -> None:
    """The sample placed at now: a report over the last 30 days has data, the board has
    cases past a deadline and cases still due, and `sla check` prints a screenful."""
    cli("ingest", str(sample_dir / "interactions.jsonl"), "--as-of", "now")
    report = json.loads(cli("report", "--since", "30d", "--json").stdout)
    assert report["total"]["volume_in"] > 150
    board = json.loads(cli("cases", "list", "--status", "open", "--limit", "500", "--json").stdout)
    assert any(c["breaching"] for c in board)
    assert any(not c["breaching"] and c["next_due"] for c in board)
    check = cli("sla", "check").stdout
    assert len(check.splitlines()) < 40 and "the most overdue" in check
    assert not re.search(r"late by \d{3,}d|\b\d{3,}d \d\d:\d\d", check)  # not years late
    again = cli("sla", "check").stdout  # each alert fires once
    assert again.startswith("fired 0 warnings, 0 breaches, 0 escalations")


def demo_agents() -> ModuleType:
    """``scripts/demo_agents.py``: what the sample's agents did that no message records."""
    spec = importlib.util.spec_from_file_location("demo_agents", ROOT / "scripts" / "demo_agents.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_demo_board_looks_like_a_working_support_team(
    cli: CliInvoker, app: Scrm, sample_dir: Path
) -> None:
    """The sample loaded as `make demo` loads it (moved so that its newest message is now, and
    the agents' work that no message records done): most of the week's cases were answered and
    resolved, a few are past a deadline, several are due within hours and the newest are still
    new, not a board where almost everything is late.
    """
    newest = re.search(r"^SAMPLE_NEWEST = (\S+)$", (ROOT / "Makefile").read_text(), re.M)
    assert newest is not None
    place = ["--as-of", "now", "--newest", newest[1]]
    cli("ingest", str(sample_dir / "interactions.jsonl"), *place)
    cli("ingest", "--channel", "phone", str(sample_dir / "phone.jsonl"), *place)
    assert len(demo_agents().close_the_burst(app)) == 8
    assert json.loads(cli("review", "--json").stdout)  # still listed, as closed
    # The fake giveaway reached triage (complaint words in a scam), not the bin; reviewed.
    assert len(demo_agents().review_the_suspected_spam(app)) == 1
    cases = json.loads(cli("cases", "list", "--limit", "1000", "--json").stdout)
    now = datetime.now(UTC)
    board = [c for c in cases if c["status"] not in ("resolved", "closed")]
    late = [c for c in board if c["breaching"]]
    answered = [c for c in board if c["status"] != "new"]
    soon = [
        c
        for c in board
        if not c["breaching"]
        and c["next_due"]
        and datetime.fromisoformat(c["next_due"]) - now <= timedelta(hours=4)
    ]
    fresh = [c for c in board if c["status"] == "new" and not c["breaching"]]
    assert sum(c["status"] == "resolved" for c in cases) > len(cases) / 2
    # A few past a deadline: the storylines about a failure (Kemal's broken promise, the app
    # outage, Sophie's unanswered call, Gülay's line, the court notice, Selin's crisis, ...),
    # on several channels; spam opens no case and the bot burst is closed.
    assert 3 <= len(late) <= 10
    assert len({c["channel"] for c in late}) >= 3
    assert sum(c["breaching"] for c in answered) <= 0.25 * len(answered)
    assert len(soon) >= 2 and fresh
    summary = cli("cases", "list", "--status", "open").stdout
    assert f"of {len(board)} cases by deadline: {len(late)} past a deadline" in summary


def test_the_makefile_places_the_sample_by_its_newest_message(sample_dir: Path) -> None:
    """`make demo` moves every channel by one amount: SAMPLE_NEWEST is the sample's newest."""
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    declared = re.search(r"^SAMPLE_NEWEST = (\S+)$", makefile, re.M)
    assert declared is not None
    newest = max(
        [
            *sample_times(sample_dir / "interactions.jsonl", "created_at").values(),
            *sample_times(sample_dir / "phone.jsonl", "received_at").values(),
        ]
    )
    assert datetime.fromisoformat(declared[1]) == newest
    # twitter, facebook, email, phone and the feed items: one amount for all of them
    assert makefile.count("$(AS_OF)") == 5
