"""Turn e-mail bodies into the text an agent reads: HTML reduced, quotes and signatures split off.

Everything here is pure string work on already decoded text; MIME and charsets are handled
in :mod:`scrm_email.parse`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser

__all__ = [
    "SplitBody",
    "fold",
    "html_to_text",
    "normalise_newlines",
    "repair_mojibake",
    "split_reply",
    "unflow",
]

# -- Turkish-safe matching ---------------------------------------------------------------


def fold(value: str) -> str:
    """Return ``value`` lower-cased so that Turkish and English spellings compare equal.

    ``str.lower()`` turns "I" into "i" and "İ" into "i̇", which breaks keyword matching on
    Turkish text; every i-like letter is folded to a plain "i" instead.
    """
    for ch in "İIı":
        value = value.replace(ch, "i")
    return value.lower().replace("i\u0307", "i")


# -- charset repair --------------------------------------------------------------------------

_MOJIBAKE = frozenset("ðýþÐÝÞ")
_TURKISH_ONLY = frozenset("ğışĞİŞ")


def repair_mojibake(text: str) -> str:
    """Undo windows-1254 text that was decoded as Latin-1 or windows-1252.

    "Þikayetim" becomes "Şikayetim".  Applied only when the text has the tell-tale letters
    (ð ý þ Ð Ý Þ) and none of the Turkish letters they stand for, so correct text is left
    alone.
    """
    if not any(c in _MOJIBAKE for c in text) or any(c in _TURKISH_ONLY for c in text):
        return text
    for codec in ("latin-1", "cp1252"):
        try:
            return text.encode(codec).decode("cp1254")
        except UnicodeError:
            continue
    return text


# -- plain text ------------------------------------------------------------------------------


def normalise_newlines(text: str) -> str:
    """Return ``text`` with CRLF and CR line ends turned into LF."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def unflow(text: str, *, delsp: bool = False) -> str:
    """Join the soft line breaks of ``format=flowed`` text (RFC 3676)."""
    out: list[str] = []
    buf = ""
    for line in text.split("\n"):
        if line != "-- " and line.endswith(" "):
            buf += line[:-1] if delsp else line
            continue
        out.append(buf + line)
        buf = ""
    if buf:
        out.append(buf)
    return "\n".join(out)


# -- HTML ------------------------------------------------------------------------------------

