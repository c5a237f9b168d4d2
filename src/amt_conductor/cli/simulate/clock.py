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
        self.coordinator: Coordinator | None = None

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
        """Let `seconds` pass, running what falls due; stops early (returning True) once `stop()` holds.
        Under a `Coordinator` (many executions at once), an execution's wait parks it there instead."""
        if self.coordinator is not None and self.coordinator.is_execution_thread():
            return self.coordinator.wait(self._now + max(0.0, seconds), stop)
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


@dataclass
class _Waiter:
    deadline: float
    stop: Callable[[], bool] | None
    woken: threading.Event = field(default_factory=threading.Event)
    stopped: bool = False


class Coordinator:
    """Simulated time for many executions at once: time moves only while every execution waits.

    Each execution runs in its own moto worker thread. Whenever one would wait (a task token, a Wait
    state, a retry interval) it parks here; once none is running, the coordinating thread either wakes
    the waiter whose condition now holds, or moves the clock to the next due action or deadline and
    runs it. So ten thousand simulated hours cost only the work done in them, and a job ending at
    t+1 h is seen at t+1 h by every execution, whatever the threads' real timing.
    """

    def __init__(self, clock: SimClock) -> None:
        self.clock = clock
        clock.coordinator = self
        self._lock = threading.Condition()
        self._active = 0  # executions running (not parked)
        self._waiters: list[_Waiter] = []
        self._coordinator = threading.get_ident()  # the thread that drives time (see `run`)
        self.started = 0
        self.ended = 0
        self.end_times: list[float] = []  # simulated time each execution ended

    def is_execution_thread(self) -> bool:
        # moto runs each state of an execution in threads of its own (a task body, its timeout), all
        # started from the execution's worker: any thread but the coordinating one belongs to an execution.
        return threading.get_ident() != self._coordinator

    def execution_started(self) -> None:
        """Called synchronously by StartExecution, before the worker thread exists."""
        with self._lock:
            self._active += 1
            self.started += 1

    def run_execution(self, body: Callable[[], None]) -> None:
        """The worker thread's body: registered as an execution thread until it ends."""
        try:
            body()
        finally:
            with self._lock:
                self._active -= 1
                self.ended += 1
                self.end_times.append(self.clock.now)
                self._lock.notify_all()

    def wait(self, deadline: float, stop: Callable[[], bool] | None) -> bool:
        waiter = _Waiter(deadline, stop)
        with self._lock:
            self._waiters.append(waiter)
            self._active -= 1
            self._lock.notify_all()
        waiter.woken.wait()
        return waiter.stopped

    def _wake(self, waiter: _Waiter, stopped: bool) -> None:
        self._waiters.remove(waiter)
        waiter.stopped = stopped
        self._active += 1
        waiter.woken.set()

    def run(self, done: Callable[[], bool], wall_timeout_s: float) -> bool:
        """Drive the clock until `done()`; False if the wall-clock timeout passed first."""
        import time

        self._coordinator = threading.get_ident()
        deadline = time.monotonic() + wall_timeout_s
        while True:
            with self._lock:
                while self._active > 0:
                    if not self._lock.wait(timeout=max(0.0, deadline - time.monotonic())) \
                            and time.monotonic() > deadline:
                        return False
                ready = [w for w in self._waiters if w.stop is not None and w.stop()]
                if ready:
                    for w in ready:
                        self._wake(w, True)
                    continue
                if done():
                    return True
                due = self.clock.next_due()
                first = min(self._waiters, key=lambda w: w.deadline, default=None)
                if first is not None and (due is None or first.deadline <= due):
                    self.clock._now = max(self.clock._now, first.deadline)
                    self._wake(first, False)
                    continue
                if due is None:
                    return done()  # nothing left to happen
            self.clock.run_next(due)  # outside the lock: the action may start executions or resume them
            if time.monotonic() > deadline:
                return False
