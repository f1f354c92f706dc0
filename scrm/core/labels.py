"""Correcting a classification: an agent says what a message really is.

The correction is kept as a :class:`~scrm.core.models.LabelCorrection` row (who, when, what
it was before: training data for a learned classifier) and the interaction's labels are
updated, so every report from then on counts the message as corrected.  The REST API
(``POST /api/v1/interactions/{id}/labels``) and the CLI call :func:`correct_label`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy.orm import Session

from scrm.core import audit
from scrm.core.errors import N_
from scrm.core.models import Interaction, LabelCorrection
from scrm.core.queries import NotFound
from scrm.core.schemas import Kind

__all__ = ["LABEL_FIELDS", "LabelFix", "ToLabel", "correct_label", "least_certain"]

LABEL_FIELDS = ("kind", "category", "sentiment", "language", "urgency")


class LabelFix(BaseModel):
    """The corrected labels; fields left out keep their value."""

    model_config = ConfigDict(extra="forbid")

    kind: Kind | None = None
    category: str | None = Field(default=None, min_length=1, max_length=64)
    sentiment: Literal["negative", "neutral", "positive"] | None = None
    language: str | None = Field(default=None, min_length=1, max_length=16)
    urgency: list[str] | None = Field(default=None, max_length=16)

    @model_validator(mode="after")
    def _something(self) -> LabelFix:
        if not self.model_fields_set & set(LABEL_FIELDS) or all(
            getattr(self, f) is None for f in LABEL_FIELDS
        ):
            raise ValueError(f"give at least one of {', '.join(LABEL_FIELDS)}")
        return self


def correct_label(
    session: Session, interaction_id: int, actor: str, **fields: Any
) -> LabelCorrection:
    """Correct the labels of interaction ``interaction_id`` in the caller's transaction.

    The correction is kept as a :class:`LabelCorrection` row and an audit entry.

    :param actor: who corrects (an agent username or an API key's actor name).
    :param fields: any of ``kind``, ``category``, ``sentiment``, ``language``, ``urgency``;
        ``None`` values are ignored.
    :raises NotFound: when there is no such interaction.
    :raises pydantic.ValidationError: for an unknown field or a bad value.
    """
    fix = LabelFix.model_validate(fields)
    it = session.get(Interaction, interaction_id)
    if it is None:
        raise NotFound(N_("no interaction %(id)s"), id=interaction_id)
    changes = {
        f: (v.value if isinstance(v, Kind) else v)
        for f in LABEL_FIELDS
        if (v := getattr(fix, f)) is not None
    }
    previous = {f: getattr(it, f) for f in changes}
    for name, value in changes.items():
        setattr(it, name, value)
    it.labels = {**(it.labels or {}), **changes, "corrected_by": actor}
    row = LabelCorrection(interaction_id=interaction_id, actor=actor, previous=previous, **changes)
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="interaction.relabel",
        target_type="interaction",
        target_id=interaction_id,
        details={"previous": previous, "labels": changes},
    )
    return row


@dataclass(frozen=True)
class ToLabel:
    """A message waiting for an agent's label, with how sure the classifier was."""

    id: int
    confidence: float | None
    kind: str | None
    sentiment: str | None
    category: str | None
    text: str


def least_certain(session: Session, *, limit: int = 10) -> list[ToLabel]:
    """Customer messages no agent has labelled, the least certain classification first.

    Messages the pipeline set aside as noise (auto-replies, bounces) are left out; among
    equally certain ones the newest comes first.
    """
    confidence = Interaction.labels["confidence"].as_float()
    labelled = sa.select(LabelCorrection.interaction_id)
    rows = session.execute(
        sa.select(
            Interaction.id,
            confidence,
            Interaction.kind,
            Interaction.sentiment,
            Interaction.category,
            Interaction.text,
        )
        .where(
            Interaction.direction == "inbound",
            Interaction.id.not_in(labelled),
            confidence.is_not(None),
            Interaction.labels["noise"].as_string().is_(None),
        )
        .order_by(confidence, Interaction.created_at.desc(), Interaction.id.desc())
        .limit(limit)
    )
    return [ToLabel(*row) for row in rows]
