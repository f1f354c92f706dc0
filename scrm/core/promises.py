"""Detect promised follow-ups in a brand's outgoing replies (Turkish and English).

The failure scrm exists to catch is the templated "please DM us your details" reply that is
never followed up. :func:`detect_promise` reads one outgoing reply and says whether it
commits the brand to a next step, which kind, and by when:

``contact_request``
    The brand asks the customer to move to a private channel or to send identifying details
    (DM, private message, e-mail, a ticket form, the call centre "so we can help", an order
    or account number). Nothing can happen until the customer answers, and when they do the
    brand owes a reply.
``investigating``
    The brand says it is looking into it, or forwarded/escalated/logged it
    ("talebiniz ilgili birime iletilmiştir", "we're looking into this").
``callback``
    The brand promises to contact the customer ("size ulaşacağız", "we'll get back to you").

Precedence when several apply: ``contact_request > investigating > callback``. The kind names
the step of the loop that is pending first. A contact request blocks everything else (the
case waits for the customer, and the clock restarts when their DM arrives). "We forwarded it
and will get back to you" is an investigation whose follow-up is the *result*, so it stays
``investigating``: a later "still checking" contact must not silently discharge it, and
"stuck in investigation" is a failure of its own. A bare callback is fulfilled by any contact.

Not promises: thanks, answers that solve or inform, apologies, marketing, past tense
("we called you yesterday"), negated forms ("we cannot call you"), offers conditional on the
answer failing ("if the issue persists, DM us"), standing offers of the channels for any later
message ("şikayet, öneri ve taleplerinizi ... şubelerimizden de iletebilirsiniz") and
passed-on *feedback* ("we've shared your suggestion with the team").

``due`` is the shortest explicit duration in a sentence that carries a promise: "within 24
hours" → 24 h, "2 iş günü içinde" → 2 days (business days are counted as calendar days; the
SLA layer may apply a business calendar), "bugün"/"today"/"end of day" → 8 h, "yarın"/
"tomorrow" → 1 day, "next week" → 7 days. Ranges take the upper bound ("24-48 saat" → 48 h).
Vague ("en kısa sürede", "asap", "shortly", "a few days") gives ``None``: the SLA default
applies. ``language`` is advisory: both rule sets always run, because brands mix languages.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from datetime import timedelta
from enum import StrEnum
from importlib import resources
from typing import Any

from pydantic import BaseModel, ConfigDict

from scrm.core.linejobs import TextJob, run_lines
from scrm.core.text import casefold_tr, fold_diacritics

__all__ = [
    "Promise",
    "PromiseKind",
    "detect_promise",
    "format_duration",
    "parse_duration",
    "run_detect",
]


class PromiseKind(StrEnum):
    """What the brand committed to; see the module docstring for precedence."""

    contact_request = "contact_request"
    callback = "callback"
    investigating = "investigating"
    none = "none"


class Promise(BaseModel):
    """The promise found in one outgoing reply."""

    model_config = ConfigDict(frozen=True)

    promise: bool
    kind: PromiseKind
    due: timedelta | None = None
    evidence: str | None = None
    #: ``due`` in the unit the brand used: "24 saat" is ``PT24H`` and "yarın" is ``P1D``,
    #: although both are the same timedelta. ``run_detect`` reports this form.
    due_iso: str | None = None


_NO_PROMISE = Promise(promise=False, kind=PromiseKind.none)


def _load_patterns() -> dict[str, re.Pattern[str]]:
    """Compile the phrase patterns in ``data/promise_patterns.txt`` (one alternative a line)."""
    text = resources.files("scrm.core").joinpath("data/promise_patterns.txt").read_text("utf-8")
    sections: dict[str, list[str]] = {}
    current: list[str] = []
    for line in map(str.strip, text.splitlines()):
        header = re.fullmatch(r"\[([a-z_]+)\]", line)
        if header:
            current = sections.setdefault(header.group(1), [])
        elif line and not line.startswith("#"):
            current.append(line)
    return {
        name: re.compile("|".join(f"(?:{alt})" for alt in alts)) for name, alts in sections.items()
    }


_P = _load_patterns()
_NEG_EN, _COND_EN, _COND_TR, _COND_BRAND = (
    _P["neg_en"],
    _P["cond_en"],
    _P["cond_tr"],
    _P["cond_brand"],
)
_FEEDBACK, _PURPOSE, _REQ_EN, _REQ_TR = _P["feedback"], _P["purpose"], _P["req_en"], _P["req_tr"]
_PRIVATE, _DETAIL, _CHANNEL, _CONTACT = _P["private"], _P["detail"], _P["channel"], _P["contact"]
_VIA_PRIVATE, _INVESTIGATING, _CALLBACK = _P["via_private"], _P["investigating"], _P["callback"]
_DONT_SHARE = _P["dont_share"]

_DIGITS = {"bir": 1, "iki": 2, "uc": 3, "dort": 4, "bes": 5, "alti": 6, "yedi": 7, "sekiz": 8}
_DIGITS |= {"dokuz": 9, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7}
_DIGITS |= {"eight": 8, "nine": 9}
_TENS = {"on": 10, "yirmi": 20, "otuz": 30, "kirk": 40, "elli": 50, "altmis": 60, "yetmis": 70}
_TENS |= {
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fourty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
}
_WORDS = {
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "fifteen": 15,
    "a": 1,
    "an": 1,
    "couple": 2,
} | _DIGITS
_NUM = (
    r"\d+(?:[.,]5)?|(?:" + "|".join(_TENS) + r")(?:[\s-]?(?:" + "|".join(_DIGITS) + r"))?"
    r"|(?:a\s+)?couple(?:\s+of)?|" + "|".join(sorted(_WORDS, key=len, reverse=True))
)
_UNIT = (
    r"(?P<u>saat\w*|sa\b|dakika\w*|dk\b|is\s?gun\w*|gun\w*|hafta\w*|hours?|hrs?|h\b|minutes?|mins?"
    r"|(?:business|working)\s+days?|days?|d\b|weeks?|wks?|w\b)"
)
_SPAN = rf"(?P<a>{_NUM})(?:\s*(?:-|–|to|or|ile|ila|veya)\s*(?P<b>{_NUM}))?\s*{_UNIT}"
_DUE_TR = re.compile(
    rf"\b{_SPAN}\s+(?:icinde|icerisinde|zarfinda|dahilinde|suresince|sonra|kadar)\b"
)
_DUE_TR_LATEST = re.compile(rf"\ben\s+gec\s+{_SPAN}")
_DUE_EN = re.compile(rf"\b(?:within|in|next|up\s+to|under|by)\s+(?:the\s+)?(?:next\s+)?(?:about\s+|around\s+"
                     rf"|approximately\s+|less\s+than\s+)?{_SPAN}")  # fmt: skip
_RELATIVE = (
    (re.compile(r"\byarim\s+saat|\bhalf\s+an?\s+hour"), timedelta(minutes=30)),
    (re.compile(r"\b(?:next|the)\s+hour\b"), timedelta(hours=1)),
    (
        re.compile(
            r"\b(?:bugun|today|tonight|eod|cob|end\s+of\s+(?:the\s+)?(?:day|business)|close\s+of\s+business"
            r"|this\s+(?:afternoon|evening|morning)|gun\s+(?:icinde|sonuna)|aksama\s+kadar|mesai\s+bitim\w*)\b"
        ),
        timedelta(hours=8),
    ),
    (
        re.compile(
            r"\b(?:yarin|tomorrow|next\s+(?:business|working)\s+day|ertesi\s+(?:is\s+)?gun\w*)\b"
        ),
        timedelta(days=1),
    ),
    (
        re.compile(r"\b(?:next\s+week|onumuzdeki\s+hafta|gelecek\s+hafta|haftaya)\b"),
        timedelta(days=7),
    ),
)

# Linear on hostile text ("a.a.a.", "a@a@a@"): a match starts only at the first word of a run
# (a later start would also match from there), and is bounded like a real address (a local part
# of 64, ten labels of 63), so the work from each start is bounded.
_URL = re.compile(
    r"(?:https?://|www\.)\S+"
    r"|\b(?<!\w[.-])\w[\w-]{0,62}(?:\.[\w-]{1,63}){0,9}\.(?:com|net|org|io|ly|co|tr|be|me)(?:/\S*)?"
)
_EMAIL = re.compile(r"\b(?<!\w[.+-])\w[\w.+-]{0,63}@[\w-]{1,63}(?:\.[\w-]{1,63}){1,9}")
_MENTION = re.compile(r"(?<!\w)@\w+")
_ABBREV = re.compile(r"\b(sa|no|nr|vb|vs|mr|mrs|ms|dr|st|bkz|a\.m|p\.m)\.")
# "^[^\S\n]*>", not "^\s*>": from every line start of a run of blank lines, \s* would scan the
# whole run again. The quote found is the same; only the blank lines before it stay in.
_QUOTE_CUT = re.compile(
    r"^[^\S\n]*>|^-{2,}\s*original message|^on .{3,80} wrote:\s*$|tarihinde .{0,80} yazdi:\s*$",
    re.MULTILINE,
)
# The lookbehinds and the bound keep a long run of punctuation or blanks from being scanned again
# from each of its characters (a run is tried from its start, and after each newline, which "\n+"
# may have taken alone); the sentences are the same, but for blanks over 64 before a dash.
_SENTENCE = re.compile(
    r"(?<=[.!?;])\s+|\n+|(?<![.!?;])[.!?;]+$|(?<![^\S\n])\s{1,64}[-–—]\s+"
    r"|,\s+(?:but|ancak|ama|fakat)\s+"
)


def _pad(m: re.Match[str], tag: str) -> str:
    return (
        tag.ljust(len(m.group()))[: len(m.group())]
        if len(m.group()) >= len(tag)
        else " " * len(m.group())
    )


def _normalize(s: str) -> str:
    """Prepare folded text for matching without changing the offset of anything kept."""
    quote = _QUOTE_CUT.search(s)
    if quote:  # an e-mail reply: the quoted customer message below is not the brand speaking
        s = s[: quote.start()]
    s = _EMAIL.sub(lambda m: _pad(m, "emailx "), s)
    s = _URL.sub(lambda m: _pad(m, "urlx "), s)
    s = _MENTION.sub(lambda m: " " * len(m.group()), s)
    return _ABBREV.sub(lambda m: m.group(1).replace(".", " ") + " ", s)


def _sentences(s: str) -> list[tuple[int, str]]:
    out, start = [], 0
    for m in _SENTENCE.finditer(s):
        if m.start() > start:
            out.append((start, s[start : m.start()]))
        start = m.end()
    if start < len(s):
        out.append((start, s[start:]))
    return out


def _negated(sent: str, start: int, end: int) -> bool:
    window = " ".join(sent[:start].split()[-5:]) + " " + sent[start:end]
    return bool(_NEG_EN.search(window))


def _find(rx: re.Pattern[str], sent: str) -> re.Match[str] | None:
    for m in rx.finditer(sent):
        if not _negated(sent, m.start(), m.end()):
            return m
    return None


def _blank(sent: str, m: re.Match[str]) -> str:
    return sent[: m.start()] + " " * (m.end() - m.start()) + sent[m.end() :]


def _requested(sent: str) -> bool:
    if _DONT_SHARE.search(sent):
        return False
    return bool(_REQ_EN.search(sent) or _REQ_TR.search(sent))


def _classify(sent: str) -> tuple[PromiseKind, re.Match[str]] | None:
    """Return the highest-precedence kind one sentence commits to, with its match."""
    detail = _find(_DETAIL, sent)
    if detail and _requested(_blank(sent, detail)):
        return PromiseKind.contact_request, detail
    if not (_COND_EN.search(sent) or _COND_TR.search(sent)):
        m = _find(_CONTACT, sent)
        if m:
            return PromiseKind.contact_request, m
        m = _find(_VIA_PRIVATE, sent)
        if m and _REQ_EN.search(_blank(sent, m)) and not _find(_CALLBACK, sent):
            return PromiseKind.contact_request, m
        m = _find(_CHANNEL, sent)
        if m and (_PURPOSE.search(sent) or _requested(_blank(sent, m))):
            return PromiseKind.contact_request, m
        m = _find(_PRIVATE, sent)
        if m and _REQ_TR.search(sent):
            return PromiseKind.contact_request, m
    if _COND_BRAND.search(sent):
        return None
    callback = _find(_CALLBACK, sent)
    m = _find(_INVESTIGATING, sent)
    if m and (callback or not _FEEDBACK.search(sent)):
        return PromiseKind.investigating, m
    return (PromiseKind.callback, callback) if callback else None


_RANK = {PromiseKind.contact_request: 0, PromiseKind.investigating: 1, PromiseKind.callback: 2}


def _number(word: str) -> float:
    words = word.replace("-", " ").split()
    if words[0][0].isdigit():
        return float(words[0].replace(",", "."))
    if words[0] in _TENS:
        return _TENS[words[0]] + (_DIGITS.get(words[1], 0) if len(words) > 1 else 0)
    return _WORDS.get(words[-1] if words[-1] != "of" else "couple", 0)


def _span(n: float, unit: str) -> tuple[timedelta, str]:
    """Return ``n`` units as a timedelta and as ISO 8601 in the same unit (weeks as days)."""
    if unit.startswith(("dk", "dakika", "min")):
        td = timedelta(minutes=n)
        return td, f"PT{td // timedelta(minutes=1)}M" if n == int(n) else format_duration(td)
    if unit in ("sa", "h") or unit.startswith(("saat", "hour", "hr")):
        td = timedelta(hours=n)
        return td, f"PT{int(n)}H" if n == int(n) else f"PT{int(n)}H{int(td.seconds % 3600 // 60)}M"
    td = timedelta(days=n * 7 if unit == "w" or unit.startswith(("hafta", "week", "wk")) else n)
    return td, f"P{td.days}D" if not td.seconds else format_duration(td)


def _durations(sent: str) -> list[tuple[timedelta, str]]:
    found: list[tuple[timedelta, str]] = []
    taken: list[tuple[int, int]] = []
    for rx in (_DUE_TR, _DUE_TR_LATEST, _DUE_EN):
        for m in rx.finditer(sent):
            found.append(_span(_number(m.group("b") or m.group("a")), m.group("u")))
            taken.append(m.span())
    for rx, size in _RELATIVE:
        for m in rx.finditer(sent):
            if not any(s <= m.start() < e for s, e in taken):
                found.append((size, format_duration(size)))
    return [d for d in found if d[0] > timedelta(0)]


def detect_promise(text: str, language: str | None = None) -> Promise:
    """Detect whether an outgoing reply promises a follow-up, which kind, and by when.

    :param text: the brand's reply as sent (tweet, comment or e-mail body).
    :param language: ``"tr"``, ``"en"`` or ``None``; advisory, both rule sets always run.
    :returns: a :class:`Promise`; ``promise`` is false and ``kind`` is ``none`` when nothing
        is pending on the brand's or the customer's side.
    """
    del language  # advisory; kept for a future language-specific rule set
    folded = fold_diacritics(casefold_tr(text))
    aligned = len(folded) == len(text)  # then a span in the folded text is a span in text
    norm = _normalize(folded)
    best: tuple[PromiseKind, str] | None = None
    dues: list[tuple[timedelta, str]] = []
    for offset, sent in _sentences(norm):
        hit = _classify(sent)
        if hit is None:
            continue
        kind, m = hit
        dues.extend(_durations(sent))
        phrase = text[offset + m.start() : offset + m.end()] if aligned else m.group()
        if best is None or _RANK[kind] < _RANK[best[0]]:
            best = (kind, phrase.strip())
    if best is None:
        return _NO_PROMISE
    due, iso = min(dues) if dues else (None, None)
    return Promise(promise=True, kind=best[0], due=due, evidence=best[1], due_iso=iso)


_ISO = re.compile(
    r"P(?!$)(?:(?P<w>\d+)W)?(?:(?P<d>\d+)D)?(?:T(?=\d)(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?",
    re.IGNORECASE,
)
# Each part owns the blanks after it: adjacent optional "\s*" would give blanks many parses.
_SHORT = re.compile(r"(?:(?P<w>\d+)\s*w\s*)?(?:(?P<d>\d+)\s*d\s*)?(?:(?P<h>\d+)\s*h\s*)?(?:(?P<m>\d+)\s*m\s*)?"
                    r"(?:(?P<s>\d+(?:\.\d+)?)\s*s)?", re.IGNORECASE)  # fmt: skip


def format_duration(td: timedelta) -> str:
    """Format a non-negative duration as ISO 8601 (``PT4H``, ``P2D``, ``PT30M``, ``P1DT12H``)."""
    if td < timedelta(0):
        raise ValueError(f"duration must not be negative, got {td}")
    seconds, micro = td.seconds, td.microseconds
    time = ""
    if seconds // 3600:
        time += f"{seconds // 3600}H"
    if seconds % 3600 // 60:
        time += f"{seconds % 3600 // 60}M"
    if seconds % 60 or micro:
        time += f"{seconds % 60}.{micro:06d}".rstrip("0").rstrip(".") + "S"
    out = "P" + (f"{td.days}D" if td.days else "") + (f"T{time}" if time else "")
    return out if out != "P" else "PT0S"


def parse_duration(s: str) -> timedelta:
    """Parse an ISO 8601 duration (``PT4H``, ``P1DT12H``) or a short form (``4h``, ``30m``, ``2d``, ``1w``).

    :raises ValueError: when ``s`` is neither; years and months are refused (no fixed length).
    """
    raw = s.strip()
    if len(raw) > 64:  # the patterns are then matched on bounded input, whatever it is
        raise ValueError(f"invalid duration {s[:20]!r}...: at most 64 characters")
    m = _ISO.fullmatch(raw) if raw[:1] in "pP" else _SHORT.fullmatch(raw)
    if not raw or m is None or not any(m.groupdict().values()):
        raise ValueError(
            f"invalid duration {s!r}: use ISO 8601 like 'PT4H', 'P2D', 'P1DT12H' or a short form like "
            "'4h', '30m', '2d', '1w' (years and months are not supported)"
        )
    g = {k: float(v) if v else 0.0 for k, v in m.groupdict().items()}
    return timedelta(weeks=g["w"], days=g["d"], hours=g["h"], minutes=g["m"], seconds=g["s"])


def run_detect(lines: Iterable[str]) -> Iterator[dict[str, Any]]:
    """Yield one result per input line, in order: the ``scrm promises detect`` contract.

    A good line ``{"id", "text", "lang"?}`` gives ``{"id", "promise", "kind", "due"}`` (``due``
    an ISO 8601 duration or null); a bad one an error object at its position (see
    :mod:`scrm.core.linejobs`).
    """

    def handle(job: TextJob) -> dict[str, Any]:
        p = detect_promise(job.text, job.lang)
        return {"promise": p.promise, "kind": p.kind.value, "due": p.due_iso}

    return run_lines(lines, handle)