_BLOCK = frozenset(
    [
        "address",
        "article",
        "aside",
        "blockquote",
        "br",
        "dd",
        "div",
        "dl",
        "dt",
        "figcaption",
        "footer",
        "form",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hr",
        "li",
        "main",
        "nav",
        "ol",
        "p",
        "pre",
        "section",
        "table",
        "tbody",
        "td",
        "tfoot",
        "th",
        "thead",
        "tr",
        "ul",
    ]
)
_SKIP = frozenset(["head", "script", "style", "title", "template"])


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self.current: list[str] = []
        self.skip = 0
        self.quote = 0
        self.pre = 0

    def _break(self) -> None:
        line = "".join(self.current)
        if not self.pre:
            line = re.sub(r"[ \t\u00a0]+", " ", line).strip()
        prefix = "> " * self.quote
        self.lines.append((prefix + line).rstrip() if line else prefix.rstrip())
        self.current = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self.skip += 1
        elif tag in _BLOCK:
            if self.current or tag in ("br", "p"):
                self._break()
            if tag == "blockquote":
                self.quote += 1
            elif tag == "pre":
                self.pre += 1
            elif tag == "li":
                self.current.append("- ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("br", "hr"):
            self._break()

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self.skip = max(0, self.skip - 1)
        elif tag in _BLOCK:
            if self.current:
                self._break()
            if tag == "blockquote":
                self.quote = max(0, self.quote - 1)
            elif tag == "pre":
                self.pre = max(0, self.pre - 1)
            elif tag == "p":
                self.lines.append("")

    def handle_data(self, data: str) -> None:
        if self.skip:
            return
        if self.pre:
            parts = data.split("\n")
            for part in parts[:-1]:
                self.current.append(part)
                self._break()
            self.current.append(parts[-1])
        else:
            self.current.append(data.replace("\n", " "))


def html_to_text(html: str) -> str:
    """Reduce an HTML body to readable plain text; ``<blockquote>`` becomes ``>`` quoting."""
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    if parser.current:
        parser._break()
    text = "\n".join(parser.lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip("\n")


# -- quotes and signatures -------------------------------------------------------------------


@dataclass(frozen=True)
class SplitBody:
    """A body cut into what the sender wrote now, what they quoted, and their signature."""

    new: str
    quoted: str
    signature: str


_SEPARATOR = re.compile(
    r"^\s*-{2,}\s*(original message|forwarded message|orijinal (ileti|mesaj)|özgün ileti|"
    r"iletilen (ileti|mesaj)|ursprüngliche nachricht)\s*-{2,}\s*$",
    re.IGNORECASE,
)
# No "\s*" in front of ".+": on a line of blanks the two would share the blanks in every way
# there is (quadratic); ".+" takes leading blanks itself, and lines hold no newline.
_ATTRIBUTION = re.compile(
    r"^(?:\s*(?:on|le|am|el)\s.+(?:wrote|a écrit|schrieb|escribió)|.+\s(?:yazdı|şunu yazdı))\s*:\s*$",
    re.IGNORECASE,
)
_HEADER_BLOCK_START = re.compile(r"^\s*\*?(from|kimden|gönderen)\s*:\*?\s", re.IGNORECASE)
_HEADER_BLOCK_NEXT = re.compile(
    r"^\s*\*?(sent|date|to|subject|gönderildi|tarih|kime|konu)\s*:", re.IGNORECASE
)
_MOBILE_FOOTER = re.compile(
    r"^(?:\s*(?:sent from my .+|get outlook for .+|(?:iphone|ipad|android|samsung|mobil|"
    r"cep telefonu|telefon|cihaz)[\w']*?(?:dan|den|tan|ten) gönderildi)|.+ için outlook'?u edinin)\s*$",
    re.IGNORECASE,
)


def _quote_start(lines: list[str]) -> int | None:
    for i, line in enumerate(lines):
        if _SEPARATOR.match(line):
            return i
        if _ATTRIBUTION.match(line) or (
            i + 1 < len(lines)
            and lines[i + 1].strip()
            and _ATTRIBUTION.match(line.rstrip() + " " + lines[i + 1].strip())
            and not line.lstrip().startswith(">")
        ):
            return i
        if _HEADER_BLOCK_START.match(line):
            following = [ln for ln in lines[i + 1 : i + 5] if ln.strip()]
            if sum(bool(_HEADER_BLOCK_NEXT.match(ln)) for ln in following) >= 2:
                start = i
                if (
                    start
                    and set(lines[start - 1].strip()) <= {"_", "-"}
                    and lines[start - 1].strip()
                ):
                    start -= 1
                return start
    return None


def _trim(lines: list[str]) -> str:
    return "\n".join(lines).strip("\n")


def split_reply(text: str) -> SplitBody:
    """Split ``text`` into the new part, the quoted previous messages and the signature.

    A quote starts at an attribution line ("On ... wrote:", "... tarihinde ... yazdı:"), an
    "Original Message" separator or an Outlook header block; a signature starts at the
    RFC 3676 delimiter ``-- `` or is a trailing "Sent from my phone" line.  A ``>`` quote
    with no attribution is kept in the new text: the customer quoted it on purpose.
    """
    lines = text.split("\n")
    start = _quote_start(lines)
    quoted = ""
    if start is not None:
        quoted = _trim(lines[start:])
        lines = lines[:start]
    signature = ""
    for i in range(len(lines) - 1, -1, -1):
        if lines[i] in ("-- ", "--"):
            signature = _trim(lines[i + 1 :])
            lines = lines[:i]
            break
    body = list(lines)
    while body and not body[-1].strip():
        body.pop()
    if len(body) > 1 and len(body[-1]) < 60 and _MOBILE_FOOTER.match(body[-1]):
        signature = _trim([body.pop(), *([signature] if signature else [])])
    return SplitBody(new=_trim(body), quoted=quoted, signature=signature)
