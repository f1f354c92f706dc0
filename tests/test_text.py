"""Tests for scrm.core.text: Turkish casefolding, diacritics, normalisation, tokens, names."""

from __future__ import annotations

from itertools import pairwise

from hypothesis import example, given
from hypothesis import strategies as st

from scrm.core.text import (
    BOUNDARY,
    casefold_tr,
    find_urls,
    fold_diacritics,
    name_similarity,
    normalize,
    tokenize,
)


def test_casefold_turkish_dotted_and_dotless_i() -> None:
    assert casefold_tr("IĞDIR") == "ığdır"
    assert casefold_tr("İSTANBUL") == "istanbul"
    assert "\u0307" not in casefold_tr("İŞİM")


def test_fold_diacritics() -> None:
    assert fold_diacritics("şikayetçiyim") == "sikayetciyim"
    assert fold_diacritics("müşteri hizmetleri") == "musteri hizmetleri"
    assert fold_diacritics("kâr îmân ûmit") == "kar iman umit"
    assert fold_diacritics("café") == "cafe"


def test_normalize_matches_spellings_without_turkish_letters() -> None:
    assert normalize("ŞİKAYETÇİYİM") == normalize("sikayetciyim") == "sikayetciyim"
    assert normalize("Sipariş  hâlâ\tgelmedi") == "siparis hala gelmedi"


def test_normalize_squeezes_elongation_but_keeps_doubles() -> None:
    assert normalize("berbaaaat") == "berbat"
    assert normalize("soooo") == "so"
    assert normalize("memnun dikkat good") == "memnun dikkat good"
    assert normalize("100000") == "100000"


def test_tokenize_hashtags_mentions_urls() -> None:
    assert tokenize("#KargoRezaleti @Acme bak https://t.co/x www.a.com bit.ly/xyz") == [
        "kargo",
        "rezaleti",
        "@acme",
        "bak",
    ]
    assert tokenize("#neveragain") == ["neveragain"]


def test_sentences_run_together_are_no_web_address() -> None:
    # A review without a space after the full stop: ".Biz" (we) starts a sentence.
    assert tokenize("önermiyorum.Biz yandık") == ["onermiyorum", "biz", "yandik"]
    assert find_urls("bak acme.com ve ACME.COM.TR, sonra.Me") == ["acme.com", "ACME.COM.TR"]


def test_tokenize_emoji_and_emoticons() -> None:
    assert tokenize("berbat 😡😡 :( :/ :-) 👍🏽 ❤️") == [
        "berbat",
        "😡",
        "😡",
        ":(",
        ":/",
        ":)",
        "👍",
        "❤",
    ]


def test_tokenize_apostrophes() -> None:
    assert tokenize("BTK'ya şikayet") == ["btk", "sikayet"]
    assert tokenize("I can't log in") == ["i", "can't", "log", "in"]


def test_tokenize_sentence_boundaries() -> None:
    text = "No lounge? Very inconvenient... 3. kez 4.5 puan!! :) so slow; bitti. #NotHappy #fail"
    assert tokenize(text, boundaries=True) == [
        "no", "lounge", BOUNDARY, "very", "inconvenient", BOUNDARY, "3", "kez", "4", "5",
        "puan", BOUNDARY, ":)", "so", "slow", BOUNDARY, "bitti", "not", "happy", BOUNDARY,
        "fail",
    ]  # fmt: skip
    assert BOUNDARY not in tokenize(text)  # only when asked for
    # One word stopped is emphasis, not a sentence.
    assert tokenize("Never. Flying. You. Again.", boundaries=True) == [
        "never", "flying", "you", "again"
    ]


def test_tokenize_splits_hashtags_run_together_when_asked() -> None:
    def halves(tag: str) -> list[str]:
        return [tag[: len(tag) // 2], tag[len(tag) // 2 :]]

    assert tokenize("#nothelpful #NotHappy", split_words=halves) == [
        "nothe", "lpful", "not", "happy"
    ]  # fmt: skip
    assert tokenize("#nothelpful") == ["nothelpful"]


@given(st.text())
def test_tokenize_boundaries_only_add_boundaries(s: str) -> None:
    with_stops = tokenize(s, boundaries=True)
    assert [t for t in with_stops if t != BOUNDARY] == tokenize(s)
    assert all(a != BOUNDARY or b != BOUNDARY for a, b in pairwise(with_stops))


def test_name_similarity() -> None:
    assert name_similarity("Ahmet Yılmaz", "@ahmet_yilmaz") == 1.0
    assert name_similarity("Yılmaz Ahmet", "AHMET YILMAZ") == 1.0
    assert name_similarity("Ahmet Yılmaz", "Ahmet Yilmazz") > 0.9
    assert name_similarity("Ahmet", "Zeynep Kaya") < 0.5
    assert name_similarity("", "x") == 0.0


@given(st.text())
def test_normalize_is_idempotent_and_trimmed(s: str) -> None:
    n = normalize(s)
    assert normalize(n) == n
    assert n == n.strip()
    assert "  " not in n


@given(st.text())
def test_fold_diacritics_leaves_no_turkish_letters(s: str) -> None:
    assert not set(fold_diacritics(casefold_tr(s))) & set("çğıöşüâîû")


@given(st.text())
@example("HTTP status")
@example("bkz. https://acme.com/x?a=1 ve HTTP://ACME.COM")
def test_tokenize_never_raises_and_tokens_are_clean(s: str) -> None:
    for tok in tokenize(s):
        assert tok
        assert not tok.isspace()
        assert "://" not in tok  # URLs are dropped; the word "HTTP" is a word


@given(st.text(), st.text())
def test_name_similarity_bounded(a: str, b: str) -> None:
    assert 0.0 <= name_similarity(a, b) <= 1.0
    if normalize(a).strip("@ "):
        assert name_similarity(a, a) in (0.0, 1.0)
