"""Hostile input through every ingest entry point, on SQLite and PostgreSQL.

Generated records carry NUL, lone surrogates, NaN and Infinity, integers past 64 bits, dates
in year 1 and 9999, nesting deeper than any payload needs, a byte-order mark, wrong types and
bytes that are not UTF-8.  Whatever the mix: each valid record is stored once (with its bad
characters replaced by U+FFFD and the replacement noted in ``raw``), each invalid one is
rejected with its line, field and reason, the exit status is the documented one, and nothing
prints a traceback.
"""

from __future__ import annotations

import base64
import itertools
import json
import math
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from helpers import message
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from scrm.core.bounds import MAX_DEPTH, clean_json, clean_text, has_bad_text
from scrm.core.models import Interaction, Reject
from scrm.core.schemas import NORMALISED_KEY, Author, InboundInteraction

# Integration: runs the real command as a process.
pytestmark = pytest.mark.integration

_ids = itertools.count(1)
EXIT_REJECTED = 3
DEEP = 2_000  # past Python's own recursion limit for json.loads


def _nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(depth - 1):
        value = {"a": value}
    return value


@dataclass(frozen=True)
class Case:
    """A mutation of a valid record, and what must become of it."""

    name: str
    change: dict[str, Any]
    field: str | None = None
    """None: stored; otherwise rejected naming this field."""
    normalised: bool = False

    def apply(self, record: dict[str, Any]) -> dict[str, Any]:
        out = dict(record)
        for key, value in self.change.items():
            if "." in key:
                head, tail = key.split(".", 1)
                out[head] = {**out[head], tail: value}
            else:
                out[key] = value
        return out


CASES = [
    Case("plain", {}),
    Case("nul in text", {"text": "kargo\x00 gelmedi"}, normalised=True),
    Case(
        "nul in subject and handle", {"subject": "\x00", "author.handle": "a\x00b"}, normalised=True
    ),
    Case("lone surrogate", {"text": "bozuk \ud800 metin"}, normalised=True),
    Case("nan in raw", {"raw": {"score": math.nan, "x": [math.inf, -math.inf]}}, normalised=True),
    Case("nul in raw key", {"raw": {"k\x00": "v\x00"}}, normalised=True),
    Case("raw at the depth limit", {"raw": _nested(MAX_DEPTH)}),
    Case("raw too deep", {"raw": _nested(MAX_DEPTH + 1)}, "raw"),
    Case("followers 10^20", {"author.followers": 10**20}, "author.followers"),
    Case("followers negative", {"author.followers": -1}, "author.followers"),
    Case("customer_id 10^20", {"customer_id": 10**20}, "customer_id"),
    Case("case_id 10^20", {"case_id": 10**20}, "case_id"),
    Case("unknown case_id", {"case_id": 999_999}, "case_id"),
    Case("unknown customer_id", {"customer_id": 999_999}, "customer_id"),
    Case("year 1", {"created_at": "0001-01-01T00:00:00+00:00"}, "created_at"),
    Case("year 1, positive offset", {"created_at": "0001-01-01T00:00:00+14:00"}, "created_at"),
    Case("year 9999", {"created_at": "9999-12-31T23:59:59-12:00"}, "created_at"),
    Case("naive date", {"created_at": "2024-10-21T09:00:00"}, "created_at"),
    Case(
        "account in year 1",
        {"author.account_created_at": "0001-01-01T00:00:00Z"},
        "author.account_created_at",
    ),
    Case("public yes", {"public": "yes"}, "public"),
    Case("verified 1", {"author.verified": 1}, "author.verified"),
    Case("blank external_id", {"external_id": "   "}, "external_id"),
    Case("blank author id", {"author.external_id": " \t"}, "author.external_id"),
    Case("likes NaN", {"engagement": {"likes": math.nan}}, "engagement.likes"),
    Case("views 10^20", {"engagement": {"views": 10**20}}, "engagement.views"),
    Case("text is a number", {"text": 12}, "text"),
    Case("text too long", {"text": "x" * 100_001}, "text"),
]
BY_NAME = {c.name: c for c in CASES}


def _record(case: Case, text: str = "Siparişim gelmedi, berbat!") -> dict[str, Any]:
    n = next(_ids)
    return case.apply(message(f"h{n}", text, author=f"a{n}"))


def _counts(app) -> tuple[int, int]:
    with app.session() as s:
        return (
            s.scalar(sa.select(sa.func.count()).select_from(Interaction)) or 0,
            s.scalar(sa.select(sa.func.count()).select_from(Reject)) or 0,
        )


# -- the bounds themselves -------------------------------------------------------------------


@given(st.text(alphabet=st.characters(codec=None, categories=None)))
def test_clean_text_always_gives_storable_text(text: str) -> None:
    cleaned, changed = clean_text(text)
    cleaned.encode("utf-8")  # no lone surrogate left
    assert "\x00" not in cleaned and len(cleaned) == len(text)
    assert changed == (cleaned != text)


