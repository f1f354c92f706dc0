"""Domain errors shared by every layer, in a module that imports nothing heavy.

A plugin raises them through :mod:`scrm.plugin` without loading the database layer.
"""

from __future__ import annotations

__all__ = ["NotFound"]


class NotFound(LookupError):
    """The asked-for record does not exist; the message names it."""
