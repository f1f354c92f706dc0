"""scrm: a plugin-based social CRM.

Embed it with :func:`scrm.open`; write plugins with :mod:`scrm.plugin`, the public plugin API.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from scrm.core.hookspecs import hookimpl

if TYPE_CHECKING:
    from scrm.core.app import Scrm

__version__ = "0.1.0"
__all__ = ["__version__", "hookimpl", "open"]


def open(url: str | None = None, **kwargs: Any) -> Scrm:
    """Open an scrm application on the database at ``url`` (default: the configuration's).

    See :func:`scrm.core.app.open_app` for the keyword arguments.
    """
    from scrm.core.app import open_app

    return open_app(url, **kwargs)
