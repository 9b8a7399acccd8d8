"""Rate limiting of calls to a provider.

Every provider client takes a :class:`RateLimiter` and enters ``limiter.slot()`` around each HTTP
attempt, retries included, since a retry counts against the provider's limit like any other call.
This module holds the interface and the in-process limiter (one Lambda, or a test). The limiter
shared by every concurrent Lambda of a provider implements the same interface on DynamoDB.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from hub.domain.errors import RateLimited
from hub.domain.models import Rate


class RateLimiter:
    """The interface: ``with limiter.slot(): send()`` waits until one more call may go.

    ``slot`` raises :class:`RateLimited` when no slot frees up within ``max_wait`` seconds, so that a
    caller with a deadline (an API request) answers in bounded time instead of queueing forever.
    """

    @contextmanager
    def slot(self, max_wait: float | None = None) -> Iterator[None]:
        yield


class Unlimited(RateLimiter):
    """No limit: for providers or tests that want none."""


class TokenBucket(RateLimiter):
    """A thread-safe token bucket in process memory, with an optional cap on concurrent calls.

    The bucket holds at most ``burst`` tokens (default: the limit's ``requests``, which is what a
    provider counting per window allows at once) and refills at ``rate.per_second``, the steady rate
    of the slowest of the limit's windows.
    """

    def __init__(
        self,
        rate: Rate,
        *,
        burst: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.rate = rate
        self.capacity = float(burst if burst is not None else rate.requests)
        self._tokens = self.capacity
        self._clock = clock
        self._sleep = sleep
        self._updated = clock()
        self._lock = threading.Lock()
        self._concurrency = threading.BoundedSemaphore(rate.concurrency) if rate.concurrency else None

    def _take(self) -> float:
        """Take a token if one is there; otherwise say how long until one will be."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.capacity, self._tokens + (now - self._updated) * self.rate.per_second)
            self._updated = now
            if self._tokens >= 1:
                self._tokens -= 1
                return 0.0
            return (1 - self._tokens) / self.rate.per_second

    @contextmanager
    def slot(self, max_wait: float | None = None) -> Iterator[None]:
        deadline = None if max_wait is None else self._clock() + max_wait
        while (wait := self._take()) > 0:
            if deadline is not None and self._clock() + wait > deadline:
                raise RateLimited("the provider's rate limit is used up; try again shortly", retry_after=wait)
            self._sleep(wait)
        if self._concurrency is None:
            yield
            return
        timeout = None if deadline is None else max(0.0, deadline - self._clock())
        if not self._concurrency.acquire(timeout=timeout):
            raise RateLimited("too many concurrent calls to the provider; try again shortly", retry_after=1.0)
        try:
            yield
        finally:
            self._concurrency.release()
