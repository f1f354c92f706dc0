"""Playbooks: the brand's written complaint guide, one TOML file per category.

A playbook names the owning department, the priority, SLA overrides, the checklist of
steps, and reply templates per language with the placeholders ``{customer_name}``,
``{case_number}`` and ``{agent}``.  Every reply sent from a template records the template
and the playbook version, so answers stay consistent and auditable.  The shipped set lives
in ``scrm/data/playbooks``; ``[cases] playbooks = "folder"`` replaces it.

A template can have channel variants (``[variants.<style>.<template>]``), chosen by the
channel of the reply (:func:`style_for`): ``public`` (a public social post), ``private`` (a
social private message), ``email``, ``phone`` (phone calls and walk-ins: the agent's
script) and ``letter`` (letters and faxes).  A style without its own variant uses the
template itself.  Whatever a customer reached the brand by, they are answered on it: a
playbook whose text for an e-mail, phone, letter, fax or walk-in customer asks them to
send a DM or private message is refused when loaded.
"""

from __future__ import annotations

import re
import string
import tomllib
from collections.abc import Iterator, Mapping
from datetime import timedelta
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from scrm.core.config import plain_message
from scrm.core.errors import N_, InvalidInput

__all__ = [
    "PLACEHOLDERS",
    "STYLES",
    "Playbook",
    "PlaybookError",
    "PlaybookSet",
    "asks_for_dm",
    "load_playbooks",
    "style_for",
]

PLACEHOLDERS = frozenset({"customer_name", "case_number", "agent"})
TEMPLATE_NAMES = ("acknowledge", "contact", "investigating", "solution", "resolved")

Style = Literal["public", "private", "email", "phone", "letter"]
#: Every reply style, in the order ``scrm playbook show`` lists them.
STYLES: tuple[Style, ...] = ("public", "private", "email", "phone", "letter")
#: The styles of customers who did not write on a social network: asking them for a DM is
#: sending them to a channel they never used.
OFF_SOCIAL: tuple[Style, ...] = ("email", "phone", "letter")
_STYLE_OF_CHANNEL: dict[str, Style] = {
    "email": "email",
    "phone": "phone",
    "walk_in": "phone",
    "letter": "letter",
    "fax": "letter",
}
_DM = re.compile(
    r"\bDMs?\b|direct message|private message|özel mesaj|doğrudan mesaj|\bmessenger\b",
    re.IGNORECASE,
)


def style_for(channel: str | None, public: bool = False) -> Style:
    """Return the reply style of a reply on ``channel``: the traditional channels and e-mail
    by name; any other channel (a social network) ``public`` or ``private``."""
    if channel in _STYLE_OF_CHANNEL:
        return _STYLE_OF_CHANNEL[channel]
    return "public" if public else "private"


def asks_for_dm(text: str) -> bool:
    """Whether ``text`` sends the customer to a DM or private message (English or Turkish)."""
    return _DM.search(text) is not None


def _check_placeholders(where: str, text: str) -> None:
    try:
        fields = {f for _, f, _, _ in string.Formatter().parse(text) if f is not None}
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None
    unknown = fields - PLACEHOLDERS
    if unknown:
        raise ValueError(
            f"{where} uses unknown placeholders {sorted(unknown)}; allowed: {sorted(PLACEHOLDERS)}"
        )


class PlaybookError(InvalidInput):
    """A playbook file is invalid; the message names the file and the field."""


class SlaOverrides(BaseModel):
    model_config = ConfigDict(extra="forbid")

    first_response: timedelta | None = None
    follow_up: timedelta | None = None
    resolution: timedelta | None = None


