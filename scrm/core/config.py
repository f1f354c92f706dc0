"""Configuration: ``scrm.toml`` and ``SCRM_*`` environment variables.

Precedence, highest first: arguments given in code, environment variables
(``SCRM_DATABASE_URL``, nested keys with ``__`` such as ``SCRM_CHANNELS__TWITTER__BEARER_TOKEN``),
the TOML file (``SCRM_CONFIG`` or ``./scrm.toml``), defaults.
"""

from __future__ import annotations

import os
import stat
import warnings
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

__all__ = [
    "CasesConfig",
    "Config",
    "ConfigError",
    "CsatConfig",
    "DepartmentConfig",
    "EscalationStep",
    "load_config",
    "starter_config",
]

DEFAULT_CONFIG_FILE = "scrm.toml"


class ConfigError(Exception):
    """The configuration is invalid; the message names the file and the key."""


class DepartmentConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")
    name: str


class EscalationStep(BaseModel):
    """One rung of the escalation ladder, climbed when a deadline has been missed for ``after``."""

    model_config = ConfigDict(extra="forbid")

    after: timedelta = Field(description="Time since the breach before this step acts.")
    to: str = Field(
        description="'assignee', 'lead' (a lead of the case's department), 'head' (its head), or an agent username."
    )
    actions: tuple[Literal["notify", "reassign", "raise_priority"], ...] = ("notify",)


DEFAULT_LADDER = [
    EscalationStep(after=timedelta(0), to="assignee", actions=("notify",)),
    EscalationStep(
        after=timedelta(hours=1), to="lead", actions=("notify", "reassign", "raise_priority")
    ),
    EscalationStep(after=timedelta(hours=4), to="head", actions=("notify", "raise_priority")),
]


class CsatConfig(BaseModel):
    """The satisfaction question asked after a solution is proposed."""

    model_config = ConfigDict(extra="forbid")

    scale_min: int = 1
    scale_max: int = 5
    reopen_at_or_below: int = Field(
        default=2, description="A rating at or below this reopens the case."
    )
    questions: dict[str, str] = Field(
        default_factory=lambda: {
            "tr": "Sorununuz çözüldü mü? Deneyiminizi 1 (hiç memnun değilim) ile 5 (çok memnunum) arasında puanlar mısınız?",
            "en": "Is your issue solved? How would you rate your experience from 1 (very unhappy) to 5 (very happy)?",
        },
        description="The question per language; the case's language picks one, English by default.",
    )


class CasesConfig(BaseModel):
    """How the complaint loop runs."""

    model_config = ConfigDict(extra="forbid")

    auto_acknowledge: bool = Field(
        default=False, description="Queue the playbook's acknowledgment as soon as a case opens."
    )
    reopen_escalate_after: int = Field(
        default=2, ge=1, description="Escalate a case that reopens this many times."
    )
    ask_csat: bool = Field(
        default=True, description="Ask for a rating when a solution is proposed."
    )
    escalation: list[EscalationStep] = Field(default_factory=lambda: list(DEFAULT_LADDER))
    csat: CsatConfig = Field(default_factory=CsatConfig)
    playbooks: Path | None = Field(
        default=None, description="Folder of playbook TOML files; default: the shipped set."
    )


DEFAULT_DEPARTMENTS = [
    DepartmentConfig(code="support", name="Customer support"),
    DepartmentConfig(code="sales", name="Sales"),
    DepartmentConfig(code="marketing", name="Marketing and communication"),
    DepartmentConfig(code="rnd", name="Research and development"),
]


