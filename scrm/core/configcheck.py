"""Check a configuration against the installed plugins before anything runs.

``load_config`` validates scrm's own settings; the ``[channels.<name>]`` and
``[plugins.<name>]`` sections belong to plugins.  :func:`check_config` refuses a section
that no installed plugin owns, and settings a plugin's ``Settings`` model refuses, with one
line naming the key, where it was set and how to fix it.  Nothing is skipped silently.

A plugin with settings declares them as a pydantic model in a ``Settings`` attribute (a
channel: its ``Channel.Settings``), built-in or installed alike.  Each loaded plugin's
section is validated here, once, when an application (or the command line) starts; the
validated models are what ``app.plugin_config(name)`` and ``ctx.plugin_config(name)``
return.  A model's validators see the whole configuration as ``info.context["config"]``
(the router reads the playbooks folder there).  Errors name keys, never the values set for
them (they may be credentials).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from scrm.core.channel import DEFAULT_ACCOUNT, account_sections
from scrm.core.config import TRIAGE, Config, ConfigError, describe_errors

if TYPE_CHECKING:
    from scrm.core.channel import Channel
    from scrm.core.plugins import PluginManager

__all__ = ["check_brands", "check_config", "masked", "settings_model", "source_of"]

#: Keys whose values are never shown (``scrm config check`` prints "***" instead).
SECRET_WORDS = ("token", "password", "passwd", "secret", "key", "credential")
DOCS = "docs/operators.md#configuration"


def source_of(config: Config, path: Sequence[str]) -> str:
    """Say where the settings under ``path`` (``("plugins", "sla")``) were set."""
    prefix = "SCRM_" + "__".join(p.upper() for p in path)
    env = sorted(k for k in os.environ if k.upper().startswith(prefix))
    if env:
        return f"the environment ({env[0]})"
    if config.config_file is not None:
        return str(config.config_file)
    return "the settings given in code"


def settings_model(plugin: object) -> type[BaseModel] | None:
    """The pydantic model a plugin declares its ``[plugins.<name>]`` settings with, if any."""
    model = getattr(plugin, "Settings", None)
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def check_config(
    config: Config,
    pm: PluginManager,
    channels: Mapping[str, type[Channel]],
    known_plugins: Iterable[str] = (),
    builtin: Iterable[str] = (),
) -> dict[str, BaseModel]:
    """Validate every plugin's settings; return them by plugin name.

    Every loaded plugin that declares a ``Settings`` model gets it validated from its
    section (an absent section is ``{}``: the defaults).

    :param channels: the installed channels (name to class).
    :param known_plugins: every plugin name that exists; the sections of those not loaded
        (blocked, left out of ``SCRM_LOAD_PLUGINS``, failed to load) are left alone.  Iterated
        only when a section's plugin is not loaded.
    :param builtin: the built-in plugins' names: scrm does not run without them, and says so.
    :raises ConfigError: on a section no plugin owns or settings a plugin refuses.
    """
    for name, section in config.channels.items():
        cls = channels.get(name)
        where = source_of(config, ("channels", name))
        if cls is None:
            known = ", ".join(sorted(channels)) or "none"
            raise ConfigError(
                f"unknown section [channels.{name}] in {where}: no installed plugin provides "
                f"channel {name!r}; channels: {known}. Fix the name or remove the section"
            )
        try:
            sections = account_sections(section)
        except ValueError as exc:
            raise ConfigError(f"invalid configuration in {where}: channels.{name}.{exc}") from None
        for label, account in sections.items():
            prefix = f"channels.{name}" + ("" if label == DEFAULT_ACCOUNT else f".accounts.{label}")
            _validate(cls.Settings, account, prefix, where)
    loaded = {n: p for n, p in pm.list_name_plugin() if p is not None}
    _check_sections(config, ("plugins",), config.plugins, pm, loaded, known_plugins)
    return _validate_plugins(config, ("plugins",), loaded, set(builtin))


def check_brands(
    config: Config,
    pm: PluginManager,
    settings: Mapping[str, BaseModel],
    known_plugins: Iterable[str] = (),
    builtin: Iterable[str] = (),
) -> dict[str, dict[str, BaseModel]]:
    """Validate what each ``[brands.<key>]`` decides differently: its departments, its
    playbooks and its ``[brands.<key>.plugins.<name>]`` sections, each merged over the
    deployment's (:meth:`Config.for_brand`).

    :param settings: the deployment's validated settings (:func:`check_config`); a brand that
        overrides no plugin setting and no playbooks shares them.
    :returns: each plugin's validated ``Settings`` per brand key, for the brands that decide
        anything differently.
    :raises ConfigError: one line naming ``brands.<key>.<path>``.
    """
    from scrm.core.playbooks import PlaybookError, load_playbooks

    loaded = {n: p for n, p in pm.list_name_plugin() if p is not None}
    codes = [d.code for d in config.departments]
    out: dict[str, dict[str, BaseModel]] = {}
    for key, brand in config.brands.items():
        if not brand.has_policy:
            continue
        where = source_of(config, ("brands", key))
        for i, code in enumerate(brand.departments or ()):
            if code not in codes and code != TRIAGE:
                raise ConfigError(
                    f"invalid configuration in {where}: brands.{key}.departments.{i}: no "
                    f"department {code!r}; departments: {', '.join(codes)} (fix the code or add "
                    "the department to [[departments]])"
                )
        if brand.playbooks is not None:
            try:
                load_playbooks(brand.playbooks)
            except PlaybookError as exc:
                raise ConfigError(
                    f"invalid configuration in {where}: brands.{key}.playbooks: {exc}"
                ) from None
        if not brand.plugins and brand.playbooks is None:
            out[key] = dict(settings)
            continue
        path = ("brands", key, "plugins")
        _check_sections(config, path, brand.plugins, pm, loaded, known_plugins)
        out[key] = _validate_plugins(config.for_brand(key), path, loaded, set(builtin), config)
    return out


def _check_sections(
    config: Config,
    path: tuple[str, ...],
    sections: Mapping[str, Any],
    pm: PluginManager,
    loaded: Mapping[str, object],
    known_plugins: Iterable[str],
) -> None:
    """Refuse a plugin section (under ``path``) that no loaded plugin with settings owns."""
    existing: set[str] | None = None  # read when a section's plugin is not loaded
    for name in sections:
        where = source_of(config, (*path, name))
        table = ".".join((*path, name))
        plugin = loaded.get(name)
        if plugin is None:
            existing = set(known_plugins) if existing is None else existing
            if name in existing or pm.is_blocked(name):
                continue
            names = ", ".join(sorted(loaded))
            raise ConfigError(
                f"unknown section [{table}] in {where}: no plugin is called {name!r}; "
                f"plugins: {names}. Fix the name or remove the section"
            )
        if settings_model(plugin) is None:
            raise ConfigError(
                f"unknown section [{table}] in {where}: plugin {name!r} takes no "
                "settings. Remove the section"
            )


def _validate_plugins(
    config: Config,
    path: tuple[str, ...],
    loaded: Mapping[str, object],
    core: set[str],
    sources: Config | None = None,
) -> dict[str, BaseModel]:
    """Every loaded plugin's settings from ``config``'s sections, errors named under ``path``.

    :param sources: the configuration that says where a setting was given (default:
        ``config``; a brand's merged configuration is not read from anywhere itself).
    """
    validated: dict[str, BaseModel] = {}
    for name, plugin in loaded.items():
        model = settings_model(plugin)
        if model is None:
            continue
        where = source_of(sources or config, (*path, name))
        section = config.plugins.get(name, {})
        suffix = (
            f"; scrm does not run without its built-in plugin {name!r} (its settings: {DOCS})"
            if name in core
            else ""
        )
        prefix = ".".join((*path, name))
        validated[name] = _validate(model, section, prefix, where, config, suffix)
    return validated


def _validate(
    model: type[BaseModel],
    section: Any,
    prefix: str,
    where: str,
    config: Config | None = None,
    suffix: str = "",
) -> BaseModel:
    try:
        return model.model_validate(section, context={"config": config})
    except ValidationError as exc:
        detail = describe_errors(exc, prefix)
        if any(e["type"] == "extra_forbidden" and len(e["loc"]) == 1 for e in exc.errors()):
            detail += f"; expected: {', '.join(model.model_fields)}"
        raise ConfigError(f"invalid configuration in {where}: {detail}{suffix}") from None


def _is_secret(key: str) -> bool:
    words = key.lower().replace("-", "_").split("_")
    return any(w.rstrip("s") in SECRET_WORDS for w in words)


def _mask(value: Any, key: str = "") -> Any:
    if _is_secret(key) and value not in (None, "", [], {}):
        return "***"
    if isinstance(value, Mapping):
        return {k: _mask(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_mask(v) for v in value]
    return value


def masked(config: Config) -> dict[str, Any]:
    """Return the effective configuration as JSON-ready data with every secret replaced.

    Secrets are values of keys named like a token, password, secret or key, and the password
    of the database URL.
    """
    from sqlalchemy.engine import make_url

    data: dict[str, Any] = _mask(config.model_dump(mode="json"))
    data["database_url"] = make_url(config.database_url).render_as_string(hide_password=True)
    data["config_file"] = str(config.config_file) if config.config_file else None
    return data