class Playbook(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    category: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")
    version: str = Field(min_length=1, max_length=64)
    title: str = ""
    department: str = Field(default="support", pattern=r"^[a-z][a-z0-9_]{0,31}$")
    priority: Literal["low", "normal", "high", "urgent"] = "normal"
    checklist: tuple[str, ...] = ()
    sla: SlaOverrides = Field(default_factory=SlaOverrides)
    templates: dict[str, dict[str, str]] = Field(default_factory=dict)
    variants: dict[Style, dict[str, dict[str, str]]] = Field(
        default_factory=dict,
        description="Per reply style, templates that replace the default ones on that style.",
    )

    @field_validator("templates")
    @classmethod
    def _placeholders(cls, v: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        for name, by_lang in v.items():
            if not by_lang:
                raise ValueError(f"template {name!r} has no language")
            for lang, text in by_lang.items():
                _check_placeholders(f"templates.{name}.{lang}", text)
        return v

    @model_validator(mode="after")
    def _variants(self) -> Playbook:
        for style, templates in self.variants.items():
            for name, by_lang in templates.items():
                where = f"variants.{style}.{name}"
                if name not in self.templates:
                    raise ValueError(f"{where}: no template {name!r} to vary")
                if not by_lang:
                    raise ValueError(f"{where} has no language")
                for lang, text in by_lang.items():
                    _check_placeholders(f"{where}.{lang}", text)
        for style in OFF_SOCIAL:
            for name in self.templates:
                for lang, text in self.texts(name, style).items():
                    if asks_for_dm(text):
                        where = (
                            f"variants.{style}.{name}.{lang}"
                            if name in self.variants.get(style, {})
                            else f"templates.{name}.{lang}"
                        )
                        raise ValueError(
                            f"{where} asks {style} customers for a DM or private message; "
                            f"write a [variants.{style}.{name}] for them"
                        )
        return self

    def texts(self, template: str, style: Style | None = None) -> dict[str, str]:
        """The texts by language of ``template`` on ``style``: its variant, else the template."""
        variant = self.variants.get(style, {}).get(template) if style else None
        return variant or self.templates.get(template) or {}

    def render(
        self,
        template: str,
        language: str | None,
        *,
        channel: str | None = None,
        public: bool = False,
        **values: object,
    ) -> tuple[str, str]:
        """Fill template ``template`` in ``language`` (English, then any, as fallback), in its
        variant for a reply on ``channel`` (public or not) when it has one.

        :returns: the text and the language actually used.
        :raises PlaybookError: if the playbook has no such template.
        """
        by_lang = self.texts(template, style_for(channel, public) if channel else None)
        if not by_lang:
            have = ", ".join(sorted(self.templates)) or "none"
            raise PlaybookError(
                N_("playbook %(category)r has no template %(template)r; it has: %(have)s"),
                category=self.category,
                template=template,
                have=have,
            )
        lang = language if language in by_lang else "en" if "en" in by_lang else next(iter(by_lang))
        filled = {k: "" if values.get(k) is None else str(values[k]) for k in PLACEHOLDERS}
        return by_lang[lang].format_map(filled), lang


class PlaybookSet:
    """The playbooks in force, by category, with ``other`` as the fallback.

    :param follows: categories without a playbook of their own name (a sector pack's ``fees``)
        and the playbook each follows (``billing``), as plugins register them; ``None`` (or a
        playbook the set lacks) falls back to ``other``.
    """

    def __init__(
        self,
        playbooks: dict[str, Playbook],
        source: str,
        follows: Mapping[str, str | None] | None = None,
    ) -> None:
        self.playbooks = playbooks
        self.source = source
        self.follows = dict(follows or {})

    def with_follows(self, follows: Mapping[str, str | None]) -> PlaybookSet:
        """Return this set, knowing which playbook each category of ``follows`` follows."""
        return PlaybookSet(self.playbooks, self.source, follows)

    def for_category(self, category: str) -> Playbook | None:
        """The playbook of ``category``: its own name's, the one it follows, else ``other``."""
        followed = self.follows.get(category)
        return (
            self.playbooks.get(category)
            or (self.playbooks.get(followed) if followed else None)
            or self.playbooks.get("other")
        )

    @property
    def categories(self) -> list[str]:
        """Every category an agent may give a message: the playbooks' and those registered."""
        return sorted({*self.playbooks, *self.follows})

    def __iter__(self) -> Iterator[Playbook]:
        return iter(sorted(self.playbooks.values(), key=lambda p: p.category))

    def __len__(self) -> int:
        return len(self.playbooks)


def load_playbook(path: Path) -> Playbook:
    """Load and validate one playbook file. :raises PlaybookError: naming file and field."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise PlaybookError(N_("%(path)s: cannot read: %(reason)s"), path=path, reason=exc) from None
    except tomllib.TOMLDecodeError as exc:
        raise PlaybookError(N_("%(path)s: not valid TOML: %(reason)s"), path=path, reason=exc) from None
    try:
        book = Playbook.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(top)'}: {plain_message(e)}" for e in exc.errors()
        )
        raise PlaybookError(N_("%(path)s: %(problems)s"), path=path, problems=problems) from None
    if book.category != path.stem:
        raise PlaybookError(
            N_("%(path)s: category %(category)r does not match the file name %(stem)r")
        , path=path, category=book.category, stem=path.stem)
    return book


def load_playbooks(folder: str | Path | None = None) -> PlaybookSet:
    """Load every ``*.toml`` playbook in ``folder`` (default: the shipped set)."""
    if folder is None:
        root = Path(str(resources.files("scrm") / "data" / "playbooks"))
    else:
        root = Path(folder)
        if not root.is_dir():
            raise PlaybookError(N_("playbook folder %(root)s does not exist"), root=root)
    paths = sorted(root.glob("*.toml"))
    # The router and the SLA plugin both load the playbooks when they are built, at every
    # start-up: read and validate the files once while they are unchanged (a Playbook is
    # frozen, and nothing changes a PlaybookSet).
    files = tuple((str(p), *_signature(p)) for p in paths)
    cached = _loaded.get(str(root))
    if cached is not None and cached[0] == files:
        return cached[1]
    books = {}
    for path in paths:
        book = load_playbook(path)
        books[book.category] = book
    loaded = PlaybookSet(books, str(root))
    _loaded[str(root)] = (files, loaded)
    return loaded


_loaded: dict[str, tuple[tuple[tuple[str, int, int], ...], PlaybookSet]] = {}


def _signature(path: Path) -> tuple[int, int]:
    """What changes when the file does: its modification time and size."""
    st = path.stat()
    return st.st_mtime_ns, st.st_size
