"""Pydantic models for everything that crosses a boundary.

Channel plugins produce :class:`InboundInteraction`; the classify, route and SLA hooks
return :class:`Classification`, :class:`RouteDecision` and :class:`SlaPolicy`; replies
leave through :class:`OutboundMessage`.  The JSON form of :class:`InboundInteraction`
is the *interchange format* (``scrm ingest --format interactions``, ``scrm schema
interaction``): keep it backwards compatible.

What is stored lives in :mod:`scrm.core.models`; conversion happens in the pipeline only.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    field_validator,
    model_validator,
)

from scrm.core.bounds import (
    MAX_DEPTH,
    Count,
    Count32,
    Instant,
    RowId,
    TooDeep,
    clean_json,
    has_bad_text,
)

__all__ = [
    "MAX_TEXT_LENGTH",
    "Attachment",
    "Author",
    "BusinessCalendar",
    "CaseInfo",
    "CaseStatus",
    "Classification",
    "CustomerInfo",
    "Direction",
    "Engagement",
    "InboundInteraction",
    "Kind",
    "OutboundMessage",
    "Priority",
    "RejectInfo",
    "RouteDecision",
    "SendResult",
    "SlaPolicy",
    "StoredInteraction",
    "SweptAlerts",
    "normalize_email",
    "normalize_phone",
]

#: The longest message text accepted (characters). Channel plugins cut or reject longer text
#: before anything else reads it, so no text path ever sees more.
MAX_TEXT_LENGTH = 100_000

ChannelName = Annotated[
    str,
    Field(
        pattern=r"^[a-z][a-z0-9_]{0,31}$",
        description="Channel name, e.g. twitter, facebook, email, phone.",
    ),
]


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


ExternalId = Annotated[str, Field(min_length=1, max_length=255), AfterValidator(_not_blank)]
NORMALISED_KEY = "scrm_normalised"
"""Key added to ``raw`` listing the fields whose NUL, lone surrogates or NaN were replaced."""
_MAX_NOTES = 20


class Direction(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class Kind(StrEnum):
    COMPLAINT = "complaint"
    QUESTION = "question"
    PRAISE = "praise"
    LEAD = "lead"
    IDEA = "idea"
    SPAM = "spam"
    OTHER = "other"


class Priority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"

    @property
    def rank(self) -> int:
        return _PRIORITY_RANK[self]


_PRIORITY_RANK = {Priority.LOW: 0, Priority.NORMAL: 1, Priority.HIGH: 2, Priority.URGENT: 3}


class CaseStatus(StrEnum):
    NEW = "new"
    ACKNOWLEDGED = "acknowledged"
    CONTACTED = "contacted"
    INVESTIGATING = "investigating"
    SOLUTION_PROPOSED = "solution_proposed"
    RESOLVED = "resolved"
    CLOSED = "closed"
    REOPENED = "reopened"


_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def normalize_email(value: str) -> str:
    """Return the canonical form of an e-mail address (trimmed, lower-cased, no display name).

    :raises ValueError: if ``value`` is not an address.
    """
    value = value.strip()
    if "<" in value and value.endswith(">"):
        value = value[value.rindex("<") + 1 : -1]
    value = value.strip().lower()
    if not _EMAIL_RE.match(value):
        raise ValueError(f"not an e-mail address: {value!r}")
    return value


def normalize_phone(value: str, default_country: str = "90") -> str:
    """Return a phone number as ``+<digits>`` (E.164-like); Turkish local numbers get +90.

    :raises ValueError: if fewer than 7 digits remain.
    """
    digits = re.sub(r"\D", "", value)
    if value.strip().startswith("+"):
        pass
    elif digits.startswith("00"):
        digits = digits[2:]
    elif digits.startswith("0"):
        digits = default_country + digits[1:]
    elif len(digits) == 10 and default_country == "90":
        digits = default_country + digits
    if len(digits) < 7:
        raise ValueError(f"not a phone number: {value!r}")
    return "+" + digits


class _Frozen(BaseModel):
    # Validators are built on first use: every command imports these models, few use each.
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)


def _clean_fields(data: Any, *, skip: str | None = None) -> tuple[Any, list[str]]:
    """Replace NUL and lone surrogates in the strings of a model's input (not in ``skip``)."""
    if not isinstance(data, dict):
        return data, []
    rest = {k: v for k, v in data.items() if k != skip}
    if not has_bad_text(rest):
        return data, []
    try:
        cleaned, changed = clean_json(rest, max_depth=16, drop_nonfinite=False)
    except TooDeep:
        return data, []  # nothing this deep is valid: validation refuses it with its field
    if skip in data:
        cleaned[skip] = data[skip]
    return cleaned, changed


