"""The sample's e-mails in native form, and `scrm email import` / `scrm ingest --channel email`."""

from __future__ import annotations

import json
import mailbox
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from scrm_email.channel import EmailChannel
from scrm_email.parse import encode_payload
from scrm_email.sources import iter_payloads

from scrm.core.app import Scrm
from scrm.core.schemas import InboundInteraction
from scrm.testing import CliInvoker

SAMPLE = Path(__file__).resolve().parents[1] / "sample"
COMPARED = (
    "external_id",
    "text",
    "created_at",
    "author",
    "recipient",
    "direction",
    "public",
    "thread_key",
    "in_reply_to",
    "subject",
    "attachments",
)


def sample_lines(sample_dir: Path) -> list[InboundInteraction]:
    with (sample_dir / "interactions.jsonl").open(encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    return [InboundInteraction.model_validate(r) for r in rows if r["channel"] == "email"]


def test_native_sample_parses_to_the_sample_interactions(sample_dir: Path) -> None:
    want = sample_lines(sample_dir)
    assert want, "the bundled sample has no e-mail lines"
    channel = EmailChannel({"addresses": ["destek@acme.com.tr"]})
    got = [it for p in iter_payloads(SAMPLE) for it in channel.parse(p)]
    assert [g.external_id for g in got] == [w.external_id for w in want]
    for w, g in zip(want, got, strict=True):
        for name in COMPARED:
            assert getattr(g, name) == getattr(w, name), f"{w.external_id}: {name}"


def test_native_sample_uses_turkish_charsets() -> None:
    heads = b"".join(p.read_bytes()[:2000] for p in sorted(SAMPLE.glob("*.eml")))
    for label in (b"windows-1254", b"iso-8859-9", b"quoted-printable", b"base64"):
        assert label in heads


def test_import_sample_folder(cli: CliInvoker, app: Scrm, sample_dir: Path) -> None:
    result = cli("email", "import", str(SAMPLE), "--json")
    summary = json.loads(result.stdout)
    want = sample_lines(sample_dir)
    assert summary["stored"] == len(want) and summary["rejected"] == 0
    stored = {i.external_id: i for i in app.interactions(channel="email", limit=1000)}
    assert set(stored) == {w.external_id for w in want}
    for w in want:
        assert stored[w.external_id].thread_key == w.thread_key
        assert stored[w.external_id].text == w.text
    # Replies landed on their thread's case: Zeynep's reply is on her first mail's case.
    first = stored["<20241021063006.3745@mail.example.com>"]
    reply = stored["<20241022134008.91809@mail.example.com>"]
    assert first.case_id is not None and reply.case_id == first.case_id
    again = json.loads(cli("email", "import", str(SAMPLE), "--json").stdout)
    assert (again["stored"], again["duplicates"]) == (0, len(want))


def test_import_as_of_moves_every_path_by_one_amount(
    cli: CliInvoker, app: Scrm, sample_dir: Path, tmp_path: Path
) -> None:
    """`--as-of` on `scrm email import`: the newest message of all the paths given is at
    the instant; every message moves by the same amount, whichever path it came from."""
    files = sorted(SAMPLE.glob("*.eml"))
    first, second = tmp_path / "a", tmp_path / "b"
    for folder, part in ((first, files[:30]), (second, files[30:])):
        folder.mkdir()
        for f in part:
            shutil.copy(f, folder / f.name)
    cli("email", "import", str(first), str(second), "--as-of", "2030-01-01T00:00:00+00:00")
    want = {w.external_id: w.created_at for w in sample_lines(sample_dir)}
    stored = {i.external_id: i.created_at for i in app.interactions(channel="email", limit=1000)}
    assert set(stored) == set(want)
    assert max(stored.values()) == datetime(2030, 1, 1, tzinfo=UTC)
    assert len({stored[k] - want[k] for k in want}) == 1


@pytest.mark.parametrize(
    ("files", "thanks"),
    [
        # Cem's complaint about a store, the brand's answers, his thank-you ("Re: ... şikayeti").
        (("025-", "037-", "039-", "051-"), "<20241024220947.84886@acme.com.tr>"),
        # Ravi's technician who did not come: "Re: Technician didn't show up - second time".
        (("036-", "042-", "043-", "053-"), "<20241024223549.44511@acme.com.tr>"),
    ],
)
def test_a_thank_you_under_the_complaints_subject_resolves_its_case(
    cli: CliInvoker, app: Scrm, tmp_path: Path, files: tuple[str, ...], thanks: str
) -> None:
    """The reply keeps the thread's subject, which names the complaint: the thank-you is read
    by its own words, so it resolves the case instead of reading as the complaint again."""
    for prefix in files:
        [path] = SAMPLE.glob(f"{prefix}*.eml")
        shutil.copy(path, tmp_path / path.name)
    cli("email", "import", str(tmp_path))
    stored = {i.external_id: i for i in app.interactions(channel="email", limit=100)}
    reply = stored[thanks]
    assert reply.subject is not None and reply.subject.startswith("Re: ")
    assert reply.kind != "complaint" and reply.sentiment != "negative"
    [case] = app.cases()
    assert case.status == "resolved" and case.kind == "complaint"


def test_import_mbox_maildir_and_single_file(
    cli: CliInvoker, app: Scrm, tmp_path: Path, mail: Any
) -> None:
    msgs = [
        mail(
            sender=f"c{n}@example.com", subject=f"konu {n}", text=f"metin {n}", msgid=f"<{n}@x.com>"
        )
        for n in range(4)
    ]
    box = mailbox.mbox(str(tmp_path / "arsiv.mbox"))
    box.add(msgs[0])
    box.add(msgs[1])
    box.close()
    md = mailbox.Maildir(str(tmp_path / "Maildir"))
    md.add(msgs[2])
    md.close()
    (tmp_path / "tek.eml").write_bytes(msgs[3].as_bytes())
    out = cli(
        "email",
        "import",
        str(tmp_path / "arsiv.mbox"),
        str(tmp_path / "Maildir"),
        str(tmp_path / "tek.eml"),
        "--json",
    )
    assert json.loads(out.stdout)["stored"] == 4
    texts = sorted(i.text for i in app.interactions(channel="email"))
    assert texts == ["metin 0", "metin 1", "metin 2", "metin 3"]


def test_ingest_jsonl_of_raw_base64_lines(cli: CliInvoker, app: Scrm, tmp_path: Path) -> None:
    lines = [
        json.dumps(encode_payload(p.read_bytes(), source=p.name))
        for p in sorted(SAMPLE.glob("*.eml"))[:3]
    ]
    lines.insert(1, json.dumps({"raw_base64": "%%%"}))
    path = tmp_path / "mail.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = cli("ingest", "--channel", "email", str(path), "--json", expect=3)
    summary = json.loads(result.stdout)
    assert (summary["stored"], summary["rejected"]) == (3, 1)
    (reject,) = app.rejects()
    assert reject.field == "raw_base64" and reject.position == 2


def test_import_of_a_broken_message_is_kept_as_a_reject(
    cli: CliInvoker, app: Scrm, tmp_path: Path
) -> None:
    folder = tmp_path / "mails"
    folder.mkdir()
    (folder / "bad.eml").write_bytes(b"Subject: nobody sent this\n\nbody\n")
    shutil.copy(sorted(SAMPLE.glob("*.eml"))[0], folder / "good.eml")
    result = cli("email", "import", str(folder), "--json", expect=3)
    assert json.loads(result.stdout)["stored"] == 1
    (reject,) = app.rejects()
    assert reject.field == "From"


def test_noise_opens_no_case(app: Scrm, mail: Any) -> None:
    auto = mail(
        sender="o@example.com",
        subject="Otomatik yanıt: fatura",
        text="Ofis dışındayım, faturamla ilgili şikayetim var ama sonra yazacağım.",
        msgid="<ooo@example.com>",
        headers={"Auto-Submitted": "auto-replied"},
    )
    app.ingest_native("email", [encode_payload(auto.as_bytes())])
    (it,) = app.interactions(channel="email")
    assert it.case_id is None
