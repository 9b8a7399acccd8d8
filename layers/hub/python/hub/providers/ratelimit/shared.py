"""The rate limiter shared by every concurrent Lambda of a provider, on one DynamoDB item.

The design is GCRA (the generic cell rate algorithm, in its "virtual scheduling" form). The whole
state of a provider's limit is one number, ``tat``, the theoretical arrival time: the earliest time
the next call may go. It lives in one item ``{"id": <provider>, "tat": <epoch seconds, ms
precision>}`` of the table named by ``THROTTLE_TABLE`` (partition key ``id``, a string), written
through :mod:`hub.aws.throttle_table`.

Why this and not the alternatives:

* One acquisition is usually **one** ``UpdateItem`` and no read: ``SET tat = tat + :interval`` on
  the condition ``tat BETWEEN :now AND :horizon``. DynamoDB applies a conditional write to one item
  atomically, so concurrent Lambdas are serialized by the item itself and each gets its own slot
  (``new tat - interval``) from its own answer. The condition holds for every caller while the
  schedule is busy, so callers do not fail on each other's writes and there are no contention
  retries. A token bucket or a sliding log in DynamoDB needs a read, then a write guarded by
  optimistic locking, which fails and retries more the more Lambdas run at once; a fixed-window
  counter lets ``2 x requests`` through across a window boundary.
* When the schedule is idle (``tat`` in the past, or no item yet) the other write resets it to
  ``now + interval``, with the slot ``now``. Each limiter tries first the write the schedule needed
  last time (the reset after an idle schedule, the advance after a busy one), so a live call on a
  quiet provider and a bulk consumer at the limit alike make one write; the second write comes only
  when the schedule changed between two acquisitions, and only a race at exactly that moment loops.
  The failed condition returns the item (``ReturnValuesOnConditionCheckFailure=ALL_OLD``), so the
  limiter decides between "idle", "busy" and "too far ahead" without a read.
* When the next free slot lies beyond the horizon (``max_ahead``, or the caller's ``max_wait`` if
  sooner), :class:`RateLimited` is raised with ``retry_after`` set to that slot, and nothing is
  reserved. A caller never holds a slot it cannot reach in time, and queues stay bounded.
* A reserved slot nobody uses (a caller that crashed, a late slot dropped, see below) is wasted,
  never over the limit. Each call costs one write to one item; a partition takes 1,000 writes a
  second, far above any provider's limit here.

Why it never exceeds the limit in a sliding window: slots are at least ``interval = per_seconds /
requests * (1 + margin)`` apart, so ``requests + 1`` consecutive slots span ``per_seconds * (1 +
margin)``, longer than any window of ``per_seconds``. That excess, ``per_seconds * margin``, is
the slack for everything that moves a call away from its slot. Jitter is a matter of milliseconds,
not of a share of the window, so the default margin is 2 % but never less than 50 ms of slack
(:data:`MIN_SLACK_SECONDS`): 100 ms for GrowSurf's 30 per 5 s, 50 ms (5 %) for Loops' 10 per
second, where 2 % would leave 20 ms, less than a busy network's jitter. Half of the slack is for
the time between the slot and the call leaving this process (a slow DynamoDB answer, a thread that
oversleeps): a slot found later than that after waking is dropped and another one taken. The other
half is for clock skew between Lambdas (``tat`` is compared with each Lambda's clock) and network
jitter on the way to the provider. Times are rounded to
milliseconds, and ``interval`` upwards, so rounding never shortens the spacing.

An optional ``burst`` (default 1: none) lets ``burst`` calls through at once after an idle spell.
It is GCRA with tolerance ``tau = (burst - 1) * interval``: a caller's slot is ``tat - tau`` when
that is not in the past. GCRA lets through at most ``floor((L + tau) / interval) + 1`` calls in any
span ``L``; keeping that at ``requests`` for ``L = per_seconds`` takes ``interval = per_seconds *
(1 + margin) / (requests - burst + 1)``, so a burst is paid for with a lower steady rate and the
sliding-window guarantee (with the same slack) holds for every ``burst``.

A limit of several windows (GrowSurf's 30 per 5 s, 200 per 60 s and 10,000 per 3,600 s) is kept on
the same one schedule: each window gives its own interval by the formula above (with its own margin),
and the schedule's interval is the longest of them. Slots that far apart keep every window, since each
window's guarantee needs its slots at least its own interval apart; the binding window is the one with
the least steady rate (GrowSurf's hour: 2.78 calls a second), and the others never see a burst past
it. The late-slot tolerance is half the least slack any window has. A window's burst beyond the
binding rate (GrowSurf allows 30 calls in 5 s, which 2.78 a second never reaches) is not used: the
hub keeps one number per provider, and one write per call.

``Rate.concurrency`` is honoured within one process only (a semaphore, taken before the slot is
reserved so that waiting for it cannot make a call late). Across Lambdas the spacing bounds the
calls in flight at ``ceil(call duration / interval)``.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

from hub.aws.throttle_table import ConditionFailed, ScheduleItem
from hub.domain.errors import RateLimited
from hub.domain.models import Rate, Window
from hub.providers.ratelimit.local import RateLimiter, TokenBucket
from hub.runtime.observability import logger
from hub.settings import env

T = TypeVar("T")

#: Late slots a caller gives back before it goes anyway.
MAX_LATE_DROPS = 3
#: The default margin, and the least slack it leaves in any window (see the module's notes).
DEFAULT_MARGIN = 0.02
MIN_SLACK_SECONDS = 0.05
#: The most a reservation looks ahead to cover DynamoDB's own answer time (see ``_reserve``).
MAX_LEAD_SECONDS = 0.25


class DynamoDBRateLimiter(RateLimiter):
    """GCRA on one DynamoDB item: every limiter with the same table and key shares one schedule.

    ``with limiter.slot(max_wait=...)`` reserves the next free slot, waits for it, then lets the call
    go. ``margin`` widens the spacing between slots so that no sliding window of ``rate.per_seconds``
    holds more than ``rate.requests`` calls despite skew and jitter (it must be positive; by default
    2 %, and at least :data:`MIN_SLACK_SECONDS` of the window);
    ``max_ahead`` is how far into the future a slot may be reserved; ``burst`` (default 1) lets that
    many calls through at once after an idle spell, at the cost of a lower steady rate. ``client``
    is the low-level DynamoDB client of the schedule item (:class:`hub.aws.throttle_table.ScheduleItem`):
    the process's own, made on first use, if not given.
    """

    def __init__(
        self,
        table_name: str,
        key: str,
        rate: Rate,
        *,
        margin: float | None = None,
        max_ahead: float = 10.0,
        burst: int = 1,
        client: Any = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ):
        if max_ahead <= 0:
            raise ValueError("max_ahead must be positive")
        spacing = _Spacing.of(rate, margin, burst)
        self.table_name = table_name
        self.key = key
        self.rate = rate
        self.margin = spacing.margins[0]
        self.max_ahead = max_ahead
        self.burst = burst
        self._interval_ms = spacing.interval_ms
        self._tolerance_ms = (burst - 1) * self._interval_ms
        self._late_after = spacing.late_after
        self._schedule = ScheduleItem(table_name, key, client)
        self._clock = clock
        self._sleep = sleep
        self._concurrency = threading.BoundedSemaphore(rate.concurrency) if rate.concurrency else None
        # Smoothed time DynamoDB takes to answer a reservation, in seconds.
        self._round_trip = 0.0
        # Whether the last reservation found the schedule idle (a new process expects so).
        self._idle_last = True

    @property
    def interval(self) -> float:
        """Seconds between two slots of the steady schedule."""
        return self._interval_ms / 1000

    @contextmanager
    def slot(self, max_wait: float | None = None) -> Iterator[None]:
        """Wait for the next slot of the shared schedule, then let one call go.

        Raises :class:`RateLimited` without reserving anything when the next free slot is further
        away than ``max_wait`` (or ``max_ahead``).
        """
        deadline = None if max_wait is None else self._clock() + max_wait
        if self._concurrency is not None:
            timeout = None if deadline is None else max(0.0, deadline - self._clock())
            if not self._concurrency.acquire(timeout=timeout):
                raise RateLimited("too many concurrent calls to the provider; try again shortly", retry_after=1.0)
        try:
            self._wait_for_slot(deadline)
            yield
        finally:
            if self._concurrency is not None:
                self._concurrency.release()

    def _wait_for_slot(self, deadline: float | None) -> None:
        for _attempt in range(MAX_LATE_DROPS + 1):
            ahead = self.max_ahead if deadline is None else min(self.max_ahead, max(0.0, deadline - self._clock()))
            slot = self._reserve(ahead) / 1000
            wait = slot - self._clock()
            if wait > 0:
                self._sleep(wait)
            late = self._clock() - slot
            if late <= self._late_after:
                return
            # Woken well after the slot: going now would eat the slack that keeps the sliding window
            # under the limit, so take a later one (a few times at most: a starved caller still goes).
            logger.debug("dropping a late slot", extra={"throttleKey": self.key, "lateMs": round(late * 1000, 1)})

    def _reserve(self, ahead: float) -> int:
        """Reserve the next free slot within ``ahead`` seconds; return its time in epoch milliseconds.

        The earliest slot taken is not "now" but "now plus the time DynamoDB takes to answer" (as
        lately measured): a slot of "now" on an idle schedule would already be late when the answer
        arrives, and with a slow answer (a busy table, a cold connection) every call would drop its
        slot and take another, a collapse exactly when the limiter is under load.

        One write when the schedule is as the last acquisition found it: after an idle schedule the
        restart is tried first (a live call on a quiet provider goes after one write), after a busy
        one the advance. The other write follows only when the schedule changed in between; a slot
        beyond the horizon is refused after the first.
        """
        while True:
            horizon = _ceil_ms(self._clock() + ahead) + self._tolerance_ms
            now = self._earliest(horizon)
            first, second = (self._restart, self._advance) if self._idle_last else (self._advance, self._restart)
            try:
                return first(now, horizon)
            except ConditionFailed as failed:
                tat = failed.tat
            if tat is not None and tat > horizon:
                raise RateLimited(
                    "the provider's rate limit is used up; try again shortly",
                    retry_after=(tat - self._tolerance_ms - now) / 1000,
                )
            # A round trip has passed: the slot worth taking is later now.
            now = max(now, self._earliest(horizon))
            try:
                return second(now, horizon)
            except ConditionFailed:
                continue  # another caller changed the schedule in between: start again

    def _advance(self, now: int, horizon: int) -> int:
        """The busy schedule's next slot: its time moved one interval on, if within [now, horizon]."""
        new_tat = self._timed(partial(self._schedule.advance, interval=self._interval_ms, now=now, horizon=horizon))
        self._idle_last = False
        return max(now, new_tat - self._interval_ms - self._tolerance_ms)

    def _restart(self, now: int, horizon: int) -> int:
        """The idle schedule's slot ``now``: its time set one interval after it, if it lay in the past."""
        self._timed(partial(self._schedule.restart, now=now, tat=now + self._interval_ms))
        self._idle_last = True
        return now

    def _earliest(self, horizon: int) -> int:
        """The earliest slot worth reserving now (epoch ms): now plus one answer of DynamoDB, within
        the horizon."""
        lead = min(self._round_trip * 1.5, MAX_LEAD_SECONDS)
        return min(_ceil_ms(self._clock() + lead), max(horizon - self._tolerance_ms, _ceil_ms(self._clock())))

    def _timed(self, write: Callable[[], T]) -> T:
        """``write`` to the schedule item, its answer time folded into the smoothed round trip."""
        started = self._clock()
        try:
            return write()
        finally:
            self._round_trip += (self._clock() - started - self._round_trip) / 4