class _Inbound(_Frozen):
    """A model filled from outside: its text is normalised before validation (see bounds)."""

    @model_validator(mode="before")
    @classmethod
    def _clean(cls, data: Any) -> Any:
        return _clean_fields(data)[0]


class Author(_Inbound):
    """The person or organisation behind a message, as the channel knows them."""

    external_id: ExternalId = Field(
        description="The channel's stable user id (tweet author id, page-scoped id, e-mail address, phone number)."
    )
    handle: str | None = Field(
        default=None, max_length=255, description="@handle or login, without the @."
    )
    display_name: str | None = Field(default=None, max_length=255)
    email: str | None = Field(
        default=None,
        max_length=320,
        description="E-mail address if the channel knows it; links identities across channels.",
    )
    phone: str | None = Field(
        default=None, max_length=64, description="Phone number if known; normalised to +<digits>."
    )
    followers: Count32 | None = Field(
        default=None, description="Audience size (followers, page likes)."
    )
    verified: StrictBool | None = None
    account_created_at: Instant | None = Field(
        default=None, description="When the account was created (used to spot throw-away accounts)."
    )

    @field_validator("handle")
    @classmethod
    def _strip_at(cls, v: str | None) -> str | None:
        return v.lstrip("@") if v else v

    @field_validator("email")
    @classmethod
    def _email(cls, v: str | None) -> str | None:
        return normalize_email(v) if v else None

    @field_validator("phone")
    @classmethod
    def _phone(cls, v: str | None) -> str | None:
        return normalize_phone(v) if v else None


class Engagement(_Inbound):
    """Public metrics of a post at the time it was observed."""

    likes: Count = 0
    shares: Count = Field(default=0, description="Retweets, shares.")
    replies: Count = 0
    quotes: Count = 0
    views: Count | None = None


class Attachment(_Inbound):
    name: str | None = Field(default=None, max_length=1000)
    content_type: str | None = Field(default=None, max_length=255)
    size: Count | None = None
    url: str | None = Field(default=None, max_length=8192)


