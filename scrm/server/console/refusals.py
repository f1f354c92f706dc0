"""The services' refusals in the interface language.

The services (:mod:`scrm.core.services`, :mod:`scrm.core.alerts`, the role check)
refuse in English sentences with values in them, the same the CLI and the REST API show.
The console shows them translated: each sentence it may show is listed here once, as a
pattern whose ``%(name)s`` parts stand for the values, and marked for the catalogue
(``make console-messages``).  :func:`translate` recognises a refusal by its pattern and puts
its values into the pattern's translation; a sentence no pattern matches is shown as it
came, so a new refusal in a service is never lost, only untranslated until listed here.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache

from scrm.server.console.i18n import N_

__all__ = ["REFUSALS", "translate"]

#: Every refusal the console may show, as the service words it.
REFUSALS = (
    # what does not exist (or is another department's)
    N_("no case %(id)s"),
    N_("no interaction %(id)s"),
    N_("no alert %(id)s"),
    N_("no customer %(id)s"),
    N_("no incident %(name)s"),
    N_("no agent %(name)s; add one with `scrm agents add`"),
    N_("no agent %(name)s"),
    N_("no view %(name)s"),
    # a case's state
    N_("case %(id)s is %(status)s: it cannot go to %(to)s; allowed: %(allowed)s"),
    N_("case %(id)s is at version %(current)s, not %(expected)s: reload it and try again"),
    N_("case %(id)s has no customer message to answer"),
    N_(
        "case %(id)s came from a %(channel)s item that scrm cannot answer: reply on the page "
        "itself, %(url)s, then record it with `scrm case answered %(id)s --text ...`"
    ),
    N_("case %(id)s is already merged into case %(into)s"),
    N_("a case cannot be merged into itself"),
    N_("interaction %(id)s is already on case %(to)s"),
    N_("interaction %(id)s has no customer to open a case for"),
    N_("playbook %(category)s has no template %(template)s; it has: %(have)s"),
    N_("no playbook for category %(category)s and no 'other' playbook"),
    # customers, alerts, settings
    N_("customers %(a)s and %(b)s are already one record"),
    N_("customer %(id)s is not merged into another record"),
    N_("alert %(id)s was already acknowledged by %(actor)s"),
    N_("alert %(id)s was already acknowledged"),
    N_("unknown time zone %(name)s: use an IANA name such as 'Europe/Istanbul' or 'UTC'"),
    # the forms and the role check
    N_("a key with role %(role)s may not do this"),
    N_("the form has expired or did not come from this console"),
    N_("%(field)s must not contain NUL or invalid text"),
    N_("choose a template or write a text"),
    N_("nothing to correct: the labels are as given"),
    N_("the console speaks %(languages)s"),
    N_("by must be one of %(names)s"),
    N_("give either --since or --from, not both"),
    N_("the period is empty: %(begin)s is not before %(end)s"),
)

_PART = re.compile(r"%\((\w+)\)s")


@cache
def _patterns() -> list[tuple[re.Pattern[str], str]]:
    """Each refusal as a regular expression that captures its values."""
    out = []
    for message in REFUSALS:
        seen: set[str] = set()
        regex, last = "", 0
        for part in _PART.finditer(message):
            regex += re.escape(message[last : part.start()])
            name = part.group(1)
            regex += f"(?P={name})" if name in seen else f"(?P<{name}>.+?)"
            seen.add(name)
            last = part.end()
        regex += re.escape(message[last:])
        out.append((re.compile(regex, re.S), message))
    return out


def translate(message: str, gettext: Callable[[str], str]) -> str:
    """``message`` in the language of ``gettext`` if it is a known refusal, else as it is."""
    for pattern, source in _patterns():
        found = pattern.fullmatch(message)
        if found is not None:
            return gettext(source) % found.groupdict()
    return message
