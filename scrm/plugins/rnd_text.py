"""How R&D compares requests across Turkish and English, without any model download.

A request becomes a *signature*: its content words in :func:`~scrm.core.text.normalize` form,
with product vocabulary mapped to one concept per meaning through a small TR↔EN lexicon
(``karanlık mod``, ``gece modu`` and ``dark mode`` are all ``dark_mode``; ``uygulamaya`` and
``app`` are ``app``), stop words and request phrasing ("please add", "keşke ... olsa")
dropped, and other words cut to a six-letter stem (Turkish suffixes, English plurals).

Two signatures are compared with a weighted overlap coefficient: the weight of the concepts
they share divided by the weight of the smaller signature.  Concepts are shared when equal, or
when their character 3-gram Jaccard similarity is at least 0.7 (typos, spelling variants).
Generic words (app, data, option...) weigh 0.3, other concepts 1, multi-word concepts 2.
"""

from __future__ import annotations

from scrm.plugin import normalize, tokenize

__all__ = ["LEXICON", "signature", "similarity"]

#: concept -> terms (normalized; ``*`` marks a prefix, for Turkish suffixes).
LEXICON: dict[str, tuple[str, ...]] = {
    "dark_mode": ("dark mode", "dark theme", "night mode", "karanlik mod*", "karanlik tema*",
                  "gece mod*", "koyu tema*", "koyu mod*", "darkmode"),
    "auto_topup": ("auto top-up", "auto top up", "auto topup", "automatic top-up",
                   "otomatik yukle*", "otomatik paket*", "auto renew*"),
    "apple_pay": ("apple pay",),
    "e_invoice": ("e-fatura*", "e fatura*", "e-invoice*", "e invoice*"),
    "app": ("app", "apps", "application*", "uygulama*", "mobile app"),
    "eye": ("eye*", "goz*"),
    "night": ("night*", "gece*", "2am"),
    "invoice": ("invoice*", "bill", "bills", "billing", "fatura*"),
    "pdf": ("pdf*",),
    "email": ("email*", "e-mail*", "mail*", "eposta*", "e-posta*"),
    "installment": ("installment*", "instalment*", "taksit*"),
    "topup": ("top-up", "top up", "topup", "yukleme*", "ek paket*"),
    "english": ("english", "ingilizce*"),
    "turkish": ("turkish", "turkce*"),
    "language": ("language*", "dil", "dili", "dilde", "dilinde"),
    "usage": ("usage", "kullanim*", "harca*", "consumption"),
    "graph": ("graph*", "chart*", "grafik*"),
    "payment": ("payment*", "pay", "odeme*", "ode", "odemek"),
    "card": ("card*", "kart*"),
    "notification": ("notification*", "notify", "bildirim*", "alert*"),
    "tax": ("tax*", "vergi*"),
    "balance": ("balance*", "bakiye*"),
    "menu": ("menu*",),
    "screen": ("screen*", "ekran*"),
    "bright": ("bright*", "parlak*"),
    "data": ("data", "internet*", "veri*", "gb"),
    "feature": ("feature*", "option*", "secenek*", "ozellik*"),
    "store": ("store*", "shop*", "magaza*", "sube*", "branch*"),
}  # fmt: skip

GENERIC = frozenset({"app", "data", "feature", "acme"})

