"""Configuration: ``scrm.toml`` and ``SCRM_*`` environment variables.

Precedence, highest first: arguments given in code, environment variables
(``SCRM_DATABASE_URL``, nested keys with ``__`` such as ``SCRM_CHANNELS__TWITTER__BEARER_TOKEN``),
the TOML file (``SCRM_CONFIG`` or ``./scrm.toml``), defaults.
"""

from __future__ import annotations

import json
import os
import re
import stat
import tomllib
import types
import warnings
from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
)
from pydantic.fields import FieldInfo

from scrm.core.errors import ExitCode, ScrmError
from scrm.core.schemas import BusinessCalendar
from scrm.core.timefmt import get_zone

__all__ = [
    "TRIAGE",
    "BrandConfig",
    "CasesConfig",
    "Config",
    "ConfigError",
    "CsatConfig",
    "DepartmentConfig",
    "EscalationStep",
    "ReportConfig",
    "RetentionConfig",
    "ServerConfig",
    "describe_errors",
    "load_config",
    "starter_config",
]

DEFAULT_CONFIG_FILE = "scrm.toml"
#: URL schemes scrm runs on; anything else is refused when the configuration is loaded.
DATABASE_SCHEMES = ("sqlite", "sqlite+pysqlite", "postgres", "postgresql", "postgresql+psycopg")


class ConfigError(ScrmError):
    """The configuration is invalid; the message names the file and the key."""

    code = "config"
    exit_status = ExitCode.CONFIG


_FIXES = {
    "extra_forbidden": "fix its spelling or remove it",
    "missing": "add it",
    "time_delta_parsing": 'write a duration such as "PT4H" (4 hours) or "P3D" (3 days)',
    "time_delta_type": 'write a duration such as "PT4H" (4 hours) or "P3D" (3 days)',
    "bool_parsing": "write true or false",
    "int_parsing": "write a whole number",
    "float_parsing": "write a number",
}


def plain_message(err: Mapping[str, Any]) -> str:
    """One pydantic error's message in plain words.

    A validator that raises ``ValueError("must lie between 1970 and 2099")`` reaches pydantic
    as "Value error, must lie between ..."; people read only the second part.
    """
    return str(err["msg"]).removeprefix("Value error, ")


def describe_errors(exc: ValidationError, prefix: str) -> str:
    """Render a validation error as ``key: problem (fix)`` parts on one line, without values."""
    parts = []
    for err in exc.errors():
        key = ".".join([*([prefix] if prefix else []), *(str(p) for p in err["loc"])])
        fix = _FIXES.get(err["type"], "fix the value or remove the key")
        msg = plain_message(err)
        if err["type"] == "extra_forbidden":
            msg = "not a setting"
        parts.append(f"{key}: {msg} ({fix})")
    return "; ".join(parts)


class DepartmentConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")
    name: str
    assignment: Literal["least_open", "round_robin", "manual"] = Field(
        default="least_open",
        description="How new cases find an agent: fewest open cases, in turn, or by hand.",
    )


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
    on_thanks: Literal["resolve", "confirm"] = Field(
        default="resolve",
        description="A customer's thank-you after the brand's answer: resolve the case, or "
        "propose the solution and ask them to confirm.",
    )
    continue_window: timedelta = Field(
        default=timedelta(days=3),
        description="A customer's message continues their open case waiting on them (the DM "
        "with the details asked for, the call about the tweet) on any channel within this time.",
    )
    close_after_silence: timedelta | None = Field(
        default=timedelta(days=7),
        description="A case whose proposed solution got no answer for this long is resolved "
        "and closed (by `scrm sla check` and the worker); unset: never.",
    )
    reopen_window: timedelta = Field(
        default=timedelta(days=7),
        description="A message in a closed case's thread reopens it within this time after "
        "closing; later it opens a new case.",
    )
    escalation: list[EscalationStep] = Field(default_factory=lambda: list(DEFAULT_LADDER))
    csat: CsatConfig = Field(default_factory=CsatConfig)
    playbooks: Path | None = Field(
        default=None, description="Folder of playbook TOML files; default: the shipped set."
    )


