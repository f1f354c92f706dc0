"""Turkish-aware text utilities: case folding, diacritics, normalisation, tokens, name similarity.

Python's ``str.lower`` is wrong for Turkish (``"I".lower()`` is ``"i"``, not ``"ı"``, and
``"İ".lower()`` is ``"i̇"`` with a combining dot), and customers often type without Turkish
letters ("sikayetciyim", "musteri hizmetleri").  Everything that compares words (the
classifier's lexicons, the duplicate-customer finder) goes through :func:`normalize`, which
maps both spellings to the same ASCII-ish form.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from difflib import SequenceMatcher

__all__ = [
    "casefold_tr",
    "find_urls",
    "fold_diacritics",
    "name_similarity",
    "normalize",
    "tokenize",
]

_TR_UPPER = str.maketrans({"I": "ı", "İ": "i"})
_FOLD = str.maketrans(
    {
        "ç": "c",
        "ğ": "g",
        "ı": "i",
        "ö": "o",
        "ş": "s",
        "ü": "u",
        "â": "a",
        "î": "i",
        "û": "u",
        "Ç": "C",
        "Ğ": "G",
        "İ": "I",
        "Ö": "O",
        "Ş": "S",
        "Ü": "U",
        "Â": "A",
        "Î": "I",
        "Û": "U",
        "’": "'",
        "‘": "'",
        "`": "'",
    }
)
# Letters (not digits: "100000" is a number, not an elongation) repeated three times or more.
_REPEAT_RE = re.compile(r"([^\W\d_])\1{2,}")
# Linear on hostile text ("a.a.a.", "a-a-a-"): a bare domain starts only at the first word of a
# dotted run (a match from a later word would also match from the first), and is at most ten
# labels of at most 63 characters (RFC 1035), so the work from each start is bounded.  Its
# top-level domain is written in lower or upper case: "önermiyorum.Biz yandık" is two sentences
# run together ("Biz", "Me", "Co" start one), not a link.
_TLDS = "com|net|org|io|ly|co|tr|xyz|win|info|biz|me"
_URL_RE = re.compile(
    r"(?:https?://|www\.)\S+|\b(?<!\w[.-])\w[\w-]{0,62}(?:\.[\w-]{1,63}){0,9}"
    rf"\.(?-i:{_TLDS}|{_TLDS.upper()})(?:/\S*)?\b",
    re.IGNORECASE,
)
_EMOJI = (
    "\U0001f000-\U0001f3fa\U0001f400-\U0001faff\u2600-\u27bf\u2300-\u23ff"
    "\u2b00-\u2bff\u2190-\u21ff\u3030\u303d\u3297\u3299"
)
# Order matters: URLs are removed before this runs; emoticons before words.
_TOKEN_RE = re.compile(
    r"(?P<emoticon>(?<![\w:])(?:[:;=8][-']?[)(/\\|dDpPoO3\]\[*]+|<3|[xX][dD]\b|:'\())"
    r"|(?P<hashtag>#[^\W_][\w]*)"
    r"|(?P<mention>@\w+)"
    r"|(?P<word>[^\W_]+(?:'[^\W_]+)*)"
    rf"|(?P<emoji>[{_EMOJI}])"
    # The end of a sentence or a clause, but not the point of a number ("3. kez", "4.5").
    r"|(?P<stop>[!?;]+|(?<!\d)\.[.!?]*)"
)
#: The token :func:`tokenize` gives for the end of a sentence when asked for boundaries.
BOUNDARY = "."
_CAMEL_RE = re.compile(r"[A-ZÇĞİÖŞÜ]+(?![a-zçğıöşü])|[A-ZÇĞİÖŞÜ]?[a-zçğıöşü]+|\d+")
# English contractions stay one token ("can't"); other apostrophes are Turkish case endings
# after a proper noun ("BTK'ya", "order'ım") and are cut off.
_EN_CLITICS = frozenset({"t", "s", "re", "ve", "ll", "d", "m"})
_WORD_CACHE: dict[str, str] = {}


def casefold_tr(s: str) -> str:
    """Lower-case ``s`` the Turkish way: ``I`` becomes ``ı`` and ``İ`` becomes ``i``, then casefold."""
    return s.translate(_TR_UPPER).casefold()


def fold_diacritics(s: str) -> str:
    """Replace Turkish letters by their ASCII base (ç→c, ğ→g, ı→i, ö→o, ş→s, ü→u, â→a) and drop other accents."""
    if s.isascii():
        return s
    s = s.translate(_FOLD)
    if s.isascii():
        return s
    decomposed = unicodedata.normalize("NFD", s)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def normalize(s: str) -> str:
    """Return the comparison form of ``s``: Turkish casefold, no diacritics, no elongation, single spaces.

    Letters repeated three or more times are squeezed to one ("berbaaaat" → "berbat",
    "soooo" → "so"); legitimate doubles ("memnun", "dikkat", "good") are kept.
    """
    s = fold_diacritics(casefold_tr(s))
    s = _REPEAT_RE.sub(r"\1", s)
    return " ".join(s.split())


def find_urls(s: str) -> list[str]:
    """Return the URLs and bare domains (``bit.ly/x``, ``www.x.com``) found in ``s``."""
    return _URL_RE.findall(s)


def _split_hashtag(tag: str, split_words: Callable[[str], Sequence[str]] | None) -> list[str]:
    parts = _CAMEL_RE.findall(tag)
    if len(parts) > 1:
        return [normalize(p) for p in parts]
    if split_words is not None:
        return [normalize(p) for p in split_words(tag)]
    return [normalize(tag)]


def tokenize(
    s: str, *, boundaries: bool = False, split_words: Callable[[str], Sequence[str]] | None = None
) -> list[str]:
    """Split ``s`` into normalised tokens.

    Words are normalised with :func:`normalize`; hashtags are split on camel case
    (``#KargoRezaleti`` → ``kargo``, ``rezaleti``); mentions stay whole (``@acme``); emoji
    (``😡``) and emoticons (``:)``, ``:(``, ``:/``) are tokens of their own; URLs are dropped.
    With ``boundaries``, the end of each sentence or clause (``.``, ``!``, ``?``, ``;``) is
    the token :data:`BOUNDARY`, so that what reads words in order (a negation's reach, a
    phrase) can stop there; so is the end of a hashtag of several words (``#NotHappy``).  A
    one-word sentence is emphasis ("Never. Flying. You. Again."), not a boundary.
    ``split_words`` splits a hashtag written in one case into its words (``#nothelpful``):
    it gets the hashtag without ``#`` and returns its words.
    """
    if not s:
        return []
    s = _URL_RE.sub(" ", s).translate(_FOLD_QUOTES)
    out: list[str] = []
    append = out.append
    start = 0  # len(out) at the last end of a sentence
    for m in _TOKEN_RE.finditer(s):
        kind = m.lastgroup
        text = m.group()
        if kind == "word":
            word = _WORD_CACHE.get(text)
            if word is None:
                word = text
                if "'" in word:
                    head, _, tail = word.partition("'")
                    if tail.lower() not in _EN_CLITICS:
                        word = head
                word = normalize(word)
                if len(_WORD_CACHE) >= 100_000:
                    _WORD_CACHE.clear()  # bounded memory on endless streams
                _WORD_CACHE[text] = word
            append(word)
        elif kind == "hashtag":
            words = _split_hashtag(text[1:], split_words)
            out.extend(words)
            if boundaries and len(words) > 1:
                append(BOUNDARY)  # "#NotHappy #NeverAgain": each tag says its own thing
                start = len(out)
        elif kind == "mention":
            append(normalize(text))
            if len(out) - start == 1:
                start = len(out)  # "@acme Never." is one word stopped, not a sentence
        elif kind == "emoticon":
            append(_EMOTICON_CANON.get(text, text))
        elif kind == "stop":
            # One word stopped is emphasis, not a sentence ("Never. Flying. You. Again.").
            if boundaries and len(out) - start > 1:
                append(BOUNDARY)
            start = len(out)
        else:
            append(text)
    return out


_FOLD_QUOTES = str.maketrans({"’": "'", "‘": "'", "`": "'"})
_EMOTICON_CANON = {
    ":-)": ":)",
    "=)": ":)",
    ":]": ":)",
    ":-(": ":(",
    "=(": ":(",
    ":[": ":(",
    ":-/": ":/",
    ":\\": ":/",
    ":-D": ":D",
    "xD": ":D",
    "XD": ":D",
    "xd": ":D",
    ":-P": ":P",
    ":p": ":P",
}


def name_similarity(a: str, b: str) -> float:
    """Return how alike two display names or handles are, from 0.0 to 1.0.

    Both are normalised, stripped of ``@`` and punctuation and their words sorted, so
    "Yılmaz Ahmet", "ahmet yilmaz" and "@ahmet_yilmaz" all score 1.0.
    """
    ta = sorted(_NAME_WORD_RE.findall(normalize(a)))
    tb = sorted(_NAME_WORD_RE.findall(normalize(b)))
    if not ta or not tb:
        return 0.0
    ja, jb = "".join(ta), "".join(tb)
    if ja == jb:
        return 1.0
    spaced = SequenceMatcher(None, " ".join(ta), " ".join(tb)).ratio()
    compact = SequenceMatcher(None, ja, jb).ratio()
    return max(spaced, compact)


_NAME_WORD_RE = re.compile(r"[^\W_]+")
