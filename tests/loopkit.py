"""Test doubles for the complaint loop: a recording channel and a recording hook plugin."""

from __future__ import annotations

from collections import defaultdict
from typing import Any, ClassVar

from scrm import hookimpl
from scrm.core.channel import Channel, PermanentSendError, TransientSendError
from scrm.core.schemas import OutboundMessage, SendResult


class FakeSocial(Channel):
    """A social channel whose sends are recorded; ``fail_next`` scripts failures.

    The record is shared by every instance (the CLI opens its own application): call
    :meth:`reset` at the start of each test.
    """

    name = "fakesocial"
    sent: ClassVar[list[OutboundMessage]] = []
    fail_next: ClassVar[list[Exception]] = []

    @classmethod
    def reset(cls) -> None:
        cls.sent.clear()
        cls.fail_next.clear()

    def send(self, message: OutboundMessage) -> SendResult:
        if self.fail_next:
            raise self.fail_next.pop(0)
        self.sent.append(message)
        return SendResult(external_id=f"out-{len(self.sent)}")

    def reconcile(self, message: OutboundMessage) -> SendResult | None:
        for i, m in enumerate(self.sent, start=1):
            if m.idempotency_key == message.idempotency_key:
                return SendResult(external_id=f"out-{i}")
        return None


class Blind(FakeSocial):
    """A channel that cannot tell whether an interrupted send went out."""

    name = "blind"

    def reconcile(self, message: OutboundMessage) -> SendResult | None:
        raise NotImplementedError


class Recorder:
    """Records every event hook call, by hook name."""

    HOOKS: ClassVar[tuple[str, ...]] = (
        "interaction_stored",
        "case_opened",
        "case_transitioned",
        "interaction_rejected",
        "sla_warning",
        "sla_breached",
        "case_escalated",
        "reply_delivered",
        "csat_received",
    )

    def __init__(self) -> None:
        self.calls: dict[str, list[dict[str, Any]]] = defaultdict(list)

    @hookimpl
    def register_channels(self, register):
        register(FakeSocial)
        register(Blind)

    @hookimpl
    def interaction_stored(self, interaction):
        self.calls["interaction_stored"].append({"interaction": interaction})

    @hookimpl
    def case_opened(self, case):
        self.calls["case_opened"].append({"case": case})

    @hookimpl
    def case_transitioned(self, case, old_status, new_status, actor):
        self.calls["case_transitioned"].append(
            {"case": case, "old": old_status, "new": new_status, "actor": actor}
        )

    @hookimpl
    def interaction_rejected(self, reject):
        self.calls["interaction_rejected"].append({"reject": reject})

    @hookimpl
    def sla_warning(self, case, clock, due_at):
        self.calls["sla_warning"].append({"case": case, "clock": clock, "due_at": due_at})

    @hookimpl
    def sla_breached(self, case, clock, due_at):
        self.calls["sla_breached"].append({"case": case, "clock": clock, "due_at": due_at})

    @hookimpl
    def case_escalated(self, case, level, reason, summary):
        self.calls["case_escalated"].append(
            {"case": case, "level": level, "reason": reason, "summary": summary}
        )

    @hookimpl
    def reply_delivered(self, case_id, message, result):
        self.calls["reply_delivered"].append(
            {"case_id": case_id, "message": message, "result": result}
        )

    @hookimpl
    def csat_received(self, case, score, satisfied):
        self.calls["csat_received"].append({"case": case, "score": score, "satisfied": satisfied})


__all__ = ["Blind", "FakeSocial", "PermanentSendError", "Recorder", "TransientSendError"]
