"""EventBridge schedules for the local run, and the control endpoint that runs a scheduled task on demand.

- Each ``Schedule`` (or ``ScheduleV2``) event of a function in the template is a schedule, with the
  template's expression and state (``State: ENABLED | DISABLED``, or ``Enabled``), parameters resolved
  with ``HUB_PARAMETER_OVERRIDES``. A disabled schedule does not fire; its function can still be run
  on demand, as a function can be invoked in AWS whatever its rule's state.
- It fires as EventBridge does: ``rate(n minutes|hours|days)`` one period after the schedule starts and
  every period after; ``cron(minutes hours day-of-month month day-of-week year)`` at each matching
  minute, in UTC (numbers, ``*``, ``?``, ranges, lists, steps and the names ``JAN``... and ``SUN``...;
  ``L``, ``W`` and ``#`` are not emulated, and such a schedule is left out with a warning). The
  function gets EventBridge's scheduled event, or the event's ``Input`` when it has one.
- One run of a function at a time, as the tasks' reserved concurrency of one gives in AWS: a schedule
  that fires while its function still runs is skipped (and logged); an on-demand run answers 429.

The control endpoint listens on loopback only, on ``HUB_CONTROL_PORT`` (default: the API's port plus
one), apart from the API so that the API stays what API Gateway serves:

- ``GET /schedules``: each schedule, its expression, whether it is enabled and when it fires next;
- ``POST /schedules/<FunctionLogicalId>``: run that function now with a scheduled event, and answer
  ``{"function", "event", "result"}`` once it returns (502 if it failed, 504 past its timeout).

``python -m local.invoke`` is the command line of the second route.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wrappers import Request, Response

from .aws import LOCAL_REGION
from .events import Invocation, Stop, invoke
from .gateway import Functions
from .template import Function, Template

log = logging.getLogger("local.schedules")

ACCOUNT = "000000000000"
SCHEDULE_TYPES = ("Schedule", "ScheduleV2")
STOP_GRACE_SECONDS = 1.5

# -- expressions ----------------------------------------------------------------------------------

_RATE = re.compile(r"^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$")
_CRON = re.compile(r"^cron\((.+)\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}
_MONTHS = {
    name: n
    for n, name in enumerate(("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"), 1)
}
_DAYS = {name: n for n, name in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"), 1)}
#: A cron expression that matches nothing within this many days is refused.
CRON_HORIZON_DAYS = 4 * 366


@dataclass(frozen=True)
class Rate:
    """``rate(n unit)``: every ``seconds``."""

    seconds: int

    def next_after(self, moment: datetime, started: datetime) -> datetime:
        periods = int((moment - started).total_seconds() // self.seconds) + 1
        return started + timedelta(seconds=periods * self.seconds)


@dataclass(frozen=True)
class Cron:
    """``cron(...)``: the values each field allows (None: any)."""

    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int] | None
    months: frozenset[int]
    weekdays: frozenset[int] | None  # EventBridge numbering: 1 is Sunday
    years: frozenset[int] | None

    def matches_day(self, day: datetime) -> bool:
        weekday = (day.weekday() + 1) % 7 + 1
        return (
            day.month in self.months
            and (self.years is None or day.year in self.years)
            and (self.days is None or day.day in self.days)
            and (self.weekdays is None or weekday in self.weekdays)
        )

    def next_after(self, moment: datetime, started: datetime) -> datetime:
        candidate = moment.replace(second=0, microsecond=0) + timedelta(minutes=1)
        end = candidate + timedelta(days=CRON_HORIZON_DAYS)
        while candidate < end:
            if not self.matches_day(candidate):
                candidate = (candidate + timedelta(days=1)).replace(hour=0, minute=0)
                continue
            if candidate.hour in self.hours and candidate.minute in self.minutes:
                return candidate
            candidate += timedelta(minutes=1)
        raise ValueError("the cron expression matches no time in the next four years")


Expression = Rate | Cron


def parse_expression(text: str) -> Expression:
    """A schedule expression as EventBridge writes it; ValueError (saying why) for one that is not."""
    text = text.strip()
    rate = _RATE.match(text)
    if rate:
        value, unit = int(rate.group(1)), rate.group(2).rstrip("s")
        if value < 1:
            raise ValueError("a rate must be at least 1")
        return Rate(value * _UNIT_SECONDS[unit])
    cron = _CRON.match(text)
    if not cron:
        raise ValueError(f"{text!r} is neither rate(...) nor cron(...)")
    fields = cron.group(1).split()
    if len(fields) != 6:
        raise ValueError("a cron expression has six fields: minutes hours day-of-month month day-of-week year")
    minutes, hours, days, months, weekdays, years = fields
    if (days == "?") == (weekdays == "?"):
        raise ValueError("exactly one of day-of-month and day-of-week must be '?'")
    expression = Cron(
        minutes=_field(minutes, 0, 59),
        hours=_field(hours, 0, 23),
        days=None if days in ("*", "?") else _field(days, 1, 31),
        months=_field(months, 1, 12, names=_MONTHS),
        weekdays=None if weekdays in ("*", "?") else _field(weekdays, 1, 7, names=_DAYS),
        years=None if years == "*" else _field(years, 1970, 2199),
    )
    expression.next_after(datetime.now(UTC), datetime.now(UTC))  # one that never fires is refused now
    return expression


def _field(text: str, low: int, high: int, *, names: dict[str, int] | None = None) -> frozenset[int]:
    """The values a cron field allows: ``*``, numbers or names, ``a-b`` ranges, ``/step``, lists."""
    values: set[int] = set()
    for part in text.split(","):
        bare = re.sub("|".join(names), "", part.upper()) if names else part.upper()
        if any(mark in bare for mark in ("L", "W", "#", "?")):
            raise ValueError(f"cron field {text!r}: L, W, # (and ? here) are not emulated locally")
        spec, _, step_text = part.partition("/")
        step = _number(step_text, 1, high, None) if step_text else 1
        if spec == "*":
            start, end = low, high
        elif "-" in spec:
            first, _, last = spec.partition("-")
            start, end = _number(first, low, high, names), _number(last, low, high, names)
        else:
            start = _number(spec, low, high, names)
            end = high if step_text else start
        if start > end:
            raise ValueError(f"cron field {text!r}: {start} is after {end}")
        values.update(range(start, end + 1, step))
    return frozenset(values)


def _number(text: str, low: int, high: int, names: dict[str, int] | None) -> int:
    if names and text.upper() in names:
        return names[text.upper()]
    if not text.isdigit() or not low <= int(text) <= high:
        raise ValueError(f"cron value {text!r} must be a number from {low} to {high}")
    return int(text)


# -- schedules ------------------------------------------------------------------------------------


def scheduled_event(rule_arn: str, at: datetime) -> dict[str, Any]:
    """The event EventBridge hands a function its schedule invokes."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT,
        "time": at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": LOCAL_REGION,
        "resources": [rule_arn],
        "detail": {},
    }


