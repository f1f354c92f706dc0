"""What a runtime hook gets as ``ctx``: the application's configuration and plugin settings.

A plugin declares its settings as a pydantic model in a ``Settings`` attribute; the
application validates every loaded plugin's ``[plugins.<name>]`` section once, when it
starts (:func:`scrm.core.plugins.check_plugin_config`), and hands the validated models to
the hooks through ``ctx.plugin_config(name)``.  Decision hooks (``classify_interaction``,
``route_interaction``, ``choose_sla``, ``register_categories``) get the :class:`PluginContext`
of the message's or the case's brand: ``ctx.brand`` is its key, and ``ctx.plugin_config(name)``
and ``ctx.config`` are the brand's (its ``[brands.<key>]`` overrides merged over the
deployment's, :meth:`~scrm.core.config.Config.for_brand`), so a plugin reads a brand's
settings through the same call as a single brand's.  After-commit hooks get an
:class:`~scrm.core.dispatch.EventContext`, which is the deployment's context.  A plugin keeps
no settings of its own: several applications with different settings may share one plugin
manager.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydantic import BaseModel

    from scrm.core.config import Config

__all__ = ["PluginContext"]


class PluginContext:
    """The configuration of one application, or of one of its brands, as the plugins read it.

    :ivar config: the configuration (``config.timezone``, say); a brand's context has the
        brand's (:meth:`~scrm.core.config.Config.for_brand`).
    :ivar settings: every loaded plugin's validated settings, by plugin name.
    :ivar brand: the key of the brand decided for (``"default"`` in a single-brand
        installation), or None: the deployment as a whole (``scrm classify``, after-commit
        hooks).
    """

    def __init__(
        self,
        config: Config,
        settings: Mapping[str, BaseModel],
        *,
        brand: str | None = None,
        brands: Mapping[str, Mapping[str, BaseModel]] | None = None,
    ) -> None:
        """:param brands: the validated settings of the brands that set their own
        (:func:`scrm.core.configcheck.check_brands`), by key; other brands share ``settings``."""
        self.config = config
        self.settings = dict(settings)
        self.brand = brand
        self._root = self
        self._brand_settings = dict(brands or {})
        self._brands: dict[str, PluginContext] = {}

    def plugin_config(self, name: str) -> Any:
        """The validated ``Settings`` of plugin ``name`` (an instance of its model), or
        ``None`` for a plugin that declares none or is not loaded."""
        return self.settings.get(name)

    def for_brand(self, key: str | None) -> PluginContext:
        """The context of brand ``key``: its own settings where ``[brands.<key>]`` sets any,
        else the deployment's.  None: the deployment's context."""
        root = self._root
        if key is None:
            return root
        ctx = root._brands.get(key)
        if ctx is None:
            own = root._brand_settings.get(key)
            config = root.config.for_brand(key) if own is not None else root.config
            ctx = PluginContext(config, own if own is not None else root.settings, brand=key)
            ctx._root = root
            root._brands[key] = ctx
        return ctx
