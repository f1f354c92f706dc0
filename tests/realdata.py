"""Load the real third-party corpora used to measure the classifier and the promise detector.

Nothing here is copied into the repository: each corpus is read where it lies, from
``../shared/data`` beside the checkout or from any folder named in ``SCRM_REAL_DATA``
(``os.pathsep``-separated).  A corpus that is not found is reported with the reason, so a
benchmark or a test can skip it visibly.

Corpora (folder name, file, what is read):

``ibm_twitter_customer_care/{dev,test}.json``
    IBM's 2020 customer-care conversations (Apache-2.0): the customers' messages (labelled
    with the brand's ``company`` account) and the brands' agent replies.  No sentiment labels; every customer message is a real request for
    help, so none may be spam.
``twitter_us_airline_sentiment/Tweets.csv``
    The "Twitter US Airline Sentiment" set (Crowdflower's Data for Everyone, CC BY-NC-SA 4.0):
    14,640 tweets to six US airlines with a human sentiment label and, for negative ones, the
    reason (late flight, lost luggage, customer service...).  The published text was edited
    by its makers: every "cancel", "late" and "booking", even inside a word, was replaced by a
    reason label ("Cancelled Flightled" for "cancelled", "Late Flightr" for "later",
    "reFlight Booking Problems" for "rebooking").  :func:`load_airline` undoes those three
    replacements (:func:`unedit_airline`) so the classifier reads what the customer wrote, and
    the labels' words ("problems") do not leak into the text; the classifier never sees or
    corrects the artefact itself.
``turkish_store_reviews/magaza_yorumlari_duygu_analizi.csv``
    11,426 Turkish reviews of products bought in online stores (UTF-16), each labelled
    ``Olumlu`` (positive), ``Olumsuz`` (negative) or ``Tarafsız`` (neutral): the Kaggle set
    "Duygu analizi için ürün yorumları" as copied to GitHub (Eminkorkut/exam); no licence is
    stated with it, so it is only read, never redistributed.
``sikayetvar_banks/*.csv``
    Turkish complaints about banks (İş Bankası, VakıfBank) from the complaint site
    Şikayetvar, with the title, the text and the bank's public reply
    (BetulAlbayrak1999/Analyzing-Banks-Reviews-Sikayetvar-ML-Text-Mining, ``data/raw``, MIT).
    Every one is a complaint a person wrote, so none may be spam and each should be a complaint.
    The reply column holds VakıfBank's templated replies (and three of Pazarama's); for İş
    Bankası it mostly holds the complainant's own follow-up, which the scrape took for the
    bank's reply (labelled ``not_brand`` in the promise labels, see
    :func:`load_sikayetvar_bank_replies`).
``sikayetvar_ziraat/*.csv`` and ``sikayetvar_setur/*.json``
    Replies of two other brands to Şikayetvar complaints, read only for promise detection
    (:func:`load_sikayetvar_brand_replies`): Ziraat Bankası, by the same scraper and in the
    same columns as ``sikayetvar_banks`` (the same repository's ``output/`` folder, MIT), and
    Setur, a travel agency (shbkukuk/turkish-bert-sentiment-analyzer, its
    ``complaint_answer_container`` field; no licence is stated with it, so it is only read,
    never redistributed).  Both reply fields also hold complainants' follow-ups
    (``not_brand``).

``cfpb_complaints/*.csv``
    US consumer complaints about financial products from the CFPB Consumer Complaint
    Database (a US government work, public domain), in the columns of the CFPB's own CSV
    export (``Consumer complaint narrative``, ``Product``, ``Issue``, ``Complaint ID``; a
    sample holding only some of them is read too).  Only complaints with a narrative are
    read; the CFPB's redactions ("XXXX", "XX/XX/XXXX") are kept as published.  Every one is a
    complaint a person filed, so none may be spam and each should be a complaint.  An operator
    can drop the CFPB's full download (``complaints.csv``) into the folder.

``load_kind_mix()`` derives a kind label from the sources' own labels (never from the rules):
complaint = a Şikayetvar bank complaint (tr) or an airline tweet with a named problem (en);
praise = a store review labelled ``Olumlu`` (tr) or an airline tweet labelled positive (en);
question = an airline tweet labelled neutral that ends in a question mark (en).

Every record carries a stable ``n`` (its position in the corpus); ``held_out(n)`` is true for
odd positions.  Rules are tuned on even positions only and reported on both.
"""

