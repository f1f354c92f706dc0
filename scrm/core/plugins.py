"""Plugin manager factory and the typed facade the core calls hooks through.

Built-in plugins are listed in ``DEFAULT_PLUGINS`` (``module`` or ``module:object``, what an
entry point names); third-party plugins come from the ``scrm`` entry point group.  Both
declare their settings the same way, as a pydantic ``Settings`` model, validated once per
application by :func:`check_plugin_config`.  Nothing is discovered as a side effect of import.

Environment controls: ``SCRM_LOAD_PLUGINS`` (comma-separated allow-list of plugin names),
``SCRM_DISABLE_PLUGINS`` (block-list), ``SCRM_TRACE_PLUGINS=1`` (log every hook call).
"""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Iterable, Iterator
from functools import cached_property
from importlib.metadata import entry_points
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pluggy

from scrm.core import hookspecs
from scrm.core.config import TRIAGE, Config
from scrm.core.configcheck import check_brands, check_config
from scrm.core.errors import ScrmError
from scrm.core.schemas import Classification, RouteDecision

if TYPE_CHECKING:
    from pydantic import BaseModel

    from scrm.core.channel import Channel
    from scrm.core.context import PluginContext
    from scrm.core.playbooks import PlaybookSet
    from scrm.core.schemas import CaseInfo, CustomerInfo, InboundInteraction, SlaPolicy

__all__ = [
    "DEFAULT_PLUGINS",
    "Hooks",
    "PluginError",
    "PluginManager",
    "check_plugin_config",
    "get_plugin_manager",
    "migration_locations",
    "migrations",
    "only",
    "plugin_context",
    "plugin_info",
]

log = logging.getLogger(__name__)

DEFAULT_PLUGINS: tuple[tuple[str, str], ...] = (
    ("manual", "scrm.plugins.manual"),
    ("classifier", "scrm.plugins.classifier:plugin"),
    ("router", "scrm.plugins.router:plugin"),
    ("sla", "scrm.plugins.sla:plugin"),
    ("support", "scrm.plugins.support:plugin"),
    ("sales", "scrm.plugins.sales:plugin"),
    ("marketing", "scrm.plugins.marketing:plugin"),
    ("rnd", "scrm.plugins.rnd:plugin"),
    ("crisis", "scrm.plugins.crisis:plugin"),
    ("coordinated", "scrm.plugins.coordinated:plugin"),
    ("webhooks", "scrm.plugins.webhooks:plugin"),
    ("acknowledge", "scrm.plugins.acknowledge"),
)


class PluginError(ScrmError):
    """A plugin could not be loaded or misbehaves; the message names the plugin."""

    code = "plugin"


class PluginManager(pluggy.PluginManager):
    """pluggy's manager, remembering which distribution each plugin came from."""

    def __init__(self) -> None:
        super().__init__(hookspecs.PROJECT)
        self.distributions: dict[str, tuple[str, str]] = {}
        self.load_errors: list[str] = []


def _env_list(name: str) -> set[str]:
    return {p.strip() for p in os.environ.get(name, "").split(",") if p.strip()}


def _load_builtin(spec: str) -> object:
    """The object ``module:name`` names (the module itself without ``:name``), as an entry
    point is loaded."""
    module_name, _, attr = spec.partition(":")
    module = importlib.import_module(module_name)
    return getattr(module, attr) if attr else module


def readable_name(name: str | None, plugin: object) -> str:
    """A plugin's name, or for one registered without a name its ``module:Class``.

    pluggy names a plugin registered without a name after its ``id()``, which says nothing
    to a reader and differs between processes.
    """
    if name and not name.isdigit():
        return name
    kind = plugin if isinstance(plugin, type | ModuleType) else type(plugin)
    return f"{kind.__module__}:{getattr(kind, '__qualname__', kind.__name__)}"


def _invalid(pm: PluginManager, exc: pluggy.PluginValidationError) -> PluginError:
    """pluggy's complaint about a hook implementation, on one line naming the plugin."""
    name = readable_name(pm.get_name(exc.plugin), exc.plugin)
    fix = f"; disable it with SCRM_DISABLE_PLUGINS={name}" if name in pm.distributions else ""
    return PluginError(f"plugin {name!r}: {' '.join(str(exc).split())}{fix}")