class ServerConfig(BaseModel):
    """``[server]``: the HTTP service (``scrm serve``): webhooks in and out, request limits."""

    model_config = ConfigDict(extra="forbid")

    secret_key: SecretStr | None = Field(
        default=None,
        description="Server key; the signing secret of every outgoing webhook is derived from it "
        "(nothing secret is stored in the database). Set SCRM_SERVER__SECRET_KEY.",
    )
    max_body_bytes: int = Field(
        default=1_048_576, ge=1, description="Largest request body accepted (bigger: 413)."
    )
    process_webhooks: bool = Field(
        default=True,
        description="Process a stored webhook delivery right after answering it; off: leave "
        "it to `scrm inbox process`.",
    )
    deliver_interval: float = Field(
        default=5.0,
        ge=0,
        description="Seconds between outgoing webhook delivery runs inside `scrm serve`; 0: off.",
    )
    webhook_timeout: float = Field(
        default=10.0, gt=0, description="Seconds to wait for a subscriber to answer."
    )


class RetentionConfig(BaseModel):
    """``[retention]``: how many days each class of personal data is kept (unset: forever).

    Applied by ``scrm retention apply`` (:func:`scrm.core.retention.apply_retention`); rows
    that metrics count are kept, only their content goes.
    """

    model_config = ConfigDict(extra="forbid")

    raw_payloads: int | None = Field(
        default=None, ge=1, description="Days to keep interactions' native payloads (raw)."
    )
    closed_cases: int | None = Field(
        default=None,
        ge=1,
        description="Days after closing before a case's content (messages, notes, replies) "
        "is anonymised; rows, times and states stay for metrics.",
    )
    rejects: int | None = Field(
        default=None, ge=1, description="Days to keep rejects (dead letters) since last touched."
    )
    outbox_bodies: int | None = Field(
        default=None, ge=1, description="Days to keep the text of delivered replies in the outbox."
    )
    webhook_payloads: int | None = Field(
        default=None, ge=1, description="Days to keep payloads of delivered outgoing webhooks."
    )
    inbox_bodies: int | None = Field(
        default=30,
        ge=1,
        description="Days to keep bodies of processed incoming webhooks (their hash stays).",
    )


class ReportConfig(BaseModel):
    """``[report]``: the metrics report (``scrm report``) and its channel parity check."""

    model_config = ConfigDict(extra="forbid")

    parity_tolerance_percent: float = Field(
        default=20.0,
        ge=0,
        description="A metric whose traditional-channel value differs from the social one by more "
        "than this (percent of the social value; percentage points for rates) is a parity gap: "
        "highlighted, and the parity_gap hook fires.",
    )
    business_calendar: BusinessCalendar | None = Field(
        default=None,
        description="Opening hours for business-time durations of every case; unset: the "
        "calendar of each case's SLA policy (choose_sla hook).",
    )
    traditional_channels: tuple[str, ...] = Field(
        default=("email", "phone", "letter", "fax", "walk_in"),
        description="Channels counted as traditional when no installed plugin declares them "
        "(a plugin's Channel.social decides for its own channels).",
    )


#: The department of the cases no rule claimed (a person wrote, someone must look); every
#: brand has it.
TRIAGE = "triage"

DEFAULT_DEPARTMENTS = [
    DepartmentConfig(code="support", name="Customer support"),
    DepartmentConfig(code="sales", name="Sales"),
    DepartmentConfig(code="marketing", name="Marketing and communication"),
    DepartmentConfig(code="rnd", name="Research and development"),
    DepartmentConfig(code=TRIAGE, name="Triage (no rule claimed it)"),
]


