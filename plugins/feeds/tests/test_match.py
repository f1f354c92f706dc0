"""Brand terms are found the Turkish way, on word boundaries."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from scrm_feeds.match import Matcher


@pytest.mark.parametrize(
    "text", ["İstanbul'da kargo", "ISTANBUL ŞUBESİ", "istanbul", "Istanbul", "İSTANBUL’A"]
)
def test_istanbul_in_every_spelling(text: str) -> None:
    assert Matcher(["İstanbul"]).find(text) == ["istanbul"]
    assert Matcher(["ISTANBUL"]).find(text) == ["istanbul"]
    assert Matcher(["istanbul"]).find(text) == ["istanbul"]


@pytest.mark.parametrize("text", ["IŞIK Elektrik", "ışık elektrik", "Işık", "isik elektrik"])
def test_dotless_i(text: str) -> None:
    # "I" lower-cases to "ı" in Turkish, and customers often type without Turkish letters
    assert Matcher(["Işık Elektrik", "Işık"]).find(text)


def test_python_lower_would_miss_it() -> None:
    assert "IŞIK".lower() != "ışık"  # why plain lower() is not enough
    assert Matcher(["ışık"]).find("IŞIK") == ["isik"]


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("Acme'ye yazdım", ["acme"]),
        ("ACME KARGO rezalet", ["acme kargo"]),
        ("acmetech kulaklık", []),
        ("superacme", []),
        ("#acme_destek", []),
        ("acme.com.tr sitesi", ["acme"]),
        ("Acme\nKargo", ["acme kargo"]),
    ],
)
def test_word_boundaries(text: str, found: list[str]) -> None:
    assert Matcher(["Acme", "Acme Kargo"]).find(text) == found


def test_each_term_once_in_order_and_across_texts() -> None:
    m = Matcher(["acme", "zeta"])
    assert m.find("Zeta ve acme", "ACME yine", None) == ["zeta", "acme"]


def test_no_terms_match_nothing() -> None:
    assert not Matcher([" ", ""])
    assert Matcher([]).find("acme") == []


@given(st.text(max_size=300))
def test_never_fails_and_finds_only_its_terms(text: str) -> None:
    assert set(Matcher(["Acme", "İstanbul"]).find(text)) <= {"acme", "istanbul"}