def get_plugin_manager(
    *,
    load_entrypoints: bool = True,
    block: Iterable[str] = (),
    extra: Iterable[object] = (),
    strict: bool = True,
) -> PluginManager:
    """Build a plugin manager with the specs, the built-ins and the installed plugins.

    :param load_entrypoints: load third-party plugins from the ``scrm`` entry point group.
    :param block: plugin names not to load.
    :param extra: plugin objects to register as well (tests, embedding applications).
    :param strict: raise on an installed plugin that fails to load; otherwise skip it and
        record the error in ``pm.load_errors`` (the CLI prints them and carries on without it).
    :raises PluginError: naming the installed plugin that failed to load.
    """
    pm = PluginManager()
    pm.add_hookspecs(hookspecs)
    # Historic: every plugin registered from here on declares its hooks as it arrives.
    pm.hook.register_hookspecs.call_historic(kwargs={"register": pm.add_hookspecs})
    allow = _env_list("SCRM_LOAD_PLUGINS")
    blocked = set(block) | _env_list("SCRM_DISABLE_PLUGINS")

    def wanted(name: str) -> bool:
        return name not in blocked and (not allow or name in allow)

    for name, spec in DEFAULT_PLUGINS:
        if wanted(name):
            pm.register(_load_builtin(spec), name=name)
    if load_entrypoints:
        for ep in entry_points(group=hookspecs.PROJECT):
            if not wanted(ep.name) or pm.has_plugin(ep.name):
                continue
            try:
                plugin = ep.load()
                pm.register(plugin, name=ep.name)
            except Exception as exc:
                dist = ep.dist.name if ep.dist else "?"
                error = PluginError(
                    f"plugin {ep.name!r} (distribution {dist}, {ep.value}) failed to load: "
                    f"{type(exc).__name__}: {' '.join(str(exc).split())}; disable it with SCRM_DISABLE_PLUGINS={ep.name}"
                )
                if strict:
                    raise error from exc
                pm.load_errors.append(str(error))
                continue
            if ep.dist is not None:
                pm.distributions[ep.name] = (ep.dist.name, ep.dist.version)
    try:
        for plugin in extra:
            if not pm.is_registered(plugin):  # an installed plugin a test also lists
                pm.register(plugin)
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise _invalid(pm, exc) from exc
    for name in blocked:
        pm.set_blocked(name)
    if os.environ.get("SCRM_TRACE_PLUGINS") == "1":
        pm.trace.root.setwriter(lambda msg: log.info("%s", msg.rstrip()))
        pm.enable_tracing()
    return pm


def check_plugin_config(config: Config, pm: PluginManager) -> dict[str, BaseModel]:
    """Validate the ``[channels.*]``, ``[plugins.*]`` and ``[brands.<key>.plugins.*]``
    settings against the loaded plugins.

    :returns: each plugin's validated ``Settings``, by plugin name (those that declare one).
    :raises ConfigError: naming the section or key, where it was set, and the fix.
    """
    return plugin_context(config, pm).settings


def plugin_context(config: Config, pm: PluginManager) -> PluginContext:
    """``config`` with every plugin's settings validated: the deployment's, and those of
    each brand that sets its own (:func:`~scrm.core.configcheck.check_brands`)."""
    from scrm.core.context import PluginContext

    builtin = [name for name, _ in DEFAULT_PLUGINS]
    settings = check_config(
        config, pm, collect_channels(pm), known_plugins=_known_plugin_names(), builtin=builtin
    )
    brands = check_brands(
        config, pm, settings, known_plugins=_known_plugin_names(), builtin=builtin
    )
    return PluginContext(config, settings, brands=brands)


def migrations(pm: PluginManager) -> list[tuple[str, str | None]]:
    """What the plugins register with ``register_migrations``: (version location, module of
    their models or None), once each."""
    found: list[tuple[str, str | None]] = []

    def register(location: str, models: str | None = None) -> None:
        found.append((location, models))

    pm.hook.register_migrations(register=register)
    return list(dict.fromkeys(found))


def migration_locations(pm: PluginManager) -> list[str]:
    """The Alembic version locations the plugins register, once each."""
    return list(dict.fromkeys(location for location, _ in migrations(pm)))


def _known_plugin_names() -> Iterator[str]:
    """Every plugin that exists, loaded or not; the installed ones are read when asked for."""
    yield from (name for name, _ in DEFAULT_PLUGINS)
    yield from (ep.name for ep in entry_points(group=hookspecs.PROJECT))


def plugin_info(pm: PluginManager) -> list[dict[str, Any]]:
    """Describe each registered plugin: name, distribution, version, hooks implemented."""
    from scrm import __version__

    out = []
    for name, plugin in pm.list_name_plugin():
        if plugin is None:
            continue
        project, version = pm.distributions.get(name, ("scrm (built-in)", __version__))
        hooks = sorted(h.name for h in pm.get_hookcallers(plugin) or [])
        out.append({"name": name, "distribution": project, "version": version, "hooks": hooks})
    return out


def collect_channels(pm: PluginManager) -> dict[str, type[Channel]]:
    """Ask every plugin for its channels; a name registered twice is an error naming both."""
    found: dict[str, tuple[type[Channel], str]] = {}

    for impl in pm.hook.register_channels.get_hookimpls():
        plugin_name = impl.plugin_name

        def register(cls: type[Channel], _plugin: str = plugin_name) -> None:
            for ch in cls.handles():
                if ch in found:
                    raise PluginError(
                        f"channel {ch!r} is registered by both {found[ch][1]!r} and {_plugin!r}"
                    )
                found[ch] = (cls, _plugin)

        impl.function(register=register)
    return {name: cls for name, (cls, _) in found.items()}


