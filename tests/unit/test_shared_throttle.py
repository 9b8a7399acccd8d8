"""The DynamoDB rate limiter shared by every Lambda of a provider, on moto.

Most tests run on a fake clock, so nothing depends on the machine's speed; one runs real threads on
the real clock and checks the one property that matters under load: no sliding window ever holds
more calls than the limit.
"""

from __future__ import annotations

import itertools
import random
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.dynamodb.responses import DynamoHandler

from hub.domain.errors import RateLimited
from hub.domain.models import Provider, Rate, Window
from hub.domain.providers import PROVIDERS
from hub.providers.ratelimit.local import TokenBucket
from hub.providers.ratelimit.shared import DynamoDBRateLimiter, shared_limiter_for

TABLE = "throttle"
START = 1_700_000_000.0


class FakeClock:
    """Epoch time that moves only when someone sleeps (or the test says so)."""

    def __init__(self) -> None:
        self.now = START
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def dynamodb(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A moto DynamoDB with the throttle table (partition key ``id``, a string)."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        client = boto3.client("dynamodb")
        client.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield client


@pytest.fixture
def new_limiter(dynamodb: Any) -> Callable[..., DynamoDBRateLimiter]:
    def new(rate: Rate, clock: FakeClock, **options: Any) -> DynamoDBRateLimiter:
        options.setdefault("sleep", clock.sleep)
        return DynamoDBRateLimiter(TABLE, "growsurf", rate, client=dynamodb, clock=clock, **options)

    return new


def granted(limiter: DynamoDBRateLimiter, clock: FakeClock, calls: int) -> list[float]:
    """The times, from the start, at which ``calls`` calls were let through."""
    times = []
    for _ in range(calls):
        with limiter.slot():
            times.append(round(clock() - START, 6))
    return times


def stored_tat(dynamodb: Any) -> float:
    item = dynamodb.get_item(TableName=TABLE, Key={"id": {"S": "growsurf"}})["Item"]
    return float(item["tat"]["N"])


def most_in_a_window(times: list[float], window: float) -> int:
    """The most calls any closed sliding window of ``window`` seconds holds (one starts at a call)."""
    ordered = sorted(times)
    return max(sum(1 for t in ordered[i:] if t <= start + window) for i, start in enumerate(ordered))


def test_slots_are_spaced_by_the_interval(new_limiter):
    # Given 10 per second with a 2 % margin: one slot every 102 ms
    clock = FakeClock()
    limiter = new_limiter(Rate(10, 1), clock, margin=0.02)
    # When 5 calls go back to back
    times = granted(limiter, clock, 5)
    # Then the first went at once and each next one 102 ms later
    assert limiter.interval == pytest.approx(0.102)
    assert times == pytest.approx([0.0, 0.102, 0.204, 0.306, 0.408])


@pytest.mark.parametrize(("rate", "interval"), [(Rate(10, 1), 0.105), (Rate(30, 5), 0.170), (Rate(300, 60), 0.204)])
def test_the_default_margin_leaves_at_least_50_ms_of_slack_per_window(new_limiter, rate, interval):
    # Given a limiter with the default margin
    limiter = new_limiter(rate, FakeClock())
    # Then its slots are 2 % further apart than the limit, or enough for 50 ms of slack per window
    assert limiter.interval == pytest.approx(interval)
    assert limiter.interval * rate.requests - rate.per_seconds >= 0.05 - 1e-9


def test_an_idle_schedule_gives_a_slot_at_once(new_limiter):
    # Given a limiter used a while ago
    clock = FakeClock()
    limiter = new_limiter(Rate(10, 1), clock)
    granted(limiter, clock, 3)
    clock.now += 60
    clock.slept.clear()
    # When a call comes
    with limiter.slot():
        pass
    # Then it went without waiting
    assert clock.slept == []


def test_a_slot_beyond_max_ahead_is_refused_with_the_wait_and_not_reserved(new_limiter, dynamodb):
    # Given 1 call per 5 s (a slot every 5.1 s), two slots already reserved by callers still waiting
    clock = FakeClock()
    limiter = new_limiter(Rate(1, 5), clock, max_ahead=10.0, sleep=lambda seconds: None)
    for _ in range(2):
        with limiter.slot():
            pass
    tat = stored_tat(dynamodb)
    # When a third call asks, the next free slot being 10.2 s away
    with pytest.raises(RateLimited) as raised, limiter.slot():
        pass
    # Then it is refused with that wait, and the schedule is as it was
    assert raised.value.retry_after == pytest.approx(10.2)
    assert stored_tat(dynamodb) == tat == pytest.approx(START + 10.2)


def test_max_wait_caps_how_far_ahead_a_slot_may_be(new_limiter, dynamodb):
    # Given 1 call per 5 s, one call just gone
    clock = FakeClock()
    limiter = new_limiter(Rate(1, 5), clock)
    with limiter.slot():
        pass
    # When a caller that can wait 1 s asks
    with pytest.raises(RateLimited) as raised, limiter.slot(max_wait=1.0):
        pass
    # Then it is refused with the 5.1 s wait, nothing reserved
    assert raised.value.retry_after == pytest.approx(5.1)
    assert stored_tat(dynamodb) == pytest.approx(START + 5.1)


def test_two_lambdas_on_the_same_table_share_one_schedule(dynamodb):
    # Given two limiters with their own clients ("two Lambdas") on the same provider's item
    clock = FakeClock()
    lambdas = [
        DynamoDBRateLimiter(
            TABLE, "growsurf", Rate(10, 1), margin=0.02, client=boto3.client("dynamodb"), clock=clock, sleep=clock.sleep
        )
        for _ in range(2)
    ]
    # When they take turns
    times = []
    for limiter in lambdas * 2:
        with limiter.slot():
            times.append(round(clock() - START, 6))
    # Then the calls follow one schedule, not one each
    assert times == pytest.approx([0.0, 0.102, 0.204, 0.306])


def test_other_providers_have_their_own_schedule(dynamodb):
    # Given one call to GrowSurf
    clock = FakeClock()
    growsurf = DynamoDBRateLimiter(TABLE, "growsurf", Rate(1, 5), client=dynamodb, clock=clock, sleep=clock.sleep)
    loops = DynamoDBRateLimiter(TABLE, "loops", Rate(1, 5), client=dynamodb, clock=clock, sleep=clock.sleep)
    with growsurf.slot():
        pass
    # When Loops is called
    with loops.slot():
        pass
    # Then it did not wait behind GrowSurf
    assert clock.slept == []


def test_a_slot_found_late_is_dropped_for_the_next_one(new_limiter):
    # Given 10 per second with a 2 % margin, and a sleep that oversleeps 50 ms once (more than the
    # 10 ms allowed)
    clock = FakeClock()
    oversleep = [0.05]

    def sleep(seconds: float) -> None:
        clock.sleep(seconds + (oversleep.pop() if oversleep else 0.0))

    limiter = new_limiter(Rate(10, 1), clock, sleep=sleep, margin=0.02)
    with limiter.slot():
        pass
    # When the next call wakes up 50 ms after its slot
    times = granted(limiter, clock, 1)
    # Then it goes in the slot after, on time
    assert times == pytest.approx([0.204])


def test_a_burst_goes_at_once_and_is_paid_for_with_a_slower_pace(new_limiter):
    # Given 10 per second with a burst of 3 and a 2 % margin: 8 slots per 1.02 s after the burst
    clock = FakeClock()
    limiter = new_limiter(Rate(10, 1), clock, burst=3, margin=0.02)
    # When 5 calls go back to back
    times = granted(limiter, clock, 5)
    # Then 3 went at once, then one every 128 ms
    assert times == pytest.approx([0.0, 0.0, 0.0, 0.128, 0.256])


@pytest.mark.parametrize("burst", [1, 3, 10])
def test_no_sliding_window_holds_more_than_the_limit_whatever_the_burst(new_limiter, burst):
    # Given 10 per second, and calls arriving in bunches separated by pauses of any length
    clock = FakeClock()
    limiter = new_limiter(Rate(10, 1), clock, burst=burst)
    pauses = random.Random(burst)
    times: list[float] = []
    # When about 125 calls go
    for _ in range(25):
        clock.now += pauses.choice([0.0, 0.05, 0.3, 0.9, 2.0])
        times += granted(limiter, clock, pauses.randint(1, 9))
    # Then every 1 s window holds at most 10 of them
    assert most_in_a_window(times, 1.0) <= 10


def counted_writes(dynamodb: Any) -> list[str]:
    """The schedule writes the client makes from now on (one entry per UpdateItem)."""
    writes: list[str] = []
    dynamodb.meta.events.register("before-call.dynamodb.UpdateItem", lambda **kwargs: writes.append("write"))
    return writes


def test_a_call_on_an_idle_schedule_costs_one_write(new_limiter, dynamodb):
    # Given live calls a second apart on 10 per second: the schedule is idle at each of them
    clock = FakeClock()
    limiter = new_limiter(Rate(10, 1), clock)
    writes = counted_writes(dynamodb)
    # When 10 calls go
    for _ in range(10):
        clock.now += 1.0
        granted(limiter, clock, 1)
    # Then each cost one write to the schedule, and went at once
    assert len(writes) == 10
    assert clock.slept == []


def test_calls_on_a_busy_schedule_cost_one_write_each_once_it_is_busy(new_limiter, dynamodb):
    # Given a bulk consumer calling back to back on 10 per second
    clock = FakeClock()
    limiter = new_limiter(Rate(10, 1), clock)
    writes = counted_writes(dynamodb)
    # When 50 calls go
    times = granted(limiter, clock, 50)
    # Then only the call that found the idle schedule busy made a second write, and the spacing held
    assert len(writes) == 51
    assert most_in_a_window(times, 1.0) <= 10


def test_a_limit_of_several_windows_is_spaced_by_the_interval_of_its_slowest_window(new_limiter):
    # Given 30 per 5 s and 200 per 60 s (GrowSurf's first two windows), with the default margins
    clock = FakeClock()
    limiter = new_limiter(Rate(30, 5, more=(Window(200, 60),)), clock)
    # When 400 calls go back to back
    times = granted(limiter, clock, 400)
    # Then they are spaced for the minute (306 ms: 60 s x 1.02 / 200), so both windows hold
    assert limiter.interval == pytest.approx(0.306)
    assert most_in_a_window(times, 60.0) <= 200
    assert most_in_a_window(times, 5.0) <= 30


@pytest.mark.parametrize("burst", [1, 2])
def test_no_window_of_a_three_window_limit_holds_more_than_its_requests(new_limiter, burst):
    # Given three windows shaped like GrowSurf's, scaled to a test (3 per 0.5 s, 20 per 6 s, 100 per
    # 36 s), and calls in bunches separated by pauses of any length
    clock = FakeClock()
    rate = Rate(3, 0.5, concurrency=3, more=(Window(20, 6), Window(100, 36)))
    limiter = new_limiter(rate, clock, burst=burst)
    pauses = random.Random(burst)
    times: list[float] = []
    # When about 250 calls go
    for _ in range(50):
        clock.now += pauses.choice([0.0, 0.05, 0.3, 2.0, 8.0])
        times += granted(limiter, clock, pauses.randint(1, 9))
    # Then no window of any of the three lengths holds more than its requests
    assert [most_in_a_window(times, w.per_seconds) <= w.requests for w in rate.windows] == [True, True, True]


def test_growsurfs_documented_limit_keeps_its_hour(new_limiter):
    # Given GrowSurf's documented limit (30 per 5 s, 200 per 60 s, 10,000 per 3,600 s)
    limiter = new_limiter(PROVIDERS[Provider.GROWSURF].rate_limit, FakeClock())
    # Then its calls are spaced for the hour: 10,000 of them span more than an hour
    assert limiter.interval == pytest.approx(0.368)  # 3,600 s x 1.02 / 10,000, up to the millisecond
    assert limiter.interval * 10_000 > 3_600


@pytest.fixture
def atomic_moto(monkeypatch: pytest.MonkeyPatch) -> None:
    """DynamoDB applies a conditional write to one item atomically; moto does not lock, so lock it."""
    lock = threading.Lock()
    update_item = DynamoHandler.update_item

    def locked(self: DynamoHandler) -> Any:
        with lock:
            return update_item(self)

    monkeypatch.setattr(DynamoHandler, "update_item", locked)


@pytest.mark.usefixtures("atomic_moto")
@pytest.mark.parametrize("rate", [Rate(20, 1), Rate(10, 0.5, more=(Window(24, 3),))], ids=["one-window", "two-windows"])
def test_concurrent_lambdas_never_exceed_the_limit_in_any_sliding_window(dynamodb, rate):
    # Given a limit (20 calls per second; or 10 per 0.5 s and 24 per 3 s), and 8 threads, each its own
    # "Lambda" with its own client
    lambdas = [DynamoDBRateLimiter(TABLE, "growsurf", rate, client=boto3.client("dynamodb")) for _ in range(8)]
    granted_at: list[float] = []
    failures: list[BaseException] = []
    lock = threading.Lock()

    def run(limiter: DynamoDBRateLimiter) -> None:
        try:
            for _ in range(5):
                with limiter.slot():
                    now = time.time()
                    with lock:
                        granted_at.append(now)
        except BaseException as exc:
            with lock:
                failures.append(exc)

    # When they make 40 calls at once
    threads = [threading.Thread(target=run, args=(limiter,)) for limiter in lambdas]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Then every call got a slot, and no window of any of the limit's lengths holds more than its requests
    assert failures == []
    assert len(granted_at) == 40
    assert all(most_in_a_window(granted_at, w.per_seconds) <= w.requests for w in rate.windows)


@pytest.mark.usefixtures("atomic_moto")
def test_the_concurrency_cap_holds_within_a_process(dynamodb):
    # Given plenty of rate but at most 2 calls at once
    limiter = DynamoDBRateLimiter(TABLE, "growsurf", Rate(1000, 1, concurrency=2), client=dynamodb)
    inside = peak = 0
    lock = threading.Lock()

    def call() -> None:
        nonlocal inside, peak
        with limiter.slot():
            with lock:
                inside += 1
                peak = max(peak, inside)
            time.sleep(0.02)
            with lock:
                inside -= 1

    # When 6 threads call at once
    threads = [threading.Thread(target=call) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Then never more than 2 were inside
    assert peak == 2


def test_without_the_table_the_shared_limiter_is_in_process(monkeypatch):
    # Given no THROTTLE_TABLE
    monkeypatch.delenv("THROTTLE_TABLE", raising=False)
    # When the limiter for a provider is asked for twice
    first = shared_limiter_for("viral_loops", Rate(300, 60))
    second = shared_limiter_for("viral_loops", Rate(300, 60))
    # Then it is one token bucket
    assert isinstance(first, TokenBucket)
    assert first is second


def test_with_the_table_the_shared_limiter_is_on_dynamodb(monkeypatch, dynamodb):
    # Given THROTTLE_TABLE naming the table
    monkeypatch.setenv("THROTTLE_TABLE", TABLE)
    # When the limiter for a provider is asked for twice and used
    limiter = shared_limiter_for("sparkloop", Rate(60, 60))
    with limiter.slot():
        pass
    # Then it is one DynamoDB limiter, which created its client and wrote the provider's schedule
    assert isinstance(limiter, DynamoDBRateLimiter)
    assert shared_limiter_for("sparkloop", Rate(60, 60)) is limiter
    assert "Item" in dynamodb.get_item(TableName=TABLE, Key={"id": {"S": "sparkloop"}})
    assert shared_limiter_for("loops", Rate(10, 1)) is not limiter


class SlowAnswers:
    """A DynamoDB client whose every answer takes ``seconds`` on the fake clock."""

    def __init__(self, client: Any, clock: FakeClock, seconds: float):
        self.client, self.clock, self.seconds = client, clock, seconds
        self.updates = 0

    def update_item(self, **kwargs: Any) -> Any:
        self.updates += 1
        self.clock.now += self.seconds
        return self.client.update_item(**kwargs)


def test_slow_dynamodb_answers_do_not_make_every_slot_late(dynamodb):
    # Given a limiter of 50 per second (slots 20.4 ms apart, 10 ms of lateness allowed) whose
    # DynamoDB answers take 60 ms, and a caller slower than the limit (the schedule is idle)
    clock = FakeClock()
    slow = SlowAnswers(dynamodb, clock, 0.06)
    limiter = DynamoDBRateLimiter(TABLE, "loops", Rate(50, 1.0), client=slow, clock=clock, sleep=clock.sleep)
    # When 30 calls go, 100 ms of work apart
    times = []
    for _ in range(30):
        with limiter.slot():
            times.append(clock())
        clock.now += 0.1
    # Then after a short warm-up each call needs one reservation, not a string of dropped late ones
    assert slow.updates <= 30 * 2 + 12
    warm = slow.updates
    for _ in range(10):
        with limiter.slot():
            times.append(clock())
        clock.now += 0.1
    assert slow.updates - warm <= 20  # at most one failed "busy" try and the "idle" write per call
    # And calls stay at least one interval apart
    assert min(b - a for a, b in itertools.pairwise(times)) >= limiter.interval