class BrandConfig(BaseModel):
    """``[brands.<key>]``: one brand of a multi-brand deployment (an agency's client).

    The key (``[brands.acme]``) names the brand in commands (``--brand acme``) and API keys;
    ``default`` is the implicit brand of a single-brand installation.
    """

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=255, description="The brand's display name.")
    timezone: str | None = Field(
        default=None,
        description="IANA time zone of the brand's reports and days (default: the deployment's).",
    )
    accounts: dict[str, list[str]] = Field(
        default_factory=dict,
        description="The brand's own accounts per channel (a page id, a mailbox, a user id): "
        "a message that arrived on one of them belongs to this brand.",
    )
    playbooks: Path | None = Field(
        default=None,
        description="Folder of the brand's playbook TOML files; default: the deployment's "
        "([cases] playbooks).",
    )
    departments: list[str] | None = Field(
        default=None,
        description="Codes of the deployment's departments this brand's cases go to (triage "
        "always); a decision for another goes to triage. Default: every department.",
    )
    plugins: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Plugin settings of this brand, merged over the deployment's "
        "[plugins.<name>] key by key (a list replaces): [brands.<key>.plugins.sla], say.",
    )

    def __repr_args__(self) -> Any:
        # Plugin sections may hold credentials: a repr shows their keys only (as Config's).
        for key, value in super().__repr_args__():
            if key == "plugins" and isinstance(value, dict):
                value = {k: sorted(v) if isinstance(v, dict) else "..." for k, v in value.items()}
            yield key, value

    @property
    def has_policy(self) -> bool:
        """Whether the brand decides anything differently from the deployment."""
        return bool(self.plugins) or self.playbooks is not None or self.departments is not None

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, name: str | None) -> str | None:
        if name is not None:
            get_zone(name)
        return name


BRAND_KEY = r"^[a-z][a-z0-9_-]{0,31}$"