class Hooks:
    """Typed calls of the hooks the core uses, with the built-in fallbacks applied.

    The decision hooks get ``ctx``: the deployment's, or a brand's (:meth:`for_brand`); an
    SLA policy is always chosen with the context of the case's brand.
    """

    def __init__(
        self, pm: PluginManager, ctx: PluginContext, channels: dict[str, type[Channel]] | None = None
    ) -> None:
        self.pm = pm
        self.ctx = ctx
        self.channels = channels if channels is not None else collect_channels(pm)
        self._brands: dict[str | None, Hooks] = {ctx.brand: self}

    def for_brand(self, key: str | None) -> Hooks:
        """The hooks deciding for brand ``key`` (None: the deployment's)."""
        found = self._brands.get(key)
        if found is None:
            found = Hooks(self.pm, self.ctx.for_brand(key), self.channels)
            found._brands = self._brands
            self._brands[key] = found
        return found

    @cached_property
    def categories(self) -> dict[str, str | None]:
        """The categories plugins give (``register_categories``), each with the playbook it
        follows when it has none of its own; the first plugin to name a category decides."""
        found: dict[str, str | None] = {}

        def register(category: str, playbook: str | None = None) -> None:
            found.setdefault(category, playbook)

        self.pm.hook.register_categories(register=register, ctx=self.ctx)
        return found

    @cached_property
    def playbooks(self) -> PlaybookSet:
        """The playbooks of ``cases.playbooks`` (the brand's, ``[brands.<key>] playbooks``),
        knowing which playbook each category the plugins register follows."""
        from scrm.core.playbooks import load_playbooks

        return load_playbooks(self.ctx.config.cases.playbooks).with_follows(self.categories)

    def resolve_identity(self, interaction: InboundInteraction) -> list[tuple[str, str]]:
        found: list[tuple[str, str]] = []
        for result in self.pm.hook.resolve_identity(interaction=interaction):
            found.extend(result or ())
        return found

    def classify_or_none(self, interaction: InboundInteraction) -> Classification | None:
        result: Classification | None = self.pm.hook.classify_interaction(
            interaction=interaction, ctx=self.ctx
        )
        return result

    def classify(self, interaction: InboundInteraction) -> Classification:
        result = self.classify_or_none(interaction)
        return result if result is not None else Classification(source="none")

    def route(
        self,
        interaction: InboundInteraction,
        classification: Classification,
        customer: CustomerInfo | None = None,
    ) -> RouteDecision:
        result = self.pm.hook.route_interaction(
            interaction=interaction,
            classification=classification,
            customer=customer,
            ctx=self.ctx,
        )
        if result is None:
            result = RouteDecision(
                department="support", rule="no-router", reason="no router plugin answered"
            )
        return self.within_departments(result)

    def within_departments(self, decision: RouteDecision) -> RouteDecision:
        """``decision``, or triage when it names a department the brand does not use
        (``[brands.<key>] departments``)."""
        brand = self.ctx.config.brands.get(self.ctx.brand or "")
        own = brand.departments if brand is not None else None
        if own is None or decision.department in (None, TRIAGE, *own):
            return decision
        return decision.model_copy(
            update={
                "department": TRIAGE,
                "reason": f"{decision.reason}; brand {self.ctx.brand} has no department "
                f"{decision.department} -> {TRIAGE}",
            }
        )

    def choose_sla(self, case: CaseInfo) -> SlaPolicy | None:
        """The policy of ``case``, chosen with the context of its brand."""
        ctx = self.ctx if case.brand == self.ctx.brand else self.ctx.for_brand(case.brand)
        return self.pm.hook.choose_sla(case=case, ctx=ctx)

    def notify(self, hook_name: str, **kwargs: Any) -> None:
        """Call a hook that records nothing (``parity_gap``) plugin by plugin, through pluggy
        (wrappers and tracing see each call); one failing plugin is logged and does not stop
        the others.  After-commit hooks are dispatched from domain events instead
        (:mod:`scrm.core.dispatch`)."""
        for impl in reversed(getattr(self.pm.hook, hook_name).get_hookimpls()):
            caller = only(self.pm, hook_name, impl.plugin)
            if caller is None:
                continue
            try:
                caller(**kwargs)
            except Exception:
                log.exception("plugin %r failed in %s", impl.plugin_name, hook_name)


def only(pm: pluggy.PluginManager, hook: str, plugin: object) -> Any:
    """``hook`` restricted to ``plugin``'s implementation and every wrapper, or None when
    ``plugin`` does not implement it (a wrapper alone is not an implementation)."""
    others = []
    mine = False
    for impl in getattr(pm.hook, hook).get_hookimpls():
        wrapper = impl.wrapper or impl.hookwrapper
        if impl.plugin is plugin:
            mine = not wrapper
        elif not wrapper:
            others.append(impl.plugin)
    return pm.subset_hook_caller(hook, others) if mine else None
