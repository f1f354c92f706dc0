"""The daily request budget, persisted in plugin state so that every process shares it.

X bills API use and reprices it often, so polling spends at most the configured number of
requests per UTC day, overall and per endpoint, and stretches its interval to make the rest
of the day's budget last instead of failing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from scrm.plugin import Scrm
    from scrm.plugin.polling import RateState
    from scrm_twitter.channel import TwitterSettings

__all__ = ["STATE_KEY", "Budget"]

PLUGIN = "twitter"
STATE_KEY = "budget"


class Budget:
    """Count requests per UTC day in ``app``'s plugin state (key ``twitter/budget``; an
    account of ``[channels.twitter.accounts]`` keeps its own, ``twitter/<label>/budget``).

    :param key: the state key (default :data:`STATE_KEY`, the single account's).
    """

    def __init__(
        self,
        app: Scrm,
        settings: TwitterSettings,
        clock: Callable[[], float] = time.time,
        key: str = STATE_KEY,
    ) -> None:
        self.app = app
        self.s = settings
        self.clock = clock
        self.key = key
        self.state: dict[str, Any] = app.load_state(PLUGIN, key) or {}
        self._roll()

    def _today(self) -> str:
        return datetime.fromtimestamp(self.clock(), UTC).date().isoformat()

    def _roll(self) -> None:
        if self.state.get("day") != self._today():
            self.state = {"day": self._today(), "used": {}, "rates": self.state.get("rates", {})}

    def used(self, key: str | None = None) -> int:
        """Return today's requests on endpoint ``key``, or over all endpoints."""
        self._roll()
        used: dict[str, int] = self.state["used"]
        return sum(used.values()) if key is None else used.get(key, 0)

    def cap(self, key: str | None = None) -> int | None:
        """Return the configured daily cap of ``key`` (or the overall cap); None: no cap."""
        if key is None:
            return self.s.daily_request_budget
        return self.s.endpoint_budgets.get(key)  # type: ignore[call-overload]

    def remaining(self, key: str) -> int | None:
        """Return how many more requests ``key`` may make today; None means unlimited."""
        left = [
            c - u
            for c, u in ((self.cap(key), self.used(key)), (self.cap(), self.used()))
            if c is not None
        ]
        return max(0, min(left)) if left else None

    def spend(self, key: str, rates: dict[str, RateState] | None = None) -> None:
        """Count one request on ``key`` and persist the count (and the last rate-limit state)."""
        # Re-read first: other pollers may have spent some of the day's budget meanwhile.
        self.state = self.app.load_state(PLUGIN, self.key) or {}
        self._roll()
        self.state["used"][key] = self.state["used"].get(key, 0) + 1
        self.save(rates)

    def save(self, rates: dict[str, RateState] | None = None) -> None:
        if rates:
            self.state["rates"] = {
                ep: {"limit": r.limit, "remaining": r.remaining, "reset": r.reset}
                for ep, r in rates.items()
            }
        self.app.save_state(PLUGIN, self.key, self.state)

    def seconds_to_reset(self) -> float:
        """Return the seconds until the budget renews (the next UTC midnight)."""
        now = datetime.fromtimestamp(self.clock(), UTC)
        midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
        return (midnight - now).total_seconds()

    def interval(self, keys: Iterable[str]) -> float:
        """Return the pause before the next cycle, one request per key in ``keys`` per cycle.

        The configured ``poll_interval`` at the least; longer when the remaining budget
        would not last until midnight at that pace (capped at ``max_poll_interval``); until
        midnight when the budget is spent.
        """
        keys = list(keys)
        per_key: dict[str | None, int] = {None: len(keys)}
        for k in keys:
            per_key[k] = per_key.get(k, 0) + 1
        seconds = self.seconds_to_reset()
        need = self.s.poll_interval
        spent = 0
        for key, n in per_key.items():
            left = self.remaining(key) if key is not None else self._total_left()
            if left is None:
                continue
            if left < 1:
                spent += 1
                continue
            need = max(need, seconds * n / left)
        if keys and spent and all(self.remaining(k) == 0 for k in keys):
            return seconds + 1
        return min(need, max(self.s.max_poll_interval, self.s.poll_interval))

    def _total_left(self) -> int | None:
        cap = self.cap()
        return None if cap is None else max(0, cap - self.used())
