"""The in-process token bucket, on a fake clock so nothing here depends on the machine's speed."""

from __future__ import annotations

import threading

import pytest

from hub.domain.errors import RateLimited
from hub.domain.models import Rate
from hub.providers.ratelimit.local import TokenBucket


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_a_full_bucket_lets_a_burst_through_then_paces_at_the_rate():
    # Given 10 per second, full
    clock = FakeClock()
    bucket = TokenBucket(Rate(10, 1), clock=clock, sleep=clock.sleep)
    # When 15 calls go
    for _ in range(15):
        with bucket.slot():
            pass
    # Then the first 10 went at once and the next 5 waited 0.1 s each
    assert clock.now == pytest.approx(0.5)
    assert len(clock.slept) == 5


def test_a_slot_that_cannot_come_within_max_wait_is_refused_with_the_wait():
    clock = FakeClock()
    bucket = TokenBucket(Rate(1, 5), clock=clock, sleep=clock.sleep)
    with bucket.slot():
        pass
    with pytest.raises(RateLimited) as raised, bucket.slot(max_wait=1.0):
        pass
    assert raised.value.retry_after == pytest.approx(5.0)


def test_the_concurrency_cap_holds_under_threads():
    # Given a cap of 3 concurrent calls and plenty of tokens
    bucket = TokenBucket(Rate(1000, 1, concurrency=3))
    inside = 0
    peak = 0
    lock = threading.Lock()
    release = threading.Event()

    def call() -> None:
        nonlocal inside, peak
        with bucket.slot():
            with lock:
                inside += 1
                peak = max(peak, inside)
            release.wait(0.05)
            with lock:
                inside -= 1

    # When 12 threads call at once
    threads = [threading.Thread(target=call) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # Then never more than 3 were inside
    assert peak == 3
