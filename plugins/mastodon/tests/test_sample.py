"""The bundled sample (``sample/mastodon.jsonl``): every payload shape, one full loop."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from scrm.core.app import Scrm
from scrm.core.config import Config

SAMPLE = Path(__file__).resolve().parents[1] / "sample" / "mastodon.jsonl"
BRAND = "109348223114372104"


@pytest.fixture
def scrm_config(scrm_database_url: str) -> Config:
    return Config(
        database_url=scrm_database_url, channels={"mastodon": {"brand_account_id": BRAND}}
    )


def test_the_sample_holds_every_payload_shape(app: Scrm) -> None:
    channel = app.channel("mastodon")
    shapes, ids = set(), []
    for line in SAMPLE.read_text(encoding="utf-8").splitlines():
        payload = json.loads(line)
        shapes.add("notification" if "type" in payload else next(iter(payload)))
        ids += [it.external_id for it in channel.parse(payload)]
    assert shapes == {"notification", "statuses", "ancestors", "accounts"}
    assert len(ids) == len(set(ids)) == 10  # the brand's boost is no message


def test_ingesting_the_sample_runs_the_loop_on_mastodon(cli: Any, app: Scrm) -> None:
    report = json.loads(cli("ingest", "--channel", "mastodon", str(SAMPLE), "--json").stdout)
    assert (report["stored"], report["rejected"]) == (10, 0)
    rows = app.interactions(channel="mastodon", limit=100)
    outbound = [i for i in rows if i.direction == "outbound"]
    assert len(outbound) == 3 and sum(not i.public for i in outbound) == 1
    (ayse,) = [i for i in rows if i.text.startswith("@acmedestek Kadıköy")]
    case = app.case(ayse.case_id)  # type: ignore[arg-type]
    # answered publicly, asked for details, got them privately, thanked: resolved
    assert case.status == "resolved" and case.first_response_at is not None
    assert len(case.interactions) == 5
    assert [i.public for i in case.interactions] == [True, True, False, False, True]
    # posts found by search open cases too, though not addressed to the brand
    assert len(app.cases(limit=100)) == 5
    again = json.loads(cli("ingest", "--channel", "mastodon", str(SAMPLE), "--json").stdout)
    assert again["stored"] == 0 and again["duplicates"] == 10
