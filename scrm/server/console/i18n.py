"""The console's interface languages: Turkish and English, from Babel message catalogues.

The templates are written in English and mark their words for translation (the Jinja2 i18n
extension: ``_("...")`` and ``{% trans %}``), and the pages' Python their messages (``ctx.t``,
``N_``); ``locale/<lang>/LC_MESSAGES/console.po`` holds
a language's translations and ``console.mo`` its compiled form, shipped in the wheel.  After
changing a template's words, run ``make console-messages`` (extract, update, compile) and
translate what it adds.  The services' refusals are templates marked with ``N_`` where they
are raised (:mod:`scrm.core.errors`), extracted into the same catalogue and translated before
their values are put in; data (statuses, kinds, channels) is not: it is what the CLI and the
REST API show.
"""

from __future__ import annotations

import gettext
from functools import cache
from importlib import resources
from pathlib import Path

from babel.support import Translations

from scrm.core.errors import N_

__all__ = ["DOMAIN", "LANGUAGES", "N_", "locale_dir", "negotiate", "translations"]

#: The interface languages, each named in itself.
LANGUAGES = {"en": "English", "tr": "Türkçe"}
DOMAIN = "console"


def locale_dir() -> Path:
    return Path(str(resources.files("scrm.server.console"))) / "locale"


@cache
def translations(lang: str) -> gettext.NullTranslations:
    """The catalogue of ``lang``; English is the templates' own words."""
    if lang == "en":
        return gettext.NullTranslations()
    return Translations.load(str(locale_dir()), [lang], domain=DOMAIN)


def negotiate(accept_language: str) -> str:
    """The first language of an ``Accept-Language`` header the console speaks (by weight),
    else English."""
    ranked = []
    for n, part in enumerate(accept_language.split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        weight = 1.0
        if params.strip().startswith("q="):
            try:
                weight = float(params.strip()[2:])
            except ValueError:
                weight = 0.0
        ranked.append((-weight, n, tag.strip().lower().split("-")[0]))
    for _, _, lang in sorted(ranked):
        if lang in LANGUAGES:
            return lang
    return "en"