class Config(BaseModel):
    """All of scrm's settings. Plugin sections are free-form and validated by the plugin.

    ``Config(**values)`` reads the sources in the order of the module's docstring (see
    :func:`gather_settings`); ``model_validate`` and ``model_construct`` take the values as
    they are.
    """

    model_config = ConfigDict(extra="forbid", validate_default=True)

    database_url: str = Field(
        default="sqlite:///scrm.db", description="SQLAlchemy URL; SQLite file or PostgreSQL."
    )
    batch_size: int = Field(
        default=1000, ge=1, le=100_000, description="Interactions per ingest transaction."
    )
    timezone: str = Field(
        default="Europe/Istanbul",
        description="IANA time zone of every time a person reads (CLI tables, timelines, "
        "reports) and of report days; stored times and JSON stay UTC with an offset.",
    )
    attach_window: timedelta = Field(
        default=timedelta(days=7),
        description="A new message joins the same customer's open case of the same category if that case saw activity within this window.",
    )
    departments: list[DepartmentConfig] = Field(default_factory=lambda: list(DEFAULT_DEPARTMENTS))
    cases: CasesConfig = Field(default_factory=CasesConfig)
    server: ServerConfig = Field(default_factory=ServerConfig)
    retention: RetentionConfig = Field(default_factory=RetentionConfig)
    report: ReportConfig = Field(default_factory=ReportConfig)
    log_content: bool = Field(
        default=False,
        description="Write message texts and personal data (addresses, handles) into logs; "
        "off: logs carry ids only. For debugging, never in production.",
    )
    channels: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="Per-channel settings, e.g. [channels.twitter]."
    )
    brands: dict[str, BrandConfig] = Field(
        default_factory=dict,
        description="Brands of a multi-brand deployment, e.g. [brands.acme]; none: one "
        "implicit brand.",
    )
    plugins: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="Per-plugin settings, e.g. [plugins.classifier]."
    )

    config_file: Path | None = Field(default=None, exclude=True)

    @field_validator("database_url")
    @classmethod
    def _supported_database(cls, url: str) -> str:
        scheme = url.partition(":")[0].lower()
        if "://" not in url or scheme not in DATABASE_SCHEMES:
            raise ValueError(
                f"unsupported database {scheme or url[:20]!r}: scrm runs on SQLite "
                '("sqlite:///scrm.db") or PostgreSQL ("postgresql://user:password@host/db")'
            )
        return url

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, name: str) -> str:
        get_zone(name)  # raises ValueError naming the zone
        return name

    @field_validator("brands")
    @classmethod
    def _brand_accounts(cls, brands: dict[str, BrandConfig]) -> dict[str, BrandConfig]:
        owner: dict[tuple[str, str], str] = {}
        for key, brand in brands.items():
            if not re.match(BRAND_KEY, key):
                raise ValueError(
                    f"brand key {key!r}: lower-case letters, digits, - and _, at most 32"
                )
            for channel, accounts in brand.accounts.items():
                for account in accounts:
                    other = owner.setdefault((channel, account), key)
                    if other != key:
                        raise ValueError(
                            f"account {channel}:{account} belongs to brands {other} and {key}"
                        )
        return brands

    def __init__(self, **values: Any) -> None:
        super().__init__(**gather_settings(type(self), values))

    def for_brand(self, key: str) -> Config:
        """The configuration brand ``key`` decides with: its ``[brands.<key>]`` playbooks,
        departments and plugin settings over the deployment's (this one when it sets none).

        Plugin sections merge key by key (``[brands.acme.plugins.sla.policies.high]`` changes
        one policy of ``[plugins.sla]``); a list or any other value replaces the deployment's.
        The brand's ``departments`` keep the deployment's departments of those codes, and
        ``triage``.  The result is not validated again: :func:`scrm.core.plugins.brand_contexts`
        validates its plugin sections, naming ``brands.<key>.plugins.<name>``.
        """
        brand = self.brands.get(key)
        if brand is None or not brand.has_policy:
            return self
        update: dict[str, Any] = {"plugins": _merged(self.plugins, brand.plugins)}
        if brand.playbooks is not None:
            update["cases"] = self.cases.model_copy(update={"playbooks": brand.playbooks})
        if brand.departments is not None:
            keep = {*brand.departments, TRIAGE}
            update["departments"] = [d for d in self.departments if d.code in keep]
        return self.model_copy(update=update)

    def plugin_settings(self, name: str) -> dict[str, Any]:
        """Return the raw ``[plugins.<name>]`` section; a plugin reads its validated
        settings with ``ctx.plugin_config(name)`` instead."""
        return dict(self.plugins.get(name, {}))

    @property
    def found(self) -> bool:
        """True when a file, the environment or code chose the database (not the default)."""
        return self.config_file is not None or "database_url" in self.model_fields_set

    def channel_settings(self, name: str) -> dict[str, Any]:
        return dict(self.channels.get(name, {}))

    def __repr_args__(self) -> Any:
        # Channel and plugin sections are free-form and hold credentials (validated into
        # SecretStr only by their plugin): a repr in a log or traceback shows their keys only.
        for key, value in super().__repr_args__():
            if key in ("channels", "plugins") and isinstance(value, dict):
                value = {k: sorted(v) if isinstance(v, dict) else "..." for k, v in value.items()}
            yield key, value


# ------------------------------------------------------------------ reading the sources
ENV_PREFIX = "SCRM_"
ENV_NESTED = "__"