@dataclass
class Schedule:
    """One schedule of the template."""

    fn: Function
    event_name: str
    expression_text: str
    expression: Expression
    enabled: bool
    payload: dict[str, Any] | None  # the event's Input, when it has one
    next_at: datetime | None = None
    started: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def rule_arn(self) -> str:
        # CloudFormation names a rule after its stack and logical id; locally the stack is "local".
        return f"arn:aws:events:{LOCAL_REGION}:{ACCOUNT}:rule/local-{self.fn.logical_id}{self.event_name}"

    def event(self, at: datetime) -> dict[str, Any]:
        return dict(self.payload) if self.payload is not None else scheduled_event(self.rule_arn, at)

    def to_wire(self) -> dict[str, Any]:
        return {
            "function": self.fn.logical_id,
            "event": self.event_name,
            "expression": self.expression_text,
            "enabled": self.enabled,
            "nextRun": self.next_at.isoformat(timespec="seconds") if self.enabled and self.next_at else None,
        }


def schedules_of(template: Template) -> list[Schedule]:
    """Every schedule event of the template's functions; one that cannot be emulated is logged and left out."""
    found = []
    for fn in template.functions.values():
        for name, event in fn.events.items():
            if event.get("Type") not in SCHEDULE_TYPES:
                continue
            properties = dict(event.get("Properties") or {})
            text = str(template.resolve(properties.get("Schedule", properties.get("ScheduleExpression"))))
            try:
                expression = parse_expression(text)
            except ValueError as exc:
                log.warning("%s.%s: schedule %r is not emulated: %s", fn.logical_id, name, text, exc)
                continue
            state = template.resolve(properties.get("State"))
            enabled = template.resolve(properties.get("Enabled", True))
            payload = properties.get("Input")
            found.append(
                Schedule(
                    fn=fn,
                    event_name=name,
                    expression_text=text,
                    expression=expression,
                    enabled=str(state or "ENABLED").upper().startswith("ENABLED") and str(enabled).lower() != "false",
                    payload=json.loads(payload) if isinstance(payload, str) else None,
                )
            )
    return found


class Busy(Exception):
    """The function is still running its previous invocation."""