class Config(BaseSettings):
    """All of scrm's settings. Plugin sections are free-form and validated by the plugin."""

    model_config = SettingsConfigDict(
        env_prefix="SCRM_", env_nested_delimiter="__", extra="forbid", validate_default=True
    )

    database_url: str = Field(
        default="sqlite:///scrm.db", description="SQLAlchemy URL; SQLite file or PostgreSQL."
    )
    batch_size: int = Field(
        default=1000, ge=1, le=100_000, description="Interactions per ingest transaction."
    )
    timezone: str = Field(
        default="Europe/Istanbul", description="Zone for business hours and reports."
    )
    attach_window: timedelta = Field(
        default=timedelta(days=7),
        description="A new message joins the same customer's open case of the same category if that case saw activity within this window.",
    )
    departments: list[DepartmentConfig] = Field(default_factory=lambda: list(DEFAULT_DEPARTMENTS))
    cases: CasesConfig = Field(default_factory=CasesConfig)
    channels: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="Per-channel settings, e.g. [channels.twitter]."
    )
    plugins: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="Per-plugin settings, e.g. [plugins.classifier]."
    )

    config_file: Path | None = Field(default=None, exclude=True)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_file = init_settings.init_kwargs.get("config_file")  # type: ignore[attr-defined]
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if toml_file:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_file))
        return tuple(sources)

    def plugin_settings(self, name: str) -> dict[str, Any]:
        return dict(self.plugins.get(name, {}))

    def channel_settings(self, name: str) -> dict[str, Any]:
        return dict(self.channels.get(name, {}))


def _find_config_file(path: str | os.PathLike[str] | None) -> Path | None:
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"config file {p} does not exist")
        return p
    env = os.environ.get("SCRM_CONFIG")
    if env:
        p = Path(env)
        if not p.is_file():
            raise ConfigError(f"SCRM_CONFIG points to {p}, which does not exist")
        return p
    p = Path(DEFAULT_CONFIG_FILE)
    return p if p.is_file() else None


def load_config(path: str | os.PathLike[str] | None = None, **overrides: Any) -> Config:
    """Load the configuration; raise :class:`ConfigError` naming the file and key at fault."""
    file = _find_config_file(path)
    if file is not None and os.name == "posix":
        mode = file.stat().st_mode
        if mode & stat.S_IROTH:
            warnings.warn(
                f"{file} is readable by every user on this machine and may hold credentials; "
                f"run: chmod 600 {file}",
                stacklevel=1,
            )
    try:
        return Config(config_file=file, **overrides)
    except ValidationError as exc:
        env = sorted(k for k in os.environ if k.startswith("SCRM_") and k != "SCRM_CONFIG")
        where = (
            " and ".join(filter(None, [str(file) if file else "", ", ".join(env)]))
            or "the defaults"
        )
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"invalid configuration in {where}: {problems}") from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read configuration {file}: {exc}") from None


def starter_config(database_url: str) -> str:
    """Return the commented starter ``scrm.toml`` that ``scrm init`` writes."""
    return f'''# scrm configuration. Environment variables override it: SCRM_DATABASE_URL, and
# nested keys with "__", e.g. SCRM_CHANNELS__TWITTER__BEARER_TOKEN.
# This file may hold credentials: keep it readable by its owner only (chmod 600).

# SQLite file (the embedded default) or PostgreSQL, e.g.
# "postgresql://scrm:secret@db.example.com/scrm"
database_url = "{database_url}"

# Interactions committed per transaction when ingesting.
batch_size = 1000

# Time zone of business hours and reports.
timezone = "Europe/Istanbul"

# A new message joins the same customer's open case of the same category when that
# case saw activity within this window (ISO 8601 duration or seconds).
attach_window = "P7D"

# The complaint loop.
[cases]
# Send the playbook's acknowledgment as soon as a case opens (off by default).
auto_acknowledge = false
# Escalate a case that the customer reopens this many times.
reopen_escalate_after = 2
# Escalation ladder, climbed when a deadline is missed (default shown):
# [[cases.escalation]]
# after = "PT0S"
# to = "assignee"
# actions = ["notify"]
# [[cases.escalation]]
# after = "PT1H"
# to = "lead"
# actions = ["notify", "reassign", "raise_priority"]

# Departments cases are routed to.
# [[departments]]
# code = "support"
# name = "Customer support"

# Channel settings; credentials are better given through the environment.
# [channels.twitter]
# bearer_token = "..."

# Built-in plugin settings.
# [plugins.classifier]
# taxonomy = "my-taxonomy.toml"
'''