from __future__ import annotations

import csv
import hashlib
import itertools
import json
import os
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "AGENT_LABELS",
    "BANK_REPLY_LABELS",
    "BRAND_REPLY_LABELS",
    "Record",
    "airline_kind",
    "find_corpus",
    "held_out",
    "load_airline",
    "load_cfpb_complaints",
    "load_ibm_agent_replies",
    "load_ibm_customers",
    "load_kind_mix",
    "load_sikayetvar_bank_replies",
    "load_sikayetvar_banks",
    "load_sikayetvar_brand_replies",
    "load_turkish_store_reviews",
    "reply_template",
]

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
#: Hand labels of promise kinds for IBM agent replies, by tweet id (labels only, no text).
AGENT_LABELS = Path(__file__).resolve().parent / "data" / "ibm_agent_promise_labels.jsonl"
#: Hand labels of promise kinds for the banks' Şikayetvar replies, by reply template
#: (:func:`reply_template`; keys and labels only, no text).
BANK_REPLY_LABELS = (
    Path(__file__).resolve().parent / "data" / "sikayetvar_bank_promise_labels.jsonl"
)
#: The same for the other brands' Şikayetvar replies (Ziraat Bankası, Setur).
BRAND_REPLY_LABELS = (
    Path(__file__).resolve().parent / "data" / "sikayetvar_brand_promise_labels.jsonl"
)


@dataclass(frozen=True)
class Record:
    """One real message with whatever gold labels its corpus has."""

    n: int
    id: str
    text: str
    source: str
    labels: dict[str, str] = field(default_factory=dict)


def held_out(n: int) -> bool:
    """Return whether position ``n`` belongs to the held-out half (odd positions)."""
    return n % 2 == 1


def find_corpus(folder: str) -> Path | None:
    """Return the first existing ``folder`` under the shared data or ``SCRM_REAL_DATA`` roots."""
    roots = [SHARED] + [
        Path(p) for p in os.environ.get("SCRM_REAL_DATA", "").split(os.pathsep) if p
    ]
    for root in roots:
        if (root / folder).is_dir():
            return root / folder
    return None


def _ibm_conversations() -> Iterator[dict]:
    root = find_corpus("ibm_twitter_customer_care")
    if root is None:
        return
    for name in ("dev.json", "test.json"):
        yield from json.loads((root / name).read_text(encoding="utf-8"))


def load_ibm_customers() -> list[Record]:
    """Return every customer turn of the IBM conversations (empty when the corpus is absent)."""
    out: list[Record] = []
    for conv in _ibm_conversations():
        company = {"company": conv["dialogHeader"]["company"]}
        for turn in conv["dialogContent"]:
            if "client" in turn:
                out.append(
                    Record(len(out), turn["tweet_ID"], turn["message"], "ibm-customers", company)
                )
    return out


def load_ibm_agent_replies() -> list[Record]:
    """Return every agent reply of the IBM conversations, with hand labels where there are some.

    Labels (``promise`` "True"/"False" and ``kind``) come from :data:`AGENT_LABELS`.
    """
    labels: dict[str, dict[str, str]] = {}
    if AGENT_LABELS.exists():
        for line in AGENT_LABELS.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                labels[row["id"]] = {"kind": row["kind"], "promise": str(row["kind"] != "none")}
    out: list[Record] = []
    seen: set[str] = set()
    for conv in _ibm_conversations():
        turns = [t for t in conv["dialogContent"] if "agent" in t]
        last = conv["agentURL"]
        turns.append({"tweet_ID": last["tweet_ID"], "message": last["url_utterance"]})
        for turn in turns:
            if turn["tweet_ID"] in seen:
                continue
            seen.add(turn["tweet_ID"])
            rec = Record(len(out), turn["tweet_ID"], turn["message"], "ibm-agents")
            out.append(Record(rec.n, rec.id, rec.text, rec.source, labels.get(rec.id, {})))
    return out