_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(alphabet=st.characters(codec=None, categories=None)),
    lambda kids: (
        st.lists(kids, max_size=4)
        | st.dictionaries(
            st.text(alphabet=st.characters(codec=None, categories=None)), kids, max_size=4
        )
    ),
    max_leaves=20,
)


@given(_json)
def test_clean_json_gives_what_postgresql_accepts(value: Any) -> None:
    cleaned, changed = clean_json(value)
    text = json.dumps(cleaned, allow_nan=False, ensure_ascii=False)  # raises on NaN/Infinity
    assert "\\u0000" not in text
    text.encode("utf-8")  # no lone surrogate
    assert bool(changed) == (cleaned is not value)  # the fast path copies nothing
    if changed and not any(isinstance(x, float) for x in _leaves(value)):
        assert has_bad_text(value)


def _leaves(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [x for v in value.values() for x in _leaves(v)]
    if isinstance(value, list):
        return [x for v in value for x in _leaves(v)]
    return [value]


def test_depth_is_checked_without_recursion() -> None:
    with pytest.raises(ValueError, match=f"deeper than {MAX_DEPTH}"):
        clean_json(_nested(100_000))


@pytest.mark.parametrize(
    "case",
    [c for c in CASES if c.field and not c.name.startswith("unknown")],  # those need the database
    ids=lambda c: c.name,
)
def test_the_schema_names_the_field_at_fault(case: Case) -> None:
    with pytest.raises(ValidationError) as info:
        InboundInteraction.model_validate(_record(case))
    fields = {".".join(str(p) for p in e["loc"]) for e in info.value.errors()}
    assert case.field in fields


def test_normalisation_is_recorded_in_raw() -> None:
    it = InboundInteraction.model_validate(_record(BY_NAME["nul in text"]) | {"raw": {"id": 1}})
    assert it.text == "kargo\ufffd gelmedi"
    assert it.raw == {"id": 1, NORMALISED_KEY: ["text"]}
    built = Author(external_id="x", handle="a\x00")  # a channel building models directly
    assert built.handle == "a\ufffd"


# -- the Python API --------------------------------------------------------------------------

_hostile_batch = st.lists(st.sampled_from(CASES), min_size=1, max_size=12)


def _check(app, report, cases: list[Case], before: tuple[int, int]) -> None:
    good = [c for c in cases if c.field is None]
    stored, rejects = _counts(app)
    assert (report.stored, report.rejected) == (len(good), len(cases) - len(good))
    assert (stored, rejects) == (before[0] + len(good), before[1] + len(cases) - len(good))


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(cases=_hostile_batch)
def test_python_api_stores_the_good_and_rejects_the_bad(app, cases: list[Case]) -> None:
    before = _counts(app)
    records = [_record(c) for c in cases]
    report = app.ingest(records)
    _check(app, report, cases, before)
    expected = {n: c.field for n, c in enumerate(cases, start=1) if c.field}
    assert {r.position: r.field for r in report.rejects} == expected
    assert all(r.reason for r in report.rejects)


def test_a_normalised_message_is_stored_with_its_note(app) -> None:
    report = app.ingest([_record(BY_NAME["nul in text"]), _record(BY_NAME["nan in raw"])])
    assert report.stored == 2
    first, _ = app.interactions()
    assert first.text == "kargo\ufffd gelmedi"
    with app.session() as s:
        raws = list(s.scalars(sa.select(Interaction.raw).order_by(Interaction.id)))
    assert raws[0][NORMALISED_KEY] == ["text"]
    assert raws[1]["score"] is None and raws[1][NORMALISED_KEY] == [
        "raw.score",
        "raw.x[0]",
        "raw.x[1]",
    ]


# -- files through the CLI -------------------------------------------------------------------


def _line(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=True).encode()


FILE_ONLY = {
    "not UTF-8": (b'{"text": "\xff\xfe"}', None),
    "raw NUL byte": (b'{"text": "a\x00b"}', None),
    "nested past the parser": (b"[" * DEEP + b"]" * DEEP, None),
    "huge integer": (b'{"n": ' + b"9" * 5000 + b"}", None),
    "NaN literal in raw": (None, None),
}


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    cases=_hostile_batch,
    extra=st.lists(st.sampled_from(sorted(FILE_ONLY)), max_size=4),
    bom=st.booleans(),
)
def test_a_hostile_file_through_the_cli(app, cli, tmp_path_factory, cases, extra, bom) -> None:
    before = _counts(app)
    lines = [_line(_record(c)) for c in cases]
    bad_positions = {n for n, c in enumerate(cases, start=1) if c.field}
    for name in extra:
        raw_line = FILE_ONLY[name][0]
        if raw_line is None:  # json.dumps writes NaN; the record itself is valid
            lines.append(_line(_record(BY_NAME["nan in raw"])))
            continue
        lines.append(raw_line)
        bad_positions.add(len(lines))
    if bom:
        lines[0] = b"\xef\xbb\xbf" + lines[0]
    path = tmp_path_factory.mktemp("in") / "hostile.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    result = cli("ingest", "--format", "interactions", str(path), "--json", expect=None)
    assert "Traceback" not in result.stderr
    assert result.exit_code == (EXIT_REJECTED if bad_positions else 0)
    report = json.loads(result.stdout)
    assert report["rejected"] == len(bad_positions)
    assert report["stored"] == len(lines) - len(bad_positions)
    assert {r["position"] for r in report["rejects"]} == bad_positions
    stored, rejects = _counts(app)
    assert (stored, rejects) == (before[0] + report["stored"], before[1] + len(bad_positions))