class InboundInteraction(_Frozen):
    """One message, in the interchange format every channel produces.

    Despite the name, ``direction`` may be ``outbound``: the brand's own posts and replies are
    recorded too, so that response times are measured even when agents answer from the
    channel's own app.
    """

    channel: ChannelName
    external_id: ExternalId = Field(
        description="The channel's id of this message; (channel, external_id) is unique."
    )
    text: str = Field(max_length=MAX_TEXT_LENGTH)
    created_at: Instant = Field(
        description="When the message was written, ISO 8601 with an offset, 1970 to 2099."
    )
    author: Author
    direction: Direction = Direction.INBOUND
    public: StrictBool = Field(
        default=False, description="True when anyone can read it (a tweet, a page comment)."
    )
    thread_key: str | None = Field(
        default=None,
        max_length=255,
        description="Conversation id; messages with the same key belong together.",
    )
    in_reply_to: str | None = Field(
        default=None, max_length=255, description="external_id of the message this one answers."
    )
    language: str | None = Field(
        default=None,
        max_length=16,
        description="Language if the channel knows it (BCP 47); detected otherwise.",
    )
    subject: str | None = Field(default=None, max_length=1000)
    recipient: Author | None = Field(
        default=None, description="For outbound messages: the customer addressed."
    )
    account: str | None = Field(
        default=None,
        max_length=255,
        description="The brand's own account the message arrived on or was sent from (a page "
        "id, a mailbox, a user id); decides its brand when several share a deployment.",
    )
    engagement: Engagement | None = None
    attachments: tuple[Attachment, ...] = Field(default=(), max_length=1000)
    customer_id: RowId | None = Field(
        default=None, description="Link the author to this existing customer (a manual link)."
    )
    case_id: RowId | None = Field(
        default=None,
        description="Put the message on this existing case (replies sent through scrm, agents' notes).",
    )
    answer_url: str | None = Field(
        default=None,
        max_length=2048,
        pattern=r"^https?://",
        description="Where a reply must be given when scrm cannot post there (a blog post, a "
        "news article): `scrm reply` is refused naming it, and the agent records the answer "
        "given there with `scrm case answered`.",
    )
    noise: Literal["auto_reply", "bounce", "mailing_list", "bulk"] | None = Field(
        default=None,
        description="Machine-sent mail and the like: stored and visible, but it never opens a case, "
        "never reopens one, and never gets an acknowledgment (no mail loops).",
    )
    raw: dict[str, Any] | None = Field(
        default=None,
        description=f"The native payload, kept whole (at most {MAX_DEPTH} levels deep; NaN and "
        f"Infinity become null, and `{NORMALISED_KEY}` lists what was replaced).",
    )

    @model_validator(mode="before")
    @classmethod
    def _clean(cls, data: Any) -> Any:
        # NUL and lone surrogates cannot be stored (PostgreSQL, UTF-8): replace them with
        # U+FFFD here, once, for both databases, and say so in raw.
        data, changed = _clean_fields(data, skip="raw")
        if changed:
            raw = data.get("raw")
            if raw is None or isinstance(raw, dict):
                notes = [*(raw or {}).get(NORMALISED_KEY, ()), *changed][:_MAX_NOTES]
                data["raw"] = {**(raw or {}), NORMALISED_KEY: notes}
        return data

    @field_validator("raw", mode="before")
    @classmethod
    def _clean_raw(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        cleaned, changed = clean_json(value, max_depth=MAX_DEPTH)
        if changed:
            notes = cleaned.get(NORMALISED_KEY)
            notes = list(notes) if isinstance(notes, list) else []
            cleaned[NORMALISED_KEY] = [*notes, *(f"raw.{p}" for p in changed)][:_MAX_NOTES]
        return cleaned


class Classification(_Frozen):
    """What a message is. Returned by the ``classify_interaction`` hook."""

    language: str = Field(default="other", description="tr, en or other.")
    sentiment: Literal["negative", "neutral", "positive"] = "neutral"
    sentiment_score: float = Field(default=0.0, ge=-1.0, le=1.0)
    kind: Kind = Kind.OTHER
    category: str = "other"
    urgency: tuple[str, ...] = Field(
        default=(),
        description="Flags: churn, legal, safety, public; suspected_spam (complaint cues in what "
        "reads as a scam or a promotion: routed to triage, for a person to decide).",
    )
    reach: float = Field(
        default=0.0, ge=0.0, description="Author audience and engagement as a score (log scale)."
    )
    confidence: float | None = Field(default=None, ge=0.0, le=1.0)
    source: str = Field(default="rules", description="Which classifier produced this.")


class RouteDecision(_Frozen):
    """Who owns a message. Returned by the ``route_interaction`` hook."""

    department: str | None = Field(
        description="Department code; None means no case is opened (spam, noise)."
    )
    priority: Priority = Priority.NORMAL
    pool: str | None = Field(default=None, description="Assignment pool within the department.")
    rule: str = Field(
        default="default", description="Name of the rule that matched, for `scrm route explain`."
    )
    reason: str = ""


class CustomerInfo(_Frozen):
    """A read-only view of a customer handed to hooks."""

    id: int
    display_name: str | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)


class CaseInfo(_Frozen):
    """A read-only view of a case handed to hooks."""

    id: int | None
    customer_id: int
    channel: str
    department: str | None
    kind: Kind
    category: str
    priority: Priority
    status: CaseStatus
    language: str | None = None
    opened_at: datetime
    brand: str = Field(
        default="default",
        description="The key of the case's brand (``default`` in a single-brand installation).",
    )


class SweptAlerts(_Frozen):
    """The alerts one SLA sweep fired: rows ``first_id`` to ``last_id`` of ``sla_alerts``.

    Handed to the ``sla_swept`` hook; read them with ``scrm.plugin.db.swept_alerts``.
    ``first_event_id`` to ``last_event_id`` bound the case events the sweep wrote (the
    escalation steps' summaries are read from them).
    """

    first_id: int
    last_id: int
    first_event_id: int
    last_event_id: int
    swept_at: datetime


