"""The native sample (``sample/twitter.jsonl``) ingests to the same interactions as the interchange one.

Native X payloads cannot carry what the interchange sample adds by hand: e-mail addresses
on authors, languages of DMs, and which DM a DM answers.  DM threads are ``dm:<conversation
id>`` natively.  Everything else must be equal.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from scrm.core.app import Scrm
from scrm.core.config import Config

NATIVE = Path(__file__).resolve().parents[1] / "sample" / "twitter.jsonl"
INTERCHANGE = Path(str(resources.files("scrm") / "data" / "sample" / "interactions.jsonl"))
BRANDS = {"brand_user_id": "583920147", "other_brand_user_ids": ["2871094563"]}
VIRAL = "1848766317129969486"
AUTHOR = ("external_id", "handle", "display_name", "followers", "verified", "account_created_at")


@pytest.fixture
def scrm_config(scrm_database_url: str) -> Config:
    return Config(database_url=scrm_database_url, channels={"twitter": BRANDS})


def interchange_lines() -> list[dict[str, Any]]:
    lines = INTERCHANGE.read_text(encoding="utf-8").splitlines()
    return [it for it in map(json.loads, lines) if it["channel"] == "twitter"]


def expected() -> dict[str, dict[str, Any]]:
    """Return the interchange interactions by id; a re-observed tweet as last seen."""
    return {it["external_id"]: it for it in interchange_lines()}


def same(native: Any, want: dict[str, Any]) -> None:
    dm = not want["public"]
    assert native.text == want["text"]
    assert native.direction == want["direction"] and native.public == want["public"]
    assert native.thread_key == ("dm:" if dm else "") + want["thread_key"]
    assert native.created_at.isoformat().replace("+00:00", ".000Z") == want["created_at"]
    got_author = native.author.model_dump(mode="json")
    for key in AUTHOR:
        assert got_author[key] == want["author"].get(key) or (
            key == "account_created_at"
            and got_author[key].replace("Z", "") == want["author"][key].replace("Z", "")
        ), key
    if want.get("recipient"):
        assert native.recipient is not None
        assert native.recipient.external_id == want["recipient"]["external_id"]
    if not dm:
        assert native.in_reply_to == want.get("in_reply_to")
        assert native.language == want["language"]
        assert native.engagement.model_dump(exclude_none=True) == want["engagement"]


def test_native_sample_parses_to_the_interchange_interactions(app: Scrm) -> None:
    channel = app.channel("twitter")
    want = expected()
    got = {}
    for line in NATIVE.read_text(encoding="utf-8").splitlines():
        for it in channel.parse(json.loads(line)):
            got[it.external_id] = it
    assert got.keys() == want.keys()
    for ext, it in got.items():
        same(it, want[ext])


def test_ingest_cli_stores_the_native_sample(cli: Any, app: Scrm) -> None:
    result = cli("ingest", "--channel", "twitter", str(NATIVE), "--json")
    report = json.loads(result.stdout)
    assert report["stored"] == len(expected()) and report["rejected"] == 0
    assert report["updated"] == 1  # the viral tweet, observed again with its new metrics
    stored = {i.external_id: i for i in app.interactions(channel="twitter", limit=1000)}
    assert stored.keys() == expected().keys()
    viral = stored[VIRAL].engagement
    assert viral is not None and viral["likes"] == 5480 and viral["views"] == 1204000
    again = json.loads(cli("ingest", "--channel", "twitter", str(NATIVE), "--json").stdout)
    assert again["stored"] == 0 and again["duplicates"] == len(interchange_lines())


def test_replaying_the_archive_keeps_the_newest_metrics(cli: Any, app: Scrm) -> None:
    cli("ingest", "--channel", "twitter", str(NATIVE))
    cli("ingest", "--channel", "twitter", str(NATIVE))
    (viral,) = [
        i for i in app.interactions(channel="twitter", limit=1000) if i.external_id == VIRAL
    ]
    assert viral.engagement is not None and viral.engagement["likes"] == 5480


def test_ingest_cli_rejects_a_bad_line_by_field_and_keeps_the_rest(
    cli: Any, app: Scrm, tmp_path: Path
) -> None:
    lines = NATIVE.read_text(encoding="utf-8").splitlines()
    page = json.loads(lines[0])
    page["data"][2]["created_at"] = "dün"
    path = tmp_path / "x.jsonl"
    path.write_text("\n".join([lines[1], json.dumps(page, ensure_ascii=False), "{"]) + "\n")
    result = cli("ingest", "--channel", "twitter", str(path), "--json", expect=3)
    report = json.loads(result.stdout)
    # The page is split into its tweets: only the bad one is rejected, its neighbours are stored.
    assert report["stored"] == len(json.loads(lines[1])["data"]) + len(page["data"]) - 1
    assert report["rejected"] == 2
    bad = next(r for r in report["rejects"] if r["position"] == 2)
    assert bad["field"] == "[2].data[0].created_at" and "ISO 8601" in bad["reason"]
    assert json.loads(bad["payload"])["data"][0]["created_at"] == "dün"  # the part, kept for replay
