"""The built-in router: which department owns a message, and how urgent it is.

Defaults: complaints and questions go to support, leads to sales, ideas to R&D, praise to
marketing; spam opens no case (it is kept and auditable, never deleted).  Messages of kind
"other" open a support case when written to the brand privately (someone is waiting for
an answer) and no case when they are public chatter.
"""

from __future__ import annotations

from scrm.core.config import Config
from scrm.core.hookspecs import hookimpl
from scrm.core.schemas import Classification, InboundInteraction, Kind, Priority, RouteDecision

__all__ = ["DefaultRouter", "plugin"]

KIND_DEPARTMENT: dict[Kind, str | None] = {
    Kind.COMPLAINT: "support",
    Kind.QUESTION: "support",
    Kind.LEAD: "sales",
    Kind.IDEA: "rnd",
    Kind.PRAISE: "marketing",
    Kind.SPAM: None,
}


def priority_for(classification: Classification) -> tuple[Priority, str]:
    """Return the priority a classification deserves, and why."""
    flags = set(classification.urgency)
    if flags & {"legal", "safety"}:
        return Priority.URGENT, "legal or safety threat"
    if "churn" in flags:
        return Priority.HIGH, "churn threat"
    if classification.kind is Kind.COMPLAINT and "public" in flags:
        return Priority.HIGH, "public complaint"
    if classification.kind in (Kind.PRAISE, Kind.IDEA, Kind.OTHER):
        return Priority.LOW, f"{classification.kind.value}"
    return Priority.NORMAL, "default"


class DefaultRouter:
    @hookimpl(trylast=True)
    def route_interaction(
        self, interaction: InboundInteraction, classification: Classification
    ) -> RouteDecision:
        kind = classification.kind
        if kind is Kind.OTHER:
            department = None if interaction.public else "support"
            why = (
                "public message of no actionable kind"
                if interaction.public
                else "private message to the brand"
            )
        else:
            department = KIND_DEPARTMENT[kind]
            why = f"kind {kind.value}"
        priority, pwhy = priority_for(classification)
        return RouteDecision(
            department=department,
            priority=priority,
            rule=f"default:{kind.value}",
            reason=f"{why} -> {department or 'no case'}; priority {priority.value}: {pwhy}",
        )


def plugin(config: Config) -> DefaultRouter:
    return DefaultRouter()
