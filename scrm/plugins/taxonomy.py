"""The category taxonomy: keywords and phrases per category and language, validated.

The default ships in ``scrm/plugins/data/taxonomy.toml``; a company points
``[plugins.classifier] taxonomy`` at its own file.  Errors name the file and the field.
"""

from __future__ import annotations

import re
import tomllib
from importlib import resources
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

__all__ = ["CategoryTerms", "Taxonomy", "TaxonomyError", "TermSet", "data_text", "load_taxonomy"]

_TERM_RE = re.compile(r"^[^\s*]+\*?$")
_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,47}$")


class TaxonomyError(ValueError):
    """A taxonomy file cannot be read or is invalid; the message names the file and field."""


class TermSet(BaseModel):
    """The words (``keywords``) and multi-word ``phrases`` that point to a category in one language."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    keywords: tuple[str, ...] = Field(
        default=(), description="Single words; a trailing * is a stem."
    )
    phrases: tuple[str, ...] = Field(
        default=(), description="Two or more words, each may end in *."
    )

    @field_validator("keywords")
    @classmethod
    def _one_word(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for term in v:
            if not _TERM_RE.match(term):
                raise ValueError(f"keyword {term!r} must be one word (a trailing * is allowed)")
        return v

    @field_validator("phrases")
    @classmethod
    def _many_words(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for term in v:
            words = term.split()
            if len(words) < 2 or not all(_TERM_RE.match(w) for w in words):
                raise ValueError(f"phrase {term!r} must be two or more words (each may end in *)")
        return v


class CategoryTerms(BaseModel):
    """One category: a description and its terms per language (``tr``, ``en``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    description: str = ""
    tr: TermSet = TermSet()
    en: TermSet = TermSet()


class Taxonomy(BaseModel):
    """Categories in priority order (ties go to the earlier one); ``other`` is implicit."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    categories: dict[str, CategoryTerms]

    @field_validator("categories")
    @classmethod
    def _names(cls, v: dict[str, CategoryTerms]) -> dict[str, CategoryTerms]:
        if not v:
            raise ValueError("a taxonomy needs at least one category")
        for name, cat in v.items():
            if not _NAME_RE.match(name) or name == "other":
                raise ValueError(
                    f"category name {name!r} must be lower_snake_case and not 'other' (the fallback)"
                )
            if not any((cat.tr.keywords, cat.tr.phrases, cat.en.keywords, cat.en.phrases)):
                raise ValueError(f"category {name!r} has no keywords or phrases")
        return v


def load_taxonomy(path: str | Path | None = None) -> Taxonomy:
    """Read a taxonomy TOML file; ``None`` reads the shipped default.

    :raises TaxonomyError: naming the file and the field at fault.
    """
    where = str(path) if path is not None else "scrm/plugins/data/taxonomy.toml"
    try:
        if path is None:
            data = tomllib.loads(data_text("taxonomy.toml"))
        else:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        return Taxonomy(categories=data)
    except OSError as exc:
        raise TaxonomyError(f"{where}: cannot read taxonomy: {exc.strerror or exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise TaxonomyError(f"{where}: not valid TOML: {exc}") from exc
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'][1:]) or 'categories'}: {err['msg']}"
            for err in exc.errors()
        )
        raise TaxonomyError(f"{where}: invalid taxonomy: {problems}") from exc


def data_text(name: str) -> str:
    return resources.files("scrm.plugins").joinpath("data", name).read_text(encoding="utf-8")