@dataclass(frozen=True)
class _Spacing:
    """How far apart a limit's slots are: the longest interval any of its windows asks for (which
    keeps every window, see the module's notes), each window's margin, and the lateness a slot may
    have before it is dropped (half the least slack of any window)."""

    interval_ms: int
    margins: tuple[float, ...]
    late_after: float

    @classmethod
    def of(cls, rate: Rate, margin: float | None, burst: int) -> _Spacing:
        windows = rate.windows
        if any(window.requests < 1 or window.per_seconds <= 0 for window in windows):
            raise ValueError(f"a rate needs at least one request in a positive time, not {rate}")
        if not 1 <= burst <= min(window.requests for window in windows):
            raise ValueError(f"burst must be between 1 and the least requests of the rate's windows, {rate}")
        margins = tuple(_margin(window, margin) for window in windows)
        pairs = list(zip(windows, margins, strict=True))
        interval_ms = max(_ceil_ms(w.per_seconds * (1 + m) / (w.requests - burst + 1)) for w, m in pairs)
        return cls(interval_ms, margins, min(w.per_seconds * m for w, m in pairs) / 2)


def _margin(window: Window, margin: float | None) -> float:
    """The margin of one window: the one given, else 2 % and at least :data:`MIN_SLACK_SECONDS` of it."""
    if margin is None:
        margin = max(DEFAULT_MARGIN, MIN_SLACK_SECONDS / window.per_seconds)
    if not 0 < margin < 1:
        raise ValueError("margin must be between 0 and 1: it is the slack that absorbs clock skew and jitter")
    return margin


def _ceil_ms(seconds: float) -> int:
    # Rounding to the microsecond first drops float noise, so that 0.1 s is 100 ms and not 101.
    return math.ceil(round(seconds * 1000, 3))


_shared: dict[tuple[str, str | None, Rate], RateLimiter] = {}
_shared_lock = threading.Lock()


def shared_limiter_for(provider: str, rate: Rate) -> RateLimiter:
    """The limiter every Lambda of ``provider`` shares: on DynamoDB if ``THROTTLE_TABLE`` is set.

    Without the table (tests, the local API) it is an in-process :class:`TokenBucket`. One limiter
    per provider per process, so that warm invocations reuse it and its client.
    """
    table = env.environment().throttle_table
    cache_key = (provider, table, rate)
    with _shared_lock:
        limiter = _shared.get(cache_key)
        if limiter is None:
            limiter = DynamoDBRateLimiter(table, provider, rate) if table else TokenBucket(rate)
            _shared[cache_key] = limiter
        return limiter