#: The airline set's replacements of a customer's word by a label, undone (longest first).
_AIRLINE_EDITS = re.compile(r"Flight Booking Problems|Cancelled Flight|Late Flight")
_AIRLINE_WORDS = {"Flight Booking Problems": "booking", "Cancelled Flight": "cancel",
                  "Late Flight": "late"}  # fmt: skip


def unedit_airline(text: str) -> str:
    """Return an airline tweet as written: "Cancelled Flightled" -> "cancelled"."""
    return _AIRLINE_EDITS.sub(lambda m: _AIRLINE_WORDS[m.group()], text)


def load_airline() -> list[Record]:
    """Return the airline tweets with ``sentiment`` and ``reason`` labels (empty when absent)."""
    root = find_corpus("twitter_us_airline_sentiment")
    if root is None:
        return []
    out: list[Record] = []
    with (root / "Tweets.csv").open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            labels = {"sentiment": row["airline_sentiment"], "reason": row["negativereason"]}
            # The published CSV rounds tweet_id (5.70306E+17): the row number is the id.
            text = unedit_airline(row["text"])
            out.append(Record(len(out), f"row{len(out) + 2}", text, "airline", labels))
    return out


#: The store reviews' labels in the classifier's words.
_TR_SENTIMENT = {"Olumlu": "positive", "Olumsuz": "negative", "Tarafsız": "neutral"}


def load_turkish_store_reviews() -> list[Record]:
    """Return the Turkish store reviews with a ``sentiment`` label (empty when absent)."""
    root = find_corpus("turkish_store_reviews")
    if root is None:
        return []
    out: list[Record] = []
    with (root / "magaza_yorumlari_duygu_analizi.csv").open(encoding="utf-16", newline="") as fh:
        for line, row in enumerate(csv.reader(fh), 1):
            if len(row) >= 2 and row[-1] in _TR_SENTIMENT and row[0].strip():
                label = {"sentiment": _TR_SENTIMENT[row[-1]]}
                out.append(Record(len(out), f"row{line}", ",".join(row[:-1]), "tr-store", label))
    return out


def _sikayetvar_csv_rows(folder: str) -> Iterator[dict[str, str]]:
    """Yield the rows of every CSV in ``folder`` written by the Şikayetvar bank scraper (its
    columns: ``id``, ``operator``, ``title``, ``full_text``, ``company_reply``...)."""
    root = find_corpus(folder)
    if root is None:
        return
    for path in sorted(root.glob("*.csv")):
        with path.open(encoding="utf-8-sig", newline="") as fh:
            yield from csv.DictReader(fh)


def load_sikayetvar_banks() -> list[Record]:
    """Return the Turkish bank complaints (empty when absent): the text, and as labels the
    ``title`` (classified with the text, as an e-mail subject is), the ``bank``, its ``reply``
    and ``complaint`` "yes" (every one is a complaint)."""
    out: list[Record] = []
    for row in _sikayetvar_csv_rows("sikayetvar_banks"):
        body = (row.get("full_text") or "").strip()
        if not body:
            continue  # the scrape kept some complaints without their text
        labels = {"title": row.get("title") or "", "bank": row.get("operator") or "",
                  "reply": row.get("company_reply") or "", "complaint": "yes"}  # fmt: skip
        out.append(Record(len(out), row["id"], body, "tr-banks", labels))
    return out


#: How a CFPB column is named in one copy or another ("Consumer complaint narrative",
#: "Consumer_complaint_narrative", "consumer complaint narrative"): folded to one key.
_COLUMN_SPACE = re.compile(r"[\s_]+")


