"""Agents: saving one, and what an active agent's arrival does to the waiting queue."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from scrm.core import agents
from scrm.core.services.cases import assign_waiting

if TYPE_CHECKING:
    from scrm.core.app import Scrm

__all__ = ["AgentSaved", "save"]


@dataclass(frozen=True)
class AgentSaved:
    agent: agents.AgentOut
    assigned: int
    """How many waiting cases the agent's department handed out because of the save."""


def save(app: Scrm, data: agents.AgentIn, *, actor: str) -> AgentSaved:
    """Create or update an agent; an active agent of a department takes waiting cases.

    :raises InvalidInput: for an unknown department.
    """
    with app.session() as s:
        saved = agents.save_agent(s, data, actor=actor)
    # A second transaction: the assignment runs as the worker's drain does, and a failure
    # there leaves the agent saved (the worker assigns the cases on its next round).
    assigned = assign_waiting(app) if saved.status == "active" and saved.department else 0
    return AgentSaved(saved, assigned)
