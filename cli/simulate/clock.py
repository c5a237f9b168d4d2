"""Simulated time: a clock that only moves when the workflow would wait, and the actions due on it.

The state machine runs in moto's worker thread. Whenever it would wait (a Wait state, a retry
interval, a task token), the patched wait asks this clock to advance instead; advancing runs
every scheduled action that falls due on the way (a tuning job finishing, its event being
delivered). So a one-day tuning job costs no wall time, and the order of things is deterministic.
"""

from __future__ import annotations

import heapq
import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

# A fixed epoch keeps every simulated timestamp (and so every report) reproducible.
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass(order=True)
class _Due:
    at: float
    seq: int
    action: Callable[[], None] = field(compare=False)
    label: str = field(compare=False, default="")
    cancelled: bool = field(compare=False, default=False)


class SimClock:
    """Seconds since EPOCH, advanced by the simulator; never by the wall clock."""

    def __init__(self) -> None:
        self._now = 0.0
        self._queue: list[_Due] = []
        self._seq = itertools.count()
        # Re-entrant: an action (delivering an event) may schedule further actions.
        self._lock = threading.RLock()
        self.waited_s = 0.0

    @property
    def now(self) -> float:
        return self._now

    def datetime(self, at: float | None = None) -> datetime:
        return EPOCH + timedelta(seconds=self._now if at is None else at)

    def schedule(self, delay_s: float, action: Callable[[], None], label: str = "") -> _Due:
        """Run `action` once the clock reaches now + delay_s."""
        with self._lock:
            due = _Due(self._now + max(0.0, delay_s), next(self._seq), action, label)
            heapq.heappush(self._queue, due)
            return due

    def cancel(self, due: _Due) -> None:
        due.cancelled = True

    def next_due(self) -> float | None:
        with self._lock:
            while self._queue and self._queue[0].cancelled:
                heapq.heappop(self._queue)
            return self._queue[0].at if self._queue else None

    def run_next(self, until: float) -> bool:
        """Advance to the next action due at or before `until` and run it; False when there is none."""
        with self._lock:
            at = self.next_due()
            if at is None or at > until:
                return False
            due = heapq.heappop(self._queue)
            self._now = max(self._now, due.at)
        due.action()
        return True

    def advance(self, seconds: float, stop: Callable[[], bool] | None = None) -> bool:
        """Let `seconds` pass, running what falls due; stops early (returning True) once `stop()` holds."""
        start = self._now
        until = self._now + max(0.0, seconds)
        while True:
            if stop is not None and stop():
                self.waited_s += self._now - start
                return True
            if not self.run_next(until):
                break
        with self._lock:
            self._now = max(self._now, until)
        self.waited_s += self._now - start
        return stop is not None and stop()

    def drain(self, limit_s: float = 7 * 86400) -> None:
        """Run everything still scheduled (late duplicate events), up to `limit_s` ahead."""
        self.advance(limit_s, stop=lambda: self.next_due() is None)
