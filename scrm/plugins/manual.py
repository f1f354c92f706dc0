"""The manual channel: phone calls, letters, faxes and walk-ins recorded by an agent.

Traditional customers go through the same pipeline, cases and SLAs as social ones.  The
native record (one JSON object per line in ``scrm ingest --channel phone FILE``)::

    {"record_id": "CALL-2024-0001", "channel": "phone", "received_at": "2024-10-21T10:05:00+03:00",
     "caller": {"name": "Ayşe Yılmaz", "phone": "+90 532 111 22 33", "email": null, "address": null},
     "direction": "inbound", "agent": "mehmet", "text": "...", "duration_seconds": 240,
     "wait_seconds": 95, "subject": null, "in_reply_to": null}

``wait_seconds`` (optional, phone) is how long the caller waited before an agent answered;
the whole record is kept as the interaction's ``raw``, so it is ``raw.wait_seconds`` there,
the same place a call system writing the interchange format puts it.

The caller's identity is their phone number, else their e-mail address, else their name
and address; the same phone or e-mail seen on another channel links to the same customer.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from scrm.plugin import (
    Author,
    Channel,
    Count32,
    Direction,
    ExternalId,
    InboundInteraction,
    Instant,
    OutboundMessage,
    RowId,
    SendResult,
    hookimpl,
    normalize_email,
    normalize_phone,
)

__all__ = ["Caller", "ManualChannel", "ManualRecord"]

MANUAL_CHANNELS = ("phone", "letter", "fax", "walk_in")


class Caller(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, max_length=255)
    phone: str | None = None
    email: str | None = None
    address: str | None = Field(default=None, max_length=1000)

    @model_validator(mode="after")
    def _normalise(self) -> Caller:
        if self.phone:
            self.phone = normalize_phone(self.phone)
        if self.email:
            self.email = normalize_email(self.email)
        return self

    def identifiable(self) -> bool:
        return bool(self.phone or self.email or (self.name and self.address))

    def external_id(self, customer_id: int | None = None) -> str:
        if self.phone:
            return self.phone
        if self.email:
            return self.email
        if self.name and self.address:
            return f"{self.name.strip().lower()}|{self.address.strip().lower()}"
        return f"customer:{customer_id}"


class ManualRecord(BaseModel):
    """One contact recorded by an agent."""

    model_config = ConfigDict(extra="forbid")

    record_id: ExternalId
    channel: Literal["phone", "letter", "fax", "walk_in"]
    received_at: Instant
    caller: Caller
    direction: Direction = Direction.INBOUND
    agent: str | None = Field(default=None, max_length=200)
    text: str = Field(min_length=1, max_length=100_000)
    duration_seconds: Count32 | None = None
    wait_seconds: int | None = Field(
        default=None,
        ge=0,
        le=86_400,
        description="Phone: how long the caller waited (queue) before an agent answered; "
        "reported by `scrm report` beside the social first-response times.",
    )
    subject: str | None = Field(default=None, max_length=1000)
    in_reply_to: str | None = Field(default=None, max_length=255)
    customer_id: RowId | None = Field(
        default=None, description="Existing customer this contact belongs to."
    )

    @model_validator(mode="after")
    def _identifiable(self) -> ManualRecord:
        if not self.caller.identifiable() and self.customer_id is None:
            raise ValueError(
                "caller needs a phone, an e-mail address, or a name and an address (or give customer_id)"
            )
        return self

    def to_interaction(self, raw: dict[str, Any]) -> InboundInteraction:
        person = Author(
            external_id=self.caller.external_id(self.customer_id),
            display_name=self.caller.name,
            email=self.caller.email,
            phone=self.caller.phone,
        )
        outbound = self.direction is Direction.OUTBOUND
        agent = Author(external_id=f"agent:{self.agent or 'unknown'}", handle=self.agent)
        return InboundInteraction(
            channel=self.channel,
            external_id=self.record_id,
            text=self.text,
            created_at=self.received_at,
            author=agent if outbound else person,
            recipient=person if outbound else None,
            direction=self.direction,
            public=False,
            thread_key=f"{self.channel}:{self.caller.external_id(self.customer_id)}",
            in_reply_to=self.in_reply_to,
            subject=self.subject,
            customer_id=self.customer_id,
            raw=raw,
        )


class ManualChannel(Channel):
    """Phone, letter, fax and walk-in contacts, entered by agents or imported from a call system."""

    name = "phone"
    names: ClassVar[tuple[str, ...]] = MANUAL_CHANNELS
    social = False

    def parse(self, payload: Any) -> Iterator[InboundInteraction]:
        yield ManualRecord.model_validate(payload).to_interaction(payload)

    def send(self, message: OutboundMessage) -> SendResult:
        """Record a reply for an agent to make by phone, letter, fax or in person.

        Traditional channels cannot be sent to by software: the reply becomes the agent's
        script, stored as the brand's outbound message on the case, so response times and
        the satisfaction question work the same way as on social channels.
        """
        return SendResult(external_id=f"{message.channel}:out:{message.idempotency_key}")

    def reconcile(self, message: OutboundMessage) -> SendResult | None:
        return self.send(message)


@hookimpl
def register_channels(register: Any) -> None:
    register(ManualChannel)