STOPWORDS = frozenset(
    [
        "the",
        "a",
        "an",
        "to",
        "of",
        "in",
        "on",
        "for",
        "and",
        "or",
        "is",
        "are",
        "it",
        "its",
        "it's",
        "my",
        "me",
        "i",
        "we",
        "you",
        "your",
        "our",
        "please",
        "add",
        "adding",
        "added",
        "would",
        "be",
        "great",
        "nice",
        "have",
        "has",
        "had",
        "could",
        "can",
        "should",
        "there",
        "this",
        "that",
        "with",
        "at",
        "from",
        "when",
        "what",
        "like",
        "want",
        "wish",
        "love",
        "also",
        "so",
        "too",
        "very",
        "really",
        "just",
        "some",
        "any",
        "every",
        "all",
        "get",
        "got",
        "would've",
        "i'd",
        "i'm",
        "it'd",
        "im",
        "id",
        "be",
        "been",
        "being",
        "do",
        "does",
        "did",
        "will",
        "not",
        "no",
        "yes",
        "if",
        "then",
        "than",
        "them",
        "they",
        "their",
        "about",
        "into",
        "out",
        "up",
        "down",
        "by",
        "as",
        "was",
        "were",
        "which",
        "who",
        "how",
        "why",
        "where",
        "chance",
        "still",
        "even",
        "much",
        "many",
        "more",
        "most",
        "us",
        "one",
        "two",
        "half",
        "back",
        "keep",
        "keeps",
        "now",
        "since",
        "until",
        "every",
        "month",
        "day",
        "hi",
        "hello",
        "thanks",
        "thank",
        "dear",
        "team",
        "acme",
        "acmehelp",
        "acmedestek",
        "ve",
        "bir",
        "bu",
        "su",
        "da",
        "de",
        "ne",
        "cok",
        "olsa",
        "olsun",
        "olur",
        "olurdu",
        "olmali",
        "olmasi",
        "keske",
        "gelse",
        "gelsin",
        "eklenmeli",
        "eklense",
        "eklensin",
        "ekleyin",
        "ekler",
        "eklemek",
        "lutfen",
        "icin",
        "ile",
        "mi",
        "mu",
        "ama",
        "gibi",
        "daha",
        "iyi",
        "guzel",
        "olabilir",
        "var",
        "yok",
        "ben",
        "biz",
        "siz",
        "bana",
        "bize",
        "beni",
        "her",
        "hic",
        "merhaba",
        "tesekkur",
        "tesekkurler",
        "rica",
        "ederim",
        "ederiz",
        "sadece",
        "hala",
        "artik",
        "bile",
        "en",
        "cok",
        "zaman",
        "sey",
        "seyi",
        "kadar",
        "sonra",
        "once",
        "diye",
        "istiyorum",
        "isterim",
        "yapin",
        "yapar",
        "yapsaniz",
        "yapabilir",
        "mumkun",
        "mu",
        "musunuz",
        "miyim",
    ]
)

#: Request phrasing in any inflection ("suggestion", "öneriyorum", "eklenmesini").
STOP_PREFIXES = ("sugges", "next", "oneri", "onerm", "eklen", "ekley", "update", "guncelle")

_PHRASES: list[tuple[tuple[str, ...], bool, str]] = []
for _concept, _terms in LEXICON.items():
    for _term in _terms:
        _words = tuple(normalize(_term.rstrip("*")).replace("-", " ").split())
        _PHRASES.append((_words, _term.endswith("*"), _concept))
_PHRASES.sort(key=lambda p: -len(p[0]))


def _word_matches(token: str, word: str, prefix: bool) -> bool:
    return token.startswith(word) if prefix else token == word


def signature(text: str) -> list[str]:
    """Return the sorted concepts of a request (see the module docstring)."""
    tokens = [
        t
        for t in (
            w.replace("-", " ") for w in tokenize(text) if w[:1].isalpha() and not w.startswith("@")
        )
        for t in t.split()
    ]
    out: set[str] = set()
    i = 0
    while i < len(tokens):
        for words, prefix, concept in _PHRASES:
            n = len(words)
            if i + n > len(tokens):
                continue
            head_ok = all(tokens[i + k] == words[k] for k in range(n - 1))
            if head_ok and _word_matches(tokens[i + n - 1], words[-1], prefix):
                out.add(concept)
                i += n
                break
        else:
            tok = tokens[i]
            if (
                len(tok) >= 3
                and tok not in STOPWORDS
                and tok.isalpha()
                and not tok.startswith(STOP_PREFIXES)
            ):
                out.add(tok[:6])
            i += 1
    return sorted(out)


def _weight(concept: str) -> float:
    if concept in GENERIC:
        return 0.3
    return 2.0 if concept in LEXICON and "_" in concept else 1.0


def _grams(s: str) -> set[str]:
    s = f" {s} "
    return {s[i : i + 3] for i in range(len(s) - 2)}


def _fuzzy_equal(a: str, b: str) -> bool:
    if a == b:
        return True
    if a in LEXICON or b in LEXICON:
        return False
    ga, gb = _grams(a), _grams(b)
    return len(ga & gb) / len(ga | gb) >= 0.7


def similarity(a: list[str], b: list[str]) -> float:
    """Weighted overlap coefficient of two signatures, from 0.0 to 1.0."""
    if not a or not b:
        return 0.0
    small, large = (a, b) if sum(map(_weight, a)) <= sum(map(_weight, b)) else (b, a)
    shared = sum(_weight(c) for c in small if any(_fuzzy_equal(c, d) for d in large))
    return round(shared / sum(map(_weight, small)), 3)