def gather_settings(model: type[BaseModel], given: Mapping[str, Any]) -> dict[str, Any]:
    """Merge the sources of ``model``'s values, highest first: ``given``, ``SCRM_*``
    environment variables, the TOML file named by ``given["config_file"]``.

    Top-level keys of ``given`` and of the file match field names in any case.  Sections
    merge key by key (``SCRM_CASES__ASK_CSAT`` changes one setting of the file's ``[cases]``);
    any other value replaces the lower one.  Environment variable names are matched in any
    case; ``__`` separates nested keys; a list, table or model field takes JSON
    (``SCRM_DEPARTMENTS='[...]'``). In the free-form ``channels`` and ``plugins`` tables a
    section (``SCRM_PLUGINS__SLA``) and anything below its own keys
    (``SCRM_PLUGINS__SLA__POLICIES__NORMAL``) is read as JSON when it parses, a section's own
    keys (``SCRM_PLUGINS__SLA__WARN_BEFORE``) never. Other values stay strings: the model
    validates them.  (These are the rules of pydantic-settings, which scrm used before.)

    :raises ValueError: a JSON value does not parse (the message names the variable).
    :raises OSError: the file cannot be read.  ``tomllib.TOMLDecodeError``: it is not TOML.
    """
    fields = model.model_fields
    given = _by_field_name(fields, given)
    file, from_file = given.get("config_file"), {}
    if file and (path := Path(file).expanduser()).is_file():
        with path.open("rb") as f:
            from_file = _by_field_name(fields, tomllib.load(f))
    return _merged(from_file, _merged(_environment(fields), given))


def _merged(low: Mapping[str, Any], high: Mapping[str, Any]) -> dict[str, Any]:
    """``low`` updated by ``high``; where both hold a table, the tables merge."""
    out = dict(low)
    for key, value in high.items():
        below = out.get(key)
        out[key] = (
            _merged(below, value) if isinstance(below, dict) and isinstance(value, dict) else value
        )
    return out


