"""The local run's scheduler: the template's schedules, their expressions, when they fire and with what."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from local.schedules import Busy, Cron, Rate, Scheduler, parse_expression, schedules_of
from local.template import load

START = datetime(2026, 11, 21, 10, 0, 30, tzinfo=UTC)  # a Saturday


class RecordingFunctions:
    """Stands in for the loaded functions: records each invocation instead of running it."""

    def __init__(self, release: threading.Event | None = None):
        self.invoked: list[tuple[str, dict]] = []
        self.release = release

    def handler(self, fn):
        return None

    def invoke(self, fn, event):
        self.invoked.append((fn.logical_id, event))
        if self.release is not None:
            self.release.wait(5)
        return {"ran": fn.logical_id}


class Clock:
    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def wait_until(condition, seconds: float = 5) -> None:
    event = threading.Event()
    for _ in range(int(seconds / 0.02)):
        if condition():
            return
        event.wait(0.02)
    raise AssertionError("the condition did not hold in time")


def test_a_rate_fires_one_period_after_the_schedule_starts_and_every_period_after():
    # Given rate(15 minutes), started at START
    rate = parse_expression("rate(15 minutes)")
    assert rate == Rate(900)
    # Then it fires 15 minutes after the start, and on the period boundaries after any moment
    assert rate.next_after(START, START) == START + timedelta(minutes=15)
    assert rate.next_after(START + timedelta(minutes=16), START) == START + timedelta(minutes=30)


def test_a_cron_fires_at_its_next_matching_minute_in_utc():
    # Given weekdays at 09:30 UTC, and a moment on a Saturday
    cron = parse_expression("cron(30 9 ? * MON-FRI *)")
    assert isinstance(cron, Cron)
    # Then the next run is Monday 09:30
    assert cron.next_after(START, START) == datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
    # And steps, lists and month names are understood
    every_ten = parse_expression("cron(0/10 8,20 1 JAN,JUL ? *)")
    assert every_ten.next_after(START, START) == datetime(2027, 1, 1, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("rate(0 minutes)", "at least 1"),
        ("rate(5 weeks)", "neither"),
        ("cron(0 9 * * MON *)", "exactly one of day-of-month and day-of-week"),
        ("cron(0 9 L * ? *)", "not emulated"),
        ("cron(0 9 ? * 2#1 *)", "not emulated"),
        ("cron(0 25 * * ? *)", "from 0 to 23"),
        ("cron(0 9 * * ?)", "six fields"),
    ],
)
def test_an_expression_that_cannot_be_emulated_is_refused_saying_why(expression, reason):
    # Given an expression EventBridge would refuse, or one the local run does not emulate
    # Then it is refused with the reason
    with pytest.raises(ValueError, match=reason):
        parse_expression(expression)


def test_the_schedules_come_from_the_template_with_their_parameters():
    # Given the template deployed with the pending rewards task switched off and a faster sync
    template = load().with_overrides({"StatsSyncSchedule": "rate(2 minutes)", "PendingRewardsState": "DISABLED"})
    # When its schedules are read
    schedules = {s.fn.logical_id: s for s in schedules_of(template)}
    # Then each scheduled task has its expression and state
    assert schedules["SyncReferralStatsFunction"].expression == Rate(120)
    assert schedules["SyncReferralStatsFunction"].enabled
    assert not schedules["PendingRewardsFunction"].enabled


def test_an_enabled_schedule_fires_when_due_with_the_scheduled_event():
    # Given the local scheduler over the template, the sync every minute, started at START
    template = load().with_overrides({"StatsSyncSchedule": "rate(1 minute)", "PendingRewardsState": "DISABLED"})
    functions, clock = RecordingFunctions(), Clock(START)
    scheduler = Scheduler(template, functions, clock=clock, tick=3600)
    scheduler.start()
    try:
        # When less than a minute has passed, then nothing fires
        clock.now = START + timedelta(seconds=59)
        assert scheduler.fire_due() == []
        # When the minute is up
        clock.now = START + timedelta(seconds=60)
        fired = scheduler.fire_due()
        # Then the sync (and only it) runs, with EventBridge's scheduled event naming its rule
        assert [s.fn.logical_id for s in fired] == ["SyncReferralStatsFunction"]
        wait_until(lambda: len(functions.invoked) == 1)
        name, event = functions.invoked[0]
        assert name == "SyncReferralStatsFunction"
        assert event["detail-type"] == "Scheduled Event"
        assert event["source"] == "aws.events"
        assert event["time"] == "2026-11-21T10:01:30Z"
        assert event["resources"][0].endswith(":rule/local-SyncReferralStatsFunctionSchedule")
        # And its next run is a minute later
        assert fired[0].next_at == START + timedelta(seconds=120)
    finally:
        scheduler.stop()


def test_a_disabled_schedule_never_fires_but_its_task_runs_on_demand():
    # Given the pending rewards task switched off
    template = load().with_overrides({"PendingRewardsState": "DISABLED", "StatsSyncState": "DISABLED"})
    functions, clock = RecordingFunctions(), Clock(START)
    scheduler = Scheduler(template, functions, clock=clock, tick=3600)
    scheduler.start()
    try:
        # When a day passes, then it never fires
        clock.now = START + timedelta(days=1)
        assert scheduler.fire_due() == []
        # When it is run on demand, then it runs and answers its result
        outcome = scheduler.run("PendingRewardsFunction")
        assert outcome.result == {"ran": "PendingRewardsFunction"}
        assert functions.invoked[0][1]["detail-type"] == "Scheduled Event"
    finally:
        scheduler.stop()


def test_a_task_still_running_is_not_started_twice():
    # Given the sync running (its invocation held open)
    release = threading.Event()
    functions = RecordingFunctions(release)
    scheduler = Scheduler(load(), functions, clock=Clock(START), tick=3600)
    first = threading.Thread(target=scheduler.run, args=("SyncReferralStatsFunction",))
    first.start()
    try:
        wait_until(lambda: len(functions.invoked) == 1)
        # When it is run again meanwhile, then it is refused as busy
        with pytest.raises(Busy):
            scheduler.run("SyncReferralStatsFunction")
    finally:
        release.set()
        first.join(5)
    assert len(functions.invoked) == 1