def _cfpb_rows(path: Path) -> Iterator[dict[str, str]]:
    """Yield the rows of one CFPB CSV with the column names folded (case, ``_`` for space)."""
    with path.open(encoding="utf-8-sig", newline="") as fh:
        for row in csv.DictReader(fh):
            yield {_COLUMN_SPACE.sub(" ", k.strip()).casefold(): v or ""
                   for k, v in row.items() if k is not None}  # fmt: skip


def load_cfpb_complaints() -> list[Record]:
    """Return the CFPB consumer complaints that have a narrative (empty when absent): the
    narrative as text, and as labels the ``product``, the ``issue`` and ``complaint`` "yes"
    (every one is a complaint).  Files are read in name order; a narrative already read (a
    consumer filing the same text twice, or a sample holding a complaint another sample
    holds) is read once.  The id is the ``Complaint ID``, or the file and row where a sample
    dropped that column."""
    root = find_corpus("cfpb_complaints")
    if root is None:
        return []
    out: list[Record] = []
    seen: set[str] = set()
    for path in sorted(root.glob("*.csv")):
        for number, row in enumerate(_cfpb_rows(path), 1):
            text = row.get("consumer complaint narrative", "").strip()
            if not text or text in seen:
                continue
            seen.add(text)
            rid = row.get("complaint id") or f"{path.stem}:row{number}"
            labels = {"product": row.get("product", ""), "issue": row.get("issue", ""),
                      "complaint": "yes"}  # fmt: skip
            out.append(Record(len(out), rid, text, "cfpb", labels))
    return out


#: Airline complaint reasons that name a problem ("Can't Tell" does not).
AIRLINE_PROBLEMS = frozenset(("Customer Service Issue", "Late Flight", "Cancelled Flight",
    "Lost Luggage", "Bad Flight", "Flight Booking Problems", "Flight Attendant Complaints",
    "longlines", "Damaged Luggage"))  # fmt: skip
#: What may follow a tweet's last sentence: links, mentions, hashtags, space.
_TRAILER = re.compile(r"(?:https?://\S+|[@#]\w+|\s)+$")


def airline_kind(rec: Record) -> str | None:
    """Return the kind an airline tweet's labels give it (``load_kind_mix``), or ``None``."""
    label = rec.labels["sentiment"]
    if label == "negative" and rec.labels["reason"] in AIRLINE_PROBLEMS:
        return "complaint"
    if label == "positive":
        return "praise"
    if label == "neutral" and _TRAILER.sub("", rec.text).endswith("?"):
        return "question"
    return None


def load_kind_mix() -> list[Record]:
    """Return real Turkish and English messages with a ``kind`` derived from their source's
    labels, and ``lang`` (empty when no source is found).

    complaint: every Şikayetvar bank complaint (read with its ``title``) and every airline
    tweet labelled negative with a named problem; praise: every store review labelled
    ``Olumlu`` and every airline tweet labelled positive; question: every airline tweet labelled
    neutral (the annotators saw no complaint) whose last sentence ends in "?".  Each record
    keeps its source's ``n``, so ``held_out`` splits the mix as it splits the sources.  Left
    out: negative tweets without a named problem, neutral statements, negative and neutral
    reviews (their kind is not in the label).  Turkish has no question source.
    """
    out: list[Record] = []
    for rec in load_sikayetvar_banks():
        out.append(Record(rec.n, f"bank-{rec.id}", rec.text, rec.source,
                          {"kind": "complaint", "lang": "tr", "title": rec.labels["title"]}))  # fmt: skip
    for rec in load_turkish_store_reviews():
        if rec.labels["sentiment"] == "positive":
            out.append(Record(rec.n, f"store-{rec.id}", rec.text, rec.source,
                              {"kind": "praise", "lang": "tr"}))  # fmt: skip
    for rec in load_airline():
        kind = airline_kind(rec)
        if kind is not None:
            out.append(Record(rec.n, f"air-{rec.id}", rec.text, rec.source,
                              {"kind": kind, "lang": "en"}))  # fmt: skip
    return out