def _by_field_name(fields: Mapping[str, FieldInfo], values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` with each key that names a field in another case renamed to it (the first wins)."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if key.lower() in fields:
            out.setdefault(key.lower(), value)
        else:
            out[key] = value
    return out


def _environment(fields: Mapping[str, FieldInfo]) -> dict[str, Any]:
    """The values ``SCRM_*`` environment variables give the fields."""
    env = {name.lower(): (name, value) for name, value in os.environ.items()}
    data: dict[str, Any] = {}
    for name, field in fields.items():
        key = (ENV_PREFIX + name).lower()
        is_complex, lenient = _field_is_complex(field)
        found = env.get(key)
        value: Any
        if not is_complex:
            value = found[1] if found else None
        elif found is None:
            value = _explode(field, key + ENV_NESTED, env) or None
        else:
            value = _decode(*found, lenient=lenient)
            if isinstance(value, dict):
                value = _merged(value, _explode(field, key + ENV_NESTED, env))
        if value is not None:
            data[name] = _model_keys(field, value) if isinstance(value, dict) else value
    return data


def _explode(field: FieldInfo, prefix: str, env: Mapping[str, tuple[str, str]]) -> dict[str, Any]:
    """The nested values ``PREFIX<key>__<key>...`` variables give ``field``."""
    is_dict = field.annotation is dict or _is_subclass(get_origin(field.annotation), dict)
    result: dict[str, Any] = {}
    for lower, (name, value) in env.items():
        if not lower.startswith(prefix):
            continue
        *keys, last = lower[len(prefix) :].split(ENV_NESTED)
        node: Any = result
        target: Any = field
        for key in keys:
            target = _next_field(target, key)
            if isinstance(node, dict):
                node = node.setdefault(key, {})
        target = _next_field(target, last)
        decoded: Any = value
        if (target or is_dict) and value:
            if isinstance(target, FieldInfo):
                is_complex, lenient = _field_is_complex(target)
            elif target:  # a bare type: the values of a typed table
                is_complex, lenient = _is_complex(target), True
            else:  # below a free-form table
                is_complex, lenient = True, True
            if is_complex:
                decoded = _decode(name, value, lenient=lenient)
        if isinstance(node, dict):
            node[last] = decoded
    return result


def _next_field(target: Any, key: str) -> Any:
    """What ``key`` names inside ``target`` (a field or a type): a field, a type, or None."""
    if not target:
        return None
    annotation: Any = target.annotation if isinstance(target, FieldInfo) else target
    if _is_subclass(get_origin(annotation), dict):
        args = get_args(annotation)
        return args[-1] if args else None
    for arg in get_args(annotation):
        found = _next_field(arg, key)
        if found:
            return found
    if _is_subclass(annotation, BaseModel):
        for name, field in annotation.model_fields.items():
            if name.lower() == key.lower():
                return field
    return None


def _decode(name: str, value: str, *, lenient: bool) -> Any:
    """``value`` as JSON; a ``lenient`` field keeps the string when it is not JSON."""
    try:
        return json.loads(value)
    except ValueError as exc:
        if lenient:
            return value
        raise ValueError(f"{name} is not valid JSON ({exc})") from None


def _field_is_complex(field: FieldInfo) -> tuple[bool, bool]:
    """Whether the field takes JSON from the environment, and whether a non-JSON value is
    left to the model (a union such as ``list[str] | str``)."""
    if _is_complex(field.annotation):
        return True, False
    if _is_union(field.annotation) and any(_is_complex(a) for a in get_args(field.annotation)):
        return True, True
    return False, False


def _is_complex(annotation: Any) -> bool:
    """A model, list, tuple, set or table (not a string)."""
    if _is_subclass(annotation, (str, bytes)):
        return False
    origin = get_origin(annotation)
    return any(
        _is_subclass(t, (BaseModel, Mapping, Sequence, AbstractSet, tuple))
        for t in (annotation, origin)
    )


def _is_union(annotation: Any) -> bool:
    return get_origin(annotation) in (Union, types.UnionType)


def _is_subclass(value: Any, classes: type | tuple[type, ...]) -> bool:
    return isinstance(value, type) and issubclass(value, classes)


def _model_keys(field: FieldInfo, values: dict[str, Any]) -> dict[str, Any]:
    """``values`` of a model field with their keys spelt as the model's fields (any case)."""
    model = _optional_inner(field.annotation)
    if not _is_subclass(model, BaseModel):
        return values
    fields = {name.lower(): (name, f) for name, f in model.model_fields.items()}
    out: dict[str, Any] = {}
    for key, value in values.items():
        match = fields.get(key.lower())
        if match is None:
            out[key] = value
            continue
        name, sub = match
        sub_is_model = _is_subclass(_optional_inner(sub.annotation), BaseModel)
        out[name] = _model_keys(sub, value) if sub_is_model and isinstance(value, dict) else value
    return out


def _optional_inner(annotation: Any) -> Any:
    """``T`` for ``T | None``, else ``annotation``."""
    args = get_args(annotation)
    if _is_union(annotation) and len(args) == 2 and type(None) in args:
        return next(a for a in args if a is not type(None))
    return annotation


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
        raise ConfigError(f"invalid configuration in {where}: {describe_errors(exc, '')}") from None
    except (OSError, ValueError) as exc:
        source = file or "from the environment"
        raise ConfigError(f"cannot read configuration {source}: {exc}") from None


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

# Time zone of every time shown to a person (CLI, timelines, reports) and of report days.
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
# Ask for a rating when a solution is proposed (the question and scale: [cases.csat]).
ask_csat = true
# Your own playbooks (one TOML file per category) instead of the shipped set:
# playbooks = "playbooks/"
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
# sectors = ["banking"]   # sector packs: banking, telecom, airline, retail, media, utilities, public
# taxonomy = "my-taxonomy.toml"   # your own categories (docs/taxonomy.md)
# model = "scrm-model.pkl"        # written by `scrm train`

# SLA policies per priority, in business time with a calendar:
# [plugins.sla]
# warn_before = "PT30M"
# [plugins.sla.calendars.office]
# timezone = "Europe/Istanbul"
# hours = {{ mon = "09:00-18:00", tue = "09:00-18:00", wed = "09:00-18:00", thu = "09:00-18:00", fri = "09:00-18:00" }}
# holidays = ["2025-01-01"]
# [plugins.sla.policies.normal]
# first_response = "PT4H"
# resolution = "P3D"
# calendar = "office"

# Routing rules, tried in order before the defaults:
# [[plugins.router.rules]]
# name = "gold customers"
# match = {{ kind = ["complaint"], customer = {{ tier = "gold" }} }}
# priority = "high"
'''
