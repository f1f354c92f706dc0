"""Find the brand's terms in an item, the Turkish way and on word boundaries.

Both the terms and the text go through :func:`scrm.plugin.normalize`: ``İstanbul``,
``ISTANBUL`` and ``istanbul`` are one word (``I`` lower-cases to ``ı``, ``İ`` to ``i``), and
so are ``Işık`` and ``isik`` typed without Turkish letters.  A term matches only as whole
words: ``acme`` is found in "Acme'ye" and "ACME kargo" but not in "acmetech".
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from scrm.plugin import normalize

__all__ = ["Matcher"]


class Matcher:
    """Match text against a fixed set of terms.

    :param terms: brand and product names, misspellings, in any case and spelling.
    """

    def __init__(self, terms: Iterable[str]) -> None:
        folded = {normalize(t) for t in terms}
        self.terms = sorted((t for t in folded if t), key=lambda t: (-len(t), t))
        alternatives = "|".join(re.escape(t) for t in self.terms)
        # Literal alternatives between look-arounds: linear in the text for a fixed term list.
        self._re = re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)") if self.terms else None

    def __bool__(self) -> bool:
        return self._re is not None

    def find(self, *texts: str | None) -> list[str]:
        """Return the (normalised) terms found in ``texts``, each once, in order of first use."""
        if self._re is None:
            return []
        found: dict[str, None] = {}
        for text in texts:
            if text:
                for m in self._re.finditer(normalize(text)):
                    found.setdefault(m.group(), None)
        return list(found)
