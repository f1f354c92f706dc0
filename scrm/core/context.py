"""What a runtime hook gets as ``ctx``: the application's configuration and plugin settings.

A plugin declares its settings as a pydantic model in a ``Settings`` attribute; the
application validates every loaded plugin's ``[plugins.<name>]`` section once, when it
starts (:func:`scrm.core.plugins.check_plugin_config`), and hands the validated models to
the hooks through ``ctx.plugin_config(name)``.  Decision hooks (``classify_interaction``,
``route_interaction``, ``choose_sla``) get a :class:`PluginContext`; after-commit hooks get
an :class:`~scrm.core.dispatch.EventContext`, which is one too.  A plugin keeps no settings
of its own: several applications with different settings may share one plugin manager.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydantic import BaseModel

    from scrm.core.config import Config

__all__ = ["PluginContext"]


class PluginContext:
    """The configuration of one application, as the plugins read it.

    :ivar config: the application's whole configuration (``config.timezone``, say).
    :ivar settings: every loaded plugin's validated settings, by plugin name.
    """

    def __init__(self, config: Config, settings: Mapping[str, BaseModel]) -> None:
        self.config = config
        self.settings = dict(settings)

    def plugin_config(self, name: str) -> Any:
        """The validated ``Settings`` of plugin ``name`` (an instance of its model), or
        ``None`` for a plugin that declares none or is not loaded."""
        return self.settings.get(name)
