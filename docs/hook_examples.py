"""One example implementation per hook, rendered into the hook reference of ``docs/hooks.md``.

Each top-level function is named after the hook it implements and marked ``@hookimpl``;
``docs/gen_hooks.py`` renders its source after the hook's description, and
``tests/test_docs.py`` checks that every hookspec has one, that its arguments are a subset of
the spec's, and that this module registers with a plugin manager. The examples import scrm
only through its public plugin API, ``scrm.plugin``, as a plugin must; what they would send
to a pager or a chat room they log instead.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import click
import sqlalchemy as sa
from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, SecretStr

from scrm.plugin import (
    Author,
    CaseInfo,
    CaseStatus,
    Channel,
    Classification,
    ConfigError,
    CustomerInfo,
    Engagement,
    EventContext,
    InboundInteraction,
    Kind,
    OutboundMessage,
    ParseError,
    PermanentSendError,
    PluginContext,
    Priority,
    RejectInfo,
    RouteDecision,
    Scrm,
    SendResult,
    SlaPolicy,
    StoredInteraction,
    SweptAlerts,
    hookimpl,
    hookspec,
    normalize_phone,
)
from scrm.plugin.db import Case, Dimension, swept_alerts
from scrm.plugin.web import receive_webhook

log = logging.getLogger("scrm_vip")

#: Where the plugin keeps the attachments it downloaded, one folder per customer.
ATTACHMENTS = Path("vip-attachments")
#: X handle -> the phone number the VIP list gives (E.164, as the SMS channel keys senders).
VIP_PHONES = {"ayse_yilmaz": "+905321112233"}


# --------------------------------------------------------------------------- registration


@hookimpl
def register_hookspecs(register: Callable[[object], None]) -> None:
    class VipSpecs:
        @hookspec
        def vip_wrote(self, customer_id: int, case_id: int | None) -> None:
            """A customer on the VIP list wrote; the message is on case_id."""

    register(VipSpecs)


@hookimpl
def register_channels(register: Callable[[type[Channel]], None]) -> None:
    class SmsChannel(Channel):
        """Text messages forwarded by the SMS gateway as JSON."""

        name = "sms"
        social = False

        class Settings(BaseModel):  # [channels.sms] secret = "..."
            model_config = ConfigDict(extra="forbid")
            secret: SecretStr

        settings: Settings

        def verify(self, headers: Mapping[str, str], body: bytes) -> bool:
            # The gateway signs each delivery: X-Sms-Signature: sha256=<HMAC of the body>.
            key = self.settings.secret.get_secret_value().encode()
            expected = "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()
            return hmac.compare_digest(headers.get("x-sms-signature", ""), expected)

        def parse(self, payload: Any) -> Iterator[InboundInteraction]:
            if not isinstance(payload, dict) or "id" not in payload:
                raise ParseError("an SMS needs an id", field="id")
            phone = normalize_phone(payload["from"])
            yield InboundInteraction(
                channel=self.name,
                external_id=str(payload["id"]),
                text=payload.get("body", ""),
                created_at=payload["received_at"],
                author=Author(external_id=phone, phone=phone),
                thread_key=f"sms:{phone}",
            )

        def send(self, message: OutboundMessage) -> SendResult:
            raise PermanentSendError("replies to SMS go out through the call centre")

    register(SmsChannel)


@hookimpl
def register_categories(register: Callable[[str, str | None], None], ctx: PluginContext) -> None:
    register("billing.double_charge", "billing")  # answered with the billing playbook
    register("network.outage", None)  # no playbook of its own: "other"


@hookimpl
def register_commands(cli: click.Group) -> None:
    @cli.command("vip-threshold")
    def vip_threshold() -> None:
        """Print the follower count from which a complaint is urgent."""
        click.echo("100000")


@hookimpl
def register_migrations(register: Callable[..., None]) -> None:
    register("scrm_vip:migrations", models="scrm_vip.models")


@hookimpl
def register_report_dimensions(register: Callable[[Dimension], None]) -> None:
    def channel_group() -> Any:
        traditional = ["phone", "letter", "fax", "walk-in", "email"]
        return sa.case((Case.channel.in_(traditional), "traditional"), else_="social")

    register(Dimension("channel_group", channel_group))  # scrm report --by channel_group


@hookimpl
def register_routes(router: APIRouter) -> None:
    @router.post("/webhooks/sms")
    async def sms_webhook(request: Request, background_tasks: BackgroundTasks) -> JSONResponse:
        # Verified with SmsChannel.verify, stored in the inbox, answered, then ingested.
        return await receive_webhook(request, "sms", background_tasks)


@hookimpl
def app_started(app: Scrm) -> None:
    # Check a setting once, at start-up; do not keep `app` (plugins receive context).
    if not any(d.code == "support" for d in app.config.departments):
        raise ConfigError("scrm-vip routes gold customers to 'support'; add it to [[departments]]")


@hookimpl
def register_tasks(register: Callable[..., None]) -> None:
    def purge_attachments(app: Scrm, now: datetime) -> str:
        # Idempotent: a run repeated by another worker finds the files already gone.
        cutoff = (now - timedelta(days=30)).timestamp()
        old = [p for p in ATTACHMENTS.glob("*/*") if p.stat().st_mtime < cutoff]
        for path in old:
            path.unlink(missing_ok=True)
        return f"removed {len(old)} attachments older than 30 days"

    register("vip-purge-attachments", 3600, purge_attachments, exclusive=True)


# --------------------------------------------------------------------------- ingest


@hookimpl
def resolve_identity(interaction: InboundInteraction) -> list[tuple[str, str]] | None:
    # The account managers' VIP list names each gold customer's X handle and the number they
    # text from: their first tweet joins the customer who texted.
    if interaction.channel != "twitter" or not interaction.author.handle:
        return None
    phone = VIP_PHONES.get(interaction.author.handle.lower())
    return [("sms", phone)] if phone else None


@hookimpl
def classify_interaction(
    interaction: InboundInteraction, ctx: PluginContext
) -> Classification | None:
    if not re.search(r"\b(iptal|abonelik)\b", interaction.text, re.IGNORECASE):
        return None  # defer to the next classifier, in the end the built-in one
    return Classification(
        language="tr",
        sentiment="negative",
        sentiment_score=-0.6,
        kind=Kind.COMPLAINT,
        category="cancellation",
        urgency=("churn",),
        source="vip-keywords",
    )


@hookimpl
def route_interaction(
    interaction: InboundInteraction, classification: Classification, customer: CustomerInfo | None
) -> RouteDecision | None:
    if customer is None or customer.attributes.get("tier") != "gold":
        return None
    return RouteDecision(
        department="support",
        priority=Priority.HIGH,
        pool="gold",
        rule="vip:gold-tier",
        reason=f"gold customer {customer.id}",
    )


@hookimpl
def choose_sla(case: CaseInfo, ctx: PluginContext) -> SlaPolicy | None:
    if case.priority is not Priority.URGENT or case.kind is not Kind.COMPLAINT:
        return None  # the built-in policy table decides
    return SlaPolicy(
        name="urgent-complaint",
        first_response=timedelta(minutes=30),
        resolution=timedelta(hours=8),
        warn_before=timedelta(minutes=10),
    )


# --------------------------------------------------------------------------- after commit


@hookimpl
def interaction_stored(interaction: StoredInteraction, ctx: EventContext) -> None:
    c = interaction.classification
    if c is not None and "legal" in c.urgency:
        log.warning("legal threat in interaction %d (case %s)", interaction.id, interaction.case_id)


@hookimpl
def batch_committed(interactions: list[StoredInteraction], ctx: EventContext) -> None:
    per_case = Counter(i.case_id for i in interactions if i.case_id is not None)
    for case_id, n in per_case.items():
        if n >= 5:
            log.info("case %d got %d messages in one batch", case_id, n)


@hookimpl
def case_opened(case: CaseInfo, ctx: EventContext) -> None:
    if case.priority is Priority.URGENT:
        log.warning("urgent case %s opened on %s for %s", case.id, case.channel, case.department)


@hookimpl
def case_transitioned(
    case: CaseInfo, old_status: str, new_status: str, actor: str, ctx: EventContext
) -> None:
    if new_status == CaseStatus.REOPENED:
        log.info("case %s reopened by %s (was %s)", case.id, actor, old_status)


@hookimpl
def sla_warning(case: CaseInfo, clock: str, due_at: datetime, ctx: EventContext) -> None:
    log.warning("case %s: %s due at %s", case.id, clock, due_at.isoformat(timespec="minutes"))


@hookimpl
def sla_breached(case: CaseInfo, clock: str, due_at: datetime, ctx: EventContext) -> None:
    if clock == "first_response":
        log.error("case %s was not answered by %s", case.id, due_at.isoformat(timespec="minutes"))


@hookimpl
def sla_swept(alerts: SweptAlerts, ctx: EventContext) -> None:
    breached = 0
    for chunk in swept_alerts(ctx.session, alerts, kinds=["breach"]):
        breached += len(chunk)
    if breached:
        log.error("%d deadlines missed in the sweep at %s", breached, alerts.swept_at)


@hookimpl
def case_escalated(
    case: CaseInfo, level: int, reason: str, summary: str, ctx: EventContext
) -> None:
    if level >= 2:
        log.warning("case %s escalated to level %d: %s (%s)", case.id, level, reason, summary)


@hookimpl
def reply_delivered(
    case_id: int | None, message: OutboundMessage, result: SendResult, ctx: EventContext
) -> None:
    if message.public:
        log.info("public reply on %s for case %s: %s", message.channel, case_id, result.external_id)


@hookimpl
def csat_received(case: CaseInfo, score: int, satisfied: bool, ctx: EventContext) -> None:
    if not satisfied:
        log.warning(
            "case %s rated %d and reopened; tell the %s lead", case.id, score, case.department
        )


@hookimpl
def engagement_updated(interaction_id: int, engagement: Engagement, ctx: EventContext) -> None:
    if engagement.shares >= 1_000:
        log.warning("interaction %d has been shared %d times", interaction_id, engagement.shares)


@hookimpl
def spike_detected(
    scope: str,
    metric: str,
    hour: datetime,
    count: int,
    baseline: float,
    p_value: float,
    brand: str | None,
) -> None:
    log.warning(
        "%s %s %s: %d in the hour from %s, %.1f expected (p=%.2g)",
        brand or "every brand",
        scope,
        metric,
        count,
        hour.isoformat(timespec="minutes"),
        baseline,
        p_value,
    )


@hookimpl
def crisis_detected(
    case: CaseInfo, score: float, evidence: dict[str, Any], ctx: EventContext
) -> None:
    log.critical("case %s is going viral (risk %.2f): %s", case.id, score, sorted(evidence))


@hookimpl
def coordinated_detected(case_ids: list[int], evidence: dict[str, Any], ctx: EventContext) -> None:
    log.warning("%d cases look coordinated, flagged for review: %s", len(case_ids), case_ids)


@hookimpl
def parity_gap(metric: str, social: float, traditional: float, gap: float) -> None:
    worse = "worse" if gap > 0 else "better"
    log.info("traditional channels are served %.0f%% %s on %s", abs(gap), worse, metric)


# --------------------------------------------------------------------------- errors


@hookimpl
def interaction_rejected(reject: RejectInfo, ctx: EventContext) -> None:
    if reject.source.startswith("webhook:"):
        log.error("%s rejected a delivery (%s: %s)", reject.source, reject.field, reject.reason)


# --------------------------------------------------------------------------- data rights


@hookimpl
def erase_customer_data(
    customer_id: int, identities: list[tuple[str, str]], attachments: list[tuple[str, str]]
) -> None:
    folder = ATTACHMENTS / str(customer_id)
    for path in folder.glob("*"):
        path.unlink(missing_ok=True)  # idempotent: a rerun finds nothing to delete
    if folder.exists():
        folder.rmdir()
