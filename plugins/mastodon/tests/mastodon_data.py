"""Accounts and ids shared by the tests (a module of its own: ``conftest`` is not importable
by name when several plugins' tests run together)."""

from __future__ import annotations

from fake_mastodon import account, iso

TOKEN = "fake-mastodon-user-token-0001"
BRAND = account("109348223114372104", "acmedestek", followers=18453, display_name="Acme Destek")
AYSE = account("109351037752364722", "aysylmz", followers=312, display_name="Ayşe Yılmaz")
MEHMET = account("110203117702116005", "mehmet_k", domain="fosstodon.org", followers=48)


BASE_MS = 1_730_023_200_000  # 2024-10-27T10:00:00Z


def snowflake(minute: int, seq: int = 0) -> str:
    """A Mastodon status id ``minute`` minutes after 10:00 UTC on 2024-10-27."""
    return str(((BASE_MS + minute * 60_000) << 16) + seq)


def at(minute: int) -> str:
    """The ``created_at`` matching :func:`snowflake`."""
    return iso((BASE_MS + minute * 60_000) / 1000)
