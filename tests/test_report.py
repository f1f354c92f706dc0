"""``scrm report``: tables, JSON, CSV, and the HTML page rendered by a real browser."""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from browserkit import chromium

import scrm
from scrm.core.app import Scrm
from scrm.core.metrics.html import render_html
from scrm.testing import CliInvoker

# Integration: renders reports from databases, one of them in Chromium.
pytestmark = pytest.mark.integration

CHARTS = {"volume", "sentiment", "response", "sla", "parity", "categories"}


def _ingest_sample(cli: Any, sample_dir: Path) -> None:
    cli("ingest", "--format", "interactions", str(sample_dir / "interactions.jsonl"))
    cli("ingest", "--channel", "phone", str(sample_dir / "phone.jsonl"))


def test_report_outputs(cli: CliInvoker, sample_dir: Path) -> None:
    _ingest_sample(cli, sample_dir)
    period = ("--from", "2024-10-01", "--to", "2024-11-10")
    out = json.loads(cli("report", *period, "--json").stdout)
    assert out["total"]["volume_in"] > 0 and out["by"] == "channel"
    assert {g["key"] for g in out["sides"]} == {"social", "traditional"}
    assert out["channel_sides"]["phone"] == "traditional"
    assert out["channel_sides"]["email"] == "traditional"
    assert out["channel_sides"]["twitter"] == "social"
    # The sample's 44 inbound calls record their wait: a 4-minute median to reach an agent.
    waits = {g["key"]: g["contact_wait"] for g in out["channels"]}
    assert (waits["phone"]["count"], waits["phone"]["median"]) == (44, 240)
    assert waits["twitter"]["count"] == 0

    rows = list(
        csv.DictReader(io.StringIO(cli("report", *period, "--csv", "--by", "department").stdout))
    )
    assert rows[-1]["department"] == "all"
    assert int(rows[-1]["volume_in"]) == out["total"]["volume_in"]

    text = cli("report", *period).stdout
    assert "channel parity" in text and "TOTAL" in text

    empty = json.loads(cli("report", "--since", "1h", "--to", "2001-01-01", "--json").stdout)
    assert empty["total"]["first_response"]["median"] is None

    bad = cli("report", "--since", "a while", expect=2)
    assert "30d" in bad.stderr


def test_html_report_of_the_sample_renders_in_chromium(tmp_path: Path, sample_dir: Path) -> None:
    app = scrm.open(f"sqlite:///{tmp_path / 'scrm.db'}", migrate=True)
    try:
        cli = CliInvoker(app)
        _ingest_sample(cli, sample_dir)
        page = tmp_path / "report.html"
        cli("report", "--from", "2024-10-01", "--to", "2024-11-10", "--html", str(page))
    finally:
        app.close()
    html = page.read_text(encoding="utf-8")
    # Self-contained: nothing fetched from anywhere.
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "@import" not in html and "url(" not in html

    browser = chromium()
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--hide-scrollbars",
        "--window-size=1050,4200",
    ]
    url = page.resolve().as_uri()
    shot = tmp_path / "report.png"
    subprocess.run(
        [browser, *flags, f"--screenshot={shot}", url], capture_output=True, timeout=120, check=True
    )
    assert shot.stat().st_size > 50_000  # a blank page of this size is a few KB
    dom = subprocess.run(
        [browser, *flags, "--dump-dom", url],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    # The page's script counted, after layout, the marks each chart really drew.
    rendered = dict(re.findall(r'data-chart="(\w+)"[^>]*data-rendered="(\d+)"', dom))
    assert set(rendered) == CHARTS, rendered
    assert all(int(n) > 0 for n in rendered.values()), rendered
    assert 'data-charts-rendered="6"' in dom
    for name in ("volume", "sentiment"):  # one point per day at least
        assert int(rendered[name]) >= 8


def test_render_html_of_an_empty_report_says_so(app: Scrm) -> None:
    from datetime import UTC, datetime

    from scrm.core.metrics import generate_report

    r = generate_report(
        app, start=datetime(2020, 1, 1, tzinfo=UTC), end=datetime(2020, 1, 2, tzinfo=UTC)
    )
    html = render_html(r)
    assert html.count("No data in this period.") == len(CHARTS)