#: The site's "read more" link, kept at the end of some scraped replies.
_READ_MORE = re.compile(r"\s*devamını gör\s*$")


def reply_template(text: str) -> str:
    """Return the key of the template a reply was written from: a hash of its words, folded
    (case, diacritics), with every number the same, so replies differing only in an amount, a
    date or a phone number share a key.  Stable across releases: it uses the standard library
    only, so the labels keyed by it do not move when scrm's own text folding changes."""
    folded = unicodedata.normalize("NFKD", _READ_MORE.sub("", text).casefold())
    folded = "".join(c for c in folded if not unicodedata.combining(c))
    words = re.findall(r"[^\W\d_]+|\d+", folded)
    shape = " ".join("#" if w[0].isdigit() else w for w in words)
    return hashlib.sha1(shape.encode("utf-8")).hexdigest()[:12]


def _template_kinds(path: Path) -> dict[str, str]:
    """Return the hand-given kind of each reply template in ``path`` (JSON lines)."""
    if not path.exists():
        return {}
    lines = path.read_text(encoding="utf-8").splitlines()
    rows = (json.loads(line) for line in lines if line.strip())
    return {row["template"]: row["kind"] for row in rows}


def _templated_replies(
    replies: Iterator[tuple[str, str, str]], kinds: dict[str, str], source: str
) -> list[Record]:
    """Number (``id``, ``brand``, reply text) triples among themselves, labelled by template:
    ``template`` (:func:`reply_template`), ``brand``, and where the template has a hand label
    its ``kind`` with ``promise`` "True"/"False".  Empty replies are skipped."""
    out: list[Record] = []
    for rid, brand, reply in replies:
        text = _READ_MORE.sub("", reply).strip()
        if not text:
            continue
        key = reply_template(text)
        found = {"template": key, "brand": brand}
        if key in kinds:
            found |= {"kind": kinds[key], "promise": str(kinds[key] not in ("none", "not_brand"))}
        out.append(Record(len(out), rid, text, source, found))
    return out


def load_sikayetvar_bank_replies() -> list[Record]:
    """Return every non-empty reply of the Şikayetvar bank complaints (empty when absent), by
    the complaint's id, numbered among the replies (for :func:`held_out`).

    Labels: ``template`` (:func:`reply_template`), ``brand`` (the bank), and from
    :data:`BANK_REPLY_LABELS` the ``kind`` of its template, with ``promise`` "True"/"False".
    ``kind`` "not_brand" marks a reply column holding the complainant's own follow-up (the
    scrape took it for İş Bankası's reply): not the brand speaking, so not scored.
    """
    replies = ((r.id, r.labels["bank"], r.labels["reply"]) for r in load_sikayetvar_banks())
    return _templated_replies(replies, _template_kinds(BANK_REPLY_LABELS), "tr-bank-replies")


def _setur_replies() -> Iterator[tuple[str, str, str]]:
    root = find_corpus("sikayetvar_setur")
    if root is None:
        return
    for path in sorted(root.glob("*.json")):
        for row in json.loads(path.read_text(encoding="utf-8")):
            yield row["id"], "Setur", row.get("complaint_answer_container") or ""


def load_sikayetvar_brand_replies() -> list[Record]:
    """Return the other brands' replies to Şikayetvar complaints (empty when absent): Ziraat
    Bankası's (``sikayetvar_ziraat``), then Setur's (``sikayetvar_setur``), numbered among
    themselves, labelled as :func:`load_sikayetvar_bank_replies` labels the banks' (kinds
    from :data:`BRAND_REPLY_LABELS`).  These brands' templates were not seen when the
    promise rules were written for the banks' replies."""
    ziraat = ((row["id"], row.get("operator") or "", row.get("company_reply") or "")
              for row in _sikayetvar_csv_rows("sikayetvar_ziraat"))  # fmt: skip
    replies = itertools.chain(ziraat, _setur_replies())
    return _templated_replies(replies, _template_kinds(BRAND_REPLY_LABELS), "tr-brand-replies")