class Scheduler:
    """Fires the template's enabled schedules on time, and runs any scheduled function on demand."""

    def __init__(
        self,
        template: Template,
        functions: Functions,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        tick: float = 1.0,
    ):
        self.functions = functions
        self.schedules = schedules_of(template)
        self._clock = clock
        self._tick = tick
        self._stop = Stop()
        self._running: dict[str, threading.Lock] = {s.fn.logical_id: threading.Lock() for s in self.schedules}
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        now = self._clock()
        for schedule in self.schedules:
            schedule.started = now
            schedule.next_at = schedule.expression.next_after(now, now)
        thread = threading.Thread(target=self._loop, name="local-scheduler", daemon=True)
        thread.start()
        self._threads.append(thread)

    def stop(self, grace: float = STOP_GRACE_SECONDS) -> None:
        self._stop.set(grace)
        deadline = time.monotonic() + grace + 0.5
        for thread in list(self._threads):
            thread.join(max(0.0, deadline - time.monotonic()))

    def fire_due(self) -> list[Schedule]:
        """Start the runs of the enabled schedules that are due; return them (each set to its next time)."""
        now = self._clock()
        due = [s for s in self.schedules if s.enabled and s.next_at is not None and s.next_at <= now]
        for schedule in due:
            at = schedule.next_at or now
            schedule.next_at = schedule.expression.next_after(now, schedule.started)
            thread = threading.Thread(
                target=self._fire, args=(schedule, at), name=f"schedule-{schedule.fn.logical_id}", daemon=True
            )
            thread.start()
            self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        return due

    def _loop(self) -> None:
        while not self._stop.wait(self._tick):
            try:
                self.fire_due()
            except Exception:
                log.exception("the local scheduler failed; it goes on")

    def _fire(self, schedule: Schedule, at: datetime) -> None:
        try:
            outcome = self.run(schedule.fn.logical_id, schedule.event(at))
        except Busy:
            log.warning("%s is still running: its schedule's run at %s is skipped", schedule.fn.logical_id, at)
            return
        if not outcome.failed:
            log.info("%s ran on its schedule: %s", schedule.fn.logical_id, json.dumps(outcome.result)[:500])

    def find(self, logical_id: str) -> Schedule | None:
        return next((s for s in self.schedules if s.fn.logical_id == logical_id), None)

    def run(self, logical_id: str, event: dict[str, Any] | None = None) -> Invocation:
        """Invoke a scheduled function now (with a scheduled event unless ``event`` is given) and wait
        for it; :class:`Busy` if it is still running, KeyError if no schedule invokes it."""
        schedule = self.find(logical_id)
        if schedule is None:
            raise KeyError(logical_id)
        lock = self._running[logical_id]
        if not lock.acquire(blocking=False):
            raise Busy(logical_id)
        try:
            return invoke(self.functions, schedule.fn, event or schedule.event(self._clock()), self._stop)
        finally:
            lock.release()


# -- the control endpoint -------------------------------------------------------------------------


def _answer(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body, default=str), status=status, mimetype="application/json")


def _error(status: int, code: str, message: str) -> Response:
    return _answer({"error": {"code": code, "message": message, "details": []}}, status)


class Control:
    """The local run's control endpoint (WSGI, loopback only): list schedules, run one now."""

    def __init__(self, scheduler: Scheduler):
        self.scheduler = scheduler
        self._server: BaseWSGIServer | None = None

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        return self.handle(Request(environ))(environ, start_response)

    def handle(self, request: Request) -> Response:
        parts = request.path.strip("/").split("/")
        if parts == ["schedules"] and request.method == "GET":
            return _answer({"schedules": [s.to_wire() for s in self.scheduler.schedules]})
        if len(parts) == 2 and parts[0] == "schedules" and request.method == "POST":
            return self._run(parts[1])
        return _error(404, "ROUTE_NOT_FOUND", f"no route {request.method} {request.path}")

    def _run(self, logical_id: str) -> Response:
        schedule = self.scheduler.find(logical_id)
        if schedule is None:
            names = ", ".join(s.fn.logical_id for s in self.scheduler.schedules) or "none"
            message = f"no schedule invokes {logical_id!r}; the scheduled functions: {names}"
            return _error(404, "SCHEDULE_NOT_FOUND", message)
        event = schedule.event(datetime.now(UTC))
        try:
            outcome = self.scheduler.run(logical_id, event)
        except Busy:
            return _error(429, "TOO_MANY_REQUESTS", f"{logical_id} is still running; retry when it is done")
        if outcome.timed_out:
            return _error(504, "FUNCTION_TIMEOUT", f"{logical_id} did not return within {schedule.fn.timeout} s")
        if outcome.error is not None:
            message = f"{logical_id} failed: {type(outcome.error).__name__} (see the local run's output)"
            return _error(502, "FUNCTION_ERROR", message)
        return _answer({"function": logical_id, "event": event, "result": outcome.result})

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        self._server = make_server(host, port, self, threaded=True)
        server = self._server
        threading.Thread(
            target=lambda: server.serve_forever(poll_interval=0.1), name="local-control", daemon=True
        ).start()
        return f"http://{host}:{server.port}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