def test_rejects_keep_the_bytes_received_and_replay_from_them(app, cli, tmp_path) -> None:
    lines = [b'{"text": "\xff"}', b'{"text": "a\x00b"}', _line(_record(BY_NAME["plain"]))]
    path = tmp_path / "bytes.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    cli("ingest", "--format", "interactions", str(path), expect=EXIT_REJECTED)
    with app.session() as s:
        kept = s.execute(sa.select(Reject.payload, Reject.payload_bytes).order_by(Reject.id)).all()
    assert [exact for _, exact in kept] == lines[:2]
    assert kept[0][0] == '{"text": "\ufffd"}' and kept[1][0] == '{"text": "a\ufffdb"}'
    report = app.replay_rejects()
    assert report.rejected == 2 and report.rejects[0].reason.startswith("not UTF-8")
    with app.session() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(Reject)) == 2  # not kept twice


def test_the_real_command_prints_no_traceback(app, tmp_path) -> None:
    lines = [_line(_record(BY_NAME[n])) for n in ("plain", "year 1", "nul in text")]
    lines.append(b"[" * DEEP + b"]" * DEEP)
    path = tmp_path / "in.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + b"\n".join(lines) + b"\n")
    env = {**os.environ, "SCRM_DATABASE_URL": app.config.database_url}
    done = subprocess.run(
        [
            str(Path(sys.executable).with_name("scrm")),
            "ingest",
            "--format",
            "interactions",
            str(path),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == EXIT_REJECTED, done.stderr
    assert "Traceback" not in done.stderr and "kargo" not in done.stderr
    assert "stored 2" in done.stdout


# -- a record the database refuses is isolated ------------------------------------------------


def test_a_record_the_database_refuses_costs_only_itself(app) -> None:
    """A channel plugin that skips validation (model_construct) hands over a value the
    database refuses: the batch is split until that record is alone, and it is rejected."""
    good = [InboundInteraction.model_validate(_record(BY_NAME["plain"])) for _ in range(299)]
    bad_author = Author.model_construct(external_id="big", followers=10**20)
    bad = good[0].model_copy(update={"external_id": "bad-one", "author": bad_author})
    items = [*good[:150], bad, *good[150:]]
    report = app.ingest(items)
    assert (report.stored, report.rejected) == (299, 1)
    [reject] = report.rejects
    assert reject.position == 151 and reject.reason.startswith("the database refused it")
    assert "big" in reject.payload and "10000000000" not in reject.reason
    assert _counts(app) == (299, 1)


# -- e-mail -----------------------------------------------------------------------------------


def test_email_import_stores_a_mail_with_a_nul(app, cli, tmp_path) -> None:
    mail = (
        "From: Ayse <ayse@example.com>\r\nTo: destek@example.com\r\nSubject: Kargo\x00\r\n"
        "Message-ID: <{n}@example.com>\r\nDate: Mon, 21 Oct 2024 09:00:00 +0300\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\nSiparisim gelmedi{body}\r\n"
    )
    (tmp_path / "1.eml").write_text(mail.format(n=1, body=""), encoding="utf-8")
    (tmp_path / "2.eml").write_text(mail.format(n=2, body="\x00 hala yok"), encoding="utf-8")
    result = cli("email", "import", str(tmp_path), "--json")
    assert json.loads(result.stdout)["stored"] == 2
    texts = sorted(i.text for i in app.interactions())
    assert texts[0] == "Siparisim gelmedi" and "\ufffd hala yok" in texts[1]


def test_rejects_show_gives_the_exact_bytes(app, cli, tmp_path) -> None:
    path = tmp_path / "latin1.jsonl"
    path.write_bytes(b'{"text": "T\xfcrk\xe7e"}\n')
    cli("ingest", "--format", "interactions", str(path), expect=EXIT_REJECTED)
    [reject] = json.loads(cli("rejects", "list", "--json").stdout)
    shown = json.loads(cli("rejects", "show", str(reject["id"])).stdout)
    assert base64.b64decode(shown["payload_bytes"]) == b'{"text": "T\xfcrk\xe7e"}'
    assert shown["payload"] == '{"text": "T\ufffdrk\ufffde"}'
