"""The category taxonomy: cues per category and language, sector packs, validated.

A taxonomy is a TOML file of categories, one table each, with cue words and phrases per
language and, optionally, the category's label, its default department and least priority
and the playbook it follows.  Top-level keys that are not tables describe the file itself
(``name``, ``description``, ``urgency_stop``).

The generic default ships in ``scrm/plugins/data/taxonomy.toml``.  Sector packs ship beside
it as ``sector_<name>.toml`` and are selected in ``[plugins.classifier] sectors``; a company
adds its own file with ``[plugins.classifier] taxonomy``.  Errors name the file and the key.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

__all__ = [
    "CategoryTerms",
    "Taxonomy",
    "TaxonomyError",
    "TermSet",
    "configured_taxonomy",
    "configured_topics",
    "data_text",
    "load_taxonomy",
    "merge_taxonomies",
    "playbook_for",
    "sector_names",
    "sector_taxonomy",
]

if TYPE_CHECKING:
    from pydantic import ValidationInfo

    from scrm.plugin import PlaybookSet

_TERM_RE = re.compile(r"^[^\s*]+\*?$")
_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,47}$")
_SECTOR_PREFIX, _SUFFIX = "sector_", ".toml"
#: The pack every sector selection ends with: categories no sector is without.
COMMON_PACK = "common"


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
            words = term.replace("-", " ").split()
            if len(words) < 2 or not all(_TERM_RE.match(w) for w in words):
                raise ValueError(f"phrase {term!r} must be two or more words (each may end in *)")
        return v

    def __or__(self, other: TermSet) -> TermSet:
        return TermSet(
            keywords=tuple(dict.fromkeys((*self.keywords, *other.keywords))),
            phrases=tuple(dict.fromkeys((*self.phrases, *other.phrases))),
        )


class CategoryTerms(BaseModel):
    """One category: what it is, where it goes, and its cues per language (``tr``, ``en``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    description: str = ""
    label: dict[Literal["tr", "en"], str] = Field(
        default_factory=dict, description="The name people read, per language."
    )
    department: str | None = Field(
        default=None,
        pattern=r"^[a-z][a-z0-9_]{0,31}$",
        description="The department a complaint or question of this category goes to.",
    )
    priority: Literal["low", "normal", "high", "urgent"] | None = Field(
        default=None, description="The least priority such a complaint or question gets."
    )
    playbook: str | None = Field(
        default=None,
        pattern=r"^[a-z][a-z0-9_]{0,63}$",
        description="The playbook (a category of the playbook set) this category follows "
        "when there is no playbook of its own name.",
    )
    tr: TermSet = TermSet()
    en: TermSet = TermSet()

    def merged(self, other: CategoryTerms) -> CategoryTerms:
        """Return this category with ``other``'s cues added; its own settings come first."""
        fill = {
            key: getattr(other, key)
            for key in ("description", "department", "priority", "playbook")
            if not getattr(self, key)
        }
        return self.model_copy(
            update={
                **fill,
                "label": {**other.label, **self.label},
                "tr": self.tr | other.tr,
                "en": self.en | other.en,
            }
        )


class Taxonomy(BaseModel):
    """Categories in priority order (ties go to the earlier one); ``other`` is implicit."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(default="", max_length=64)
    description: str = ""
    urgency_stop: tuple[str, ...] = Field(
        default=(), description="Phrases that never raise an urgency flag (product names)."
    )
    generic: tuple[str, ...] = Field(
        default=(),
        description="Categories of the generic taxonomy to include after this file's own; "
        "a table of the same name adds cues to one.",
    )
    categories: dict[str, CategoryTerms]

    @field_validator("urgency_stop")
    @classmethod
    def _phrases(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for term in v:
            if not term.strip():
                raise ValueError("an urgency_stop phrase is empty")
        return v

    @model_validator(mode="after")
    def _names(self) -> Taxonomy:
        if not self.categories and not self.generic:
            raise ValueError("a taxonomy needs at least one category")
        for name, cat in self.categories.items():
            if not _NAME_RE.match(name) or name == "other":
                raise ValueError(
                    f"category name {name!r} must be lower_snake_case and not 'other' (the fallback)"
                )
            cues = (cat.tr.keywords, cat.tr.phrases, cat.en.keywords, cat.en.phrases)
            if name not in self.generic and not any(cues):
                raise ValueError(f"category {name!r} has no keywords or phrases")
        return self


def _parse(text: str, where: str) -> Taxonomy:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise TaxonomyError(f"{where}: not valid TOML: {exc}") from None
    except RecursionError:
        raise TaxonomyError(f"{where}: not valid TOML: nested too deeply") from None
    meta = {k: v for k, v in data.items() if not isinstance(v, dict)}
    if "categories" in meta:
        raise TaxonomyError(f"{where}: categories: not a taxonomy setting (categories are tables)")
    categories = {k: v for k, v in data.items() if isinstance(v, dict)}
    problems = ""
    try:
        tax = Taxonomy.model_validate({**meta, "categories": categories})
    except ValidationError as exc:
        problems = "; ".join(_describe(err) for err in exc.errors())
    if problems:
        # Raised outside the except block: the configuration check would otherwise read the
        # validation error (its context) and name the keys without the file.
        raise TaxonomyError(f"{where}: invalid taxonomy: {problems}")
    if not tax.generic:
        return tax
    base = load_taxonomy()
    for i, name in enumerate(tax.generic):
        if name not in base.categories:
            raise TaxonomyError(
                f"{where}: invalid taxonomy: generic.{i}: no generic category {name!r}; "
                f"generic categories: {', '.join(base.categories)}"
            )
    own = {k: v for k, v in tax.categories.items() if k not in tax.generic}
    taken = {
        n: tax.categories[n].merged(base.categories[n]) if n in tax.categories else base.categories[n]
        for n in tax.generic
    }
    return tax.model_copy(update={"categories": {**own, **taken}})


def _describe(err: Any) -> str:
    loc = [str(p) for p in err["loc"] if p != "[key]"]
    if loc[:1] == ["categories"]:
        loc = loc[1:]
    msg = " ".join(str(err["msg"]).removeprefix("Value error, ").split())
    if err["type"] == "extra_forbidden":
        msg = "not a taxonomy setting (categories are tables)"
    return f"{'.'.join(loc) or 'categories'}: {msg}"


def load_taxonomy(path: str | Path | None = None) -> Taxonomy:
    """Read a taxonomy TOML file; ``None`` reads the shipped generic default.

    :raises TaxonomyError: one line naming the file and the key at fault.
    """
    if path is None:
        return _shipped("taxonomy.toml")
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise TaxonomyError(f"{path}: cannot read taxonomy: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise TaxonomyError(f"{path}: cannot read taxonomy: not UTF-8 ({exc.reason})") from None
    return _parse(text, str(path))


@cache
def _shipped(file: str) -> Taxonomy:
    """A shipped taxonomy file, parsed once: the classifier, the router and the SLA plugin
    all read the one configured (frozen models, shared)."""
    return _parse(data_text(file), f"scrm/plugins/data/{file}")


def sector_names() -> list[str]:
    """The shipped sector packs, by name (``common`` is added to any selection by itself)."""
    return list(_sector_names())


@cache
def _sector_names() -> tuple[str, ...]:
    folder = resources.files("scrm.plugins").joinpath("data")
    names = (entry.name for entry in folder.iterdir())
    return tuple(
        sorted(
            name[len(_SECTOR_PREFIX) : -len(_SUFFIX)]
            for name in names
            if name.startswith(_SECTOR_PREFIX)
            and name.endswith(_SUFFIX)
            and name != f"{_SECTOR_PREFIX}{COMMON_PACK}{_SUFFIX}"
        )
    )


def sector_taxonomy(name: str) -> Taxonomy:
    """Read the shipped pack ``name``. :raises TaxonomyError: for a pack that is not shipped."""
    if name != COMMON_PACK and name not in sector_names():
        raise TaxonomyError(
            f"plugins.classifier.sectors: no sector pack {name!r}; "
            f"shipped: {', '.join(sector_names())}"
        )
    return _shipped(f"{_SECTOR_PREFIX}{name}{_SUFFIX}")


def merge_taxonomies(parts: Iterable[Taxonomy]) -> Taxonomy:
    """Return one taxonomy of ``parts`` in order: a category several parts define gets every
    part's cues, and its settings from the first part that gives them."""
    categories: dict[str, CategoryTerms] = {}
    stop: dict[str, None] = {}
    names = []
    for part in parts:
        names.append(part.name)
        stop.update(dict.fromkeys(part.urgency_stop))
        for cat_name, cat in part.categories.items():
            have = categories.get(cat_name)
            categories[cat_name] = cat if have is None else have.merged(cat)
    return Taxonomy(
        name="+".join(n for n in names if n), urgency_stop=tuple(stop), categories=categories
    )


def configured_taxonomy(settings: Mapping[str, Any]) -> Taxonomy:
    """Return the taxonomy ``[plugins.classifier]`` selects.

    No ``sectors``: the ``taxonomy`` file, else the generic default, as before packs existed.
    With ``sectors``: the ``taxonomy`` file (a company's own pack) first, then each sector
    pack in the order given, then the ``common`` pack; the generic default is not used.

    :raises TaxonomyError: naming the setting, or the file and the key at fault.
    """
    sectors = settings.get("sectors", [])
    if not isinstance(sectors, list) or not all(isinstance(s, str) for s in sectors):
        raise TaxonomyError(
            'plugins.classifier.sectors must be a list of sector names, e.g. ["banking"]; '
            f"shipped: {', '.join(sector_names())}"
        )
    path = settings.get("taxonomy")
    if path is not None and not isinstance(path, str):
        raise TaxonomyError("plugins.classifier.taxonomy must be the path of a TOML file")
    if not sectors:
        return load_taxonomy(path)
    own = [load_taxonomy(path)] if path else []
    packs = [sector_taxonomy(s) for s in dict.fromkeys(sectors)]
    return merge_taxonomies([*own, *packs, sector_taxonomy(COMMON_PACK)])


def configured_topics(info: ValidationInfo) -> tuple[PlaybookSet, Taxonomy] | None:
    """The playbooks ``[cases] playbooks`` names and the taxonomy ``[plugins.classifier]``
    selects, for a settings validator given the configuration as context (None without one:
    the settings were validated on their own)."""
    config = (info.context or {}).get("config")
    if config is None:
        return None
    from scrm.plugin import load_playbooks

    return load_playbooks(config.cases.playbooks), configured_taxonomy(
        config.plugin_settings("classifier")
    )


def playbook_for(category: str, taxonomy: Taxonomy, playbooks: PlaybookSet | None) -> Any:
    """Return the playbook of ``category``: the one of its own name, else the one the
    taxonomy names for it (``playbook = "billing"``), else ``None``.  A named playbook that
    the playbook set lacks (a company's own folder) counts as none."""
    if playbooks is None:
        return None
    book = playbooks.playbooks.get(category)
    if book is None and (cat := taxonomy.categories.get(category)) and cat.playbook:
        book = playbooks.playbooks.get(cat.playbook)
    return book


def data_text(name: str) -> str:
    return resources.files("scrm.plugins").joinpath("data", name).read_text(encoding="utf-8")