_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class BusinessCalendar(_Frozen):
    """Opening hours per weekday and holidays; SLA time counts only while open.

    ``hours`` maps ``mon``..``sun`` to ranges such as ``"09:00-18:00"`` (several separated by
    commas; a missing day is closed).  Times are local to ``timezone``.
    """

    timezone: str = "Europe/Istanbul"
    hours: dict[str, str] = Field(default_factory=lambda: {d: "09:00-18:00" for d in _WEEKDAYS[:5]})
    holidays: tuple[date, ...] = ()

    @field_validator("timezone")
    @classmethod
    def _zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r}") from None
        return v

    @field_validator("hours")
    @classmethod
    def _hours(cls, v: dict[str, str]) -> dict[str, str]:
        for day, spec in v.items():
            if day not in _WEEKDAYS:
                raise ValueError(f"unknown weekday {day!r}; use {', '.join(_WEEKDAYS)}")
            for part in filter(None, (p.strip() for p in spec.split(","))):
                m = re.fullmatch(r"(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})", part)
                if not m or not (
                    0 <= int(m[1]) * 60 + int(m[2]) < int(m[3]) * 60 + int(m[4]) <= 24 * 60
                ):
                    raise ValueError(f"{day}: {part!r} is not a range like 09:00-18:00")
        return v

    def ranges(self, weekday: int) -> list[tuple[int, int]]:
        """Open ranges of a weekday (0 = Monday) in minutes after midnight."""
        spec = self.hours.get(_WEEKDAYS[weekday], "")
        out = []
        for part in filter(None, (p.strip() for p in spec.split(","))):
            a, b = part.split("-")
            ha, ma = a.split(":")
            hb, mb = b.split(":")
            out.append((int(ha) * 60 + int(ma), int(hb) * 60 + int(mb)))
        return sorted(out)


class SlaPolicy(_Frozen):
    """Deadlines for a case. Returned by the ``choose_sla`` hook.

    Durations count in business time when ``calendar`` is set, else around the clock.
    """

    name: str
    first_response: timedelta | None = None
    follow_up: timedelta | None = Field(
        default=None, description="Default due time of a promise that names none."
    )
    resolution: timedelta | None = None
    calendar: BusinessCalendar | None = None
    pause_on_customer: bool = Field(
        default=True, description="Stop the resolution clock while the case waits on the customer."
    )
    warn_before: timedelta | None = Field(
        default=None, description="Fire a warning this long before a deadline."
    )


class OutboundMessage(_Frozen):
    """A reply for a channel plugin to deliver."""

    channel: ChannelName
    text: str
    public: bool
    to: str | None = Field(
        default=None, description="The recipient's external user id on the channel."
    )
    in_reply_to: str | None = Field(
        default=None, description="external_id of the message answered."
    )
    thread_key: str | None = None
    subject: str | None = None
    idempotency_key: str
    case_id: int | None = None
    account: str | None = Field(
        default=None,
        description="The brand's own account to send from, as the channel's messages carry it "
        "in `account`: delivery picks the account the customer's latest message arrived at "
        "when the case's brand owns it, else the brand's account on the channel "
        "(`Channel.reply_account`); None: the channel has no accounts of its own.",
    )
    metadata: dict[str, Any] = Field(default_factory=dict)


class SendResult(_Frozen):
    external_id: str = Field(description="The channel's id of the delivered message.")
    raw: dict[str, Any] | None = None


class StoredInteraction(_Frozen):
    """An interaction as committed; handed to after-commit hooks."""

    id: int
    channel: str
    external_id: str
    direction: Direction
    customer_id: int | None
    case_id: int | None
    created_at: datetime
    classification: Classification | None = None
    account: str | None = Field(
        default=None,
        description="The brand's own account it arrived at or was sent from (see "
        "`InboundInteraction.account`); None: the channel named none.",
    )
    brand: str | None = Field(
        default=None,
        description="The key of the brand it belongs to (`[brands.<key>]`, `default` for the "
        "deployment's own): `ctx.for_brand(brand)` gives that brand's settings.",
    )


class RejectInfo(_Frozen):
    """A record that could not be ingested, as kept in the dead-letter table."""

    id: int | None = None
    source: str = Field(description="Where it came from: a file name, 'webhook:<channel>', 'api'.")
    position: int | None = Field(
        default=None, description="1-based line number in the source, if any."
    )
    channel: str | None = None
    field: str | None = Field(default=None, description="Dotted path of the field at fault.")
    reason: str
    payload: str = Field(description="The record exactly as received.")
