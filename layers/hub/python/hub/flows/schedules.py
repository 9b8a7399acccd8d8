"""The scheduled tasks, run by EventBridge schedules: they keep the Loops audience in step with the
referral programs.

- **Referral stats sync** (:func:`sync_referral_stats`): pages through every participant of every
  campaign whose provider can list them, and queues a Loops upsert only for the contacts whose
  referral stats changed since the last run. A change is seen by a fingerprint per contact
  (:func:`fingerprint` of the row that would be written) kept in the sync state table
  (:mod:`hub.aws.sync_state`): a page of participants costs one BatchGetItem, and the stats read from the
  provider's page go straight into the row, so a changed contact costs no second provider read.
- **Pending rewards** (:func:`announce_pending_rewards`): finds every reward earned and not yet
  redeemed, and sends one Loops event per reward (``PENDING_REWARD_EVENT``, default
  ``referralRewardPending``) exactly once however often the task runs.

Both queue ``syncContact`` rows to the syncContact queue, whose consumer holds Loops' rate limit across
every Lambda, retries, and ends a row that cannot succeed in the job's failures and the dead-letter
queue. A run's rows form one job (created on the first row), so its progress is ``GET
/imports/{jobId}``; the run's answer and its log name it.

When state is written, and why:

- A contact's fingerprint is written just *before* its row is queued (deleted again if SQS refuses the
  row), so a run that starts while earlier rows still wait in the queue does not queue them twice (a
  first sync of a large campaign takes hours at Loops' 10 requests a second). The consumer deletes it
  if the upsert fails for good, so the next run queues the contact again. Should a run die between
  the two writes, those few contacts wait for their next change or the fingerprint's expiry
  (:data:`hub.aws.sync_state.FINGERPRINT_TTL_SECONDS`).
- A reward's mark is written by the consumer *after* Loops accepted the event, with a conditional
  write (the first one wins), so nothing can mark a reward that was never announced. Until then a
  later run may queue the reward again; the row's stable key (``reward#<campaign>#<reward id>``, not
  the job's) makes the consumer run it once and keys the Loops event's ``Idempotency-Key``, so Loops
  sees it once (both for 24 hours). Past those windows (a backlog older than a day), the mark itself
  stops a copy: the consumer reads a row's mark before running it, and counts a marked row as
  succeeded without sending it.

A campaign whose provider cannot list participants (Viral Loops) or rewards (Viral Loops, SparkLoop)
is skipped, which the run's answer, log and metrics say; it is not an error. One campaign's provider
failing is reported for that campaign and the others go on. A run stops queueing a minute before the
function's timeout, and says so; the next run takes up from there (what was queued is remembered).
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from itertools import islice
from typing import Any, TypeVar

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from hub.aws.jobs import JobStore
from hub.aws.sync_state import SyncState, reward_key, stats_key
from hub.domain.errors import ConfigurationError, HubError, NotReached, TimeRanOut, Unsupported
from hub.domain.models import Participant, Reward
from hub.flows.bulk import OPERATIONS, JobRows
from hub.flows.contacts import referral_properties
from hub.providers.program import ReferralProgram, program_for
from hub.runtime import observability
from hub.settings import env
from hub.settings.config import load_config

logger = observability.logger

SYNC_CONTACT = OPERATIONS["syncContact"]
#: Participants (or rewards) whose state is read in one BatchGetItem.
PAGE = 100
#: Rows queued between two updates of the job's total.
SETTLE_EVERY = 500
#: A run stops queueing when less than this is left of the function's time.
TIME_MARGIN_MS = 60_000
DEFAULT_REWARD_EVENT = "referralRewardPending"

T = TypeVar("T")


def pages(items: Iterable[T], size: int = PAGE) -> Iterator[list[T]]:
    """``items`` in lists of ``size`` (the last one shorter)."""
    iterator = iter(items)
    while page := list(islice(iterator, size)):
        yield page


def _present(**fields: Any) -> dict[str, Any]:
    return {key: value for key, value in fields.items() if value is not None}


def stats_row(participant: Participant) -> dict[str, Any]:
    """The syncContact row that puts a participant's name and referral stats on their Loops contact
    (the same properties as ``POST /contacts/sync`` with a campaign; unknown ones are left out, not
    cleared)."""
    properties = _present(**referral_properties(participant))
    return _present(
        email=participant.email,
        firstName=participant.first_name,
        lastName=participant.last_name,
        properties=properties,
    )


def fingerprint(row: dict[str, Any]) -> str:
    """A digest of what a row writes: equal rows, equal fingerprints, whatever the key order."""
    canonical = json.dumps(row, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def changes(rows: Mapping[str, dict[str, Any]], known: Mapping[str, str]) -> dict[str, str]:
    """The new fingerprint of each row (by state key) whose stored one differs or is missing."""
    digests = {key: fingerprint(row) for key, row in rows.items()}
    return {key: digest for key, digest in digests.items() if known.get(key) != digest}


def reward_event_name() -> str:
    return env.environment().pending_reward_event or DEFAULT_REWARD_EVENT


def reward_row(participant: Participant, reward: Reward, event_name: str) -> dict[str, Any]:
    """The syncContact row announcing a pending reward: the Loops event, whose properties (the campaign,
    the reward and its state) reach Loops as the event's ``eventProperties``, not written onto the contact."""
    properties = _present(
        referralCampaign=participant.campaign,
        pendingRewardId=reward.id,
        pendingRewardStatus=reward.status.value,
        pendingRewardDescription=reward.description,
    )
    return _present(
        email=participant.email,
        firstName=participant.first_name,
        lastName=participant.last_name,
        event={"name": event_name, "properties": properties},
    )


def reward_action_key(campaign: str, reward_id: str) -> str:
    """The stable key of a reward's announcement, the same in every run that queues it."""
    return f"reward#{campaign}#{reward_id}"


# -- one run ---------------------------------------------------------------------------------------


class OutOfTime(Exception):
    """Less than :data:`TIME_MARGIN_MS` is left of the function's time."""


class Deadline:
    """When a run must stop queueing: :data:`TIME_MARGIN_MS` before the function's timeout."""

    def __init__(self, context: LambdaContext | None, margin_ms: int = TIME_MARGIN_MS):
        self._context = context
        self._margin_ms = margin_ms

    def check(self) -> None:
        if self._context is not None and self._context.get_remaining_time_in_millis() < self._margin_ms:
            raise OutOfTime


@dataclass
class CampaignRun:
    """What a run did for one campaign: items ``read`` (participants; for the pending rewards task,
    pending rewards), ``changed`` (contacts whose stats changed; rewards not announced yet), rows
    ``queued`` and ``failed``; or why it was ``skipped``, or the ``error`` that stopped it."""

    campaign: str
    provider: str
    read: int = 0
    changed: int = 0
    queued: int = 0
    failed: int = 0
    skipped: str | None = None
    error: dict[str, Any] | None = None

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {"campaign": self.campaign, "provider": self.provider}
        if self.skipped is not None:
            return {**wire, "skipped": self.skipped}
        wire.update(read=self.read, changed=self.changed, queued=self.queued, failed=self.failed)
        if self.error is not None:
            wire["error"] = self.error
        return wire


@dataclass(frozen=True)
class Row:
    """A row to queue, with its state item (see :class:`hub.flows.bulk.RowMessage`)."""

    data: dict[str, Any]
    key: str | None = None
    remember: str | None = None
    forget: str | None = None


@dataclass
class RunJob:
    """The one job a run's rows go into: created with the first row, its rows written by
    :class:`~hub.flows.bulk.JobRows` and settled as they go."""

    base_id: str
    jobs: JobStore = field(default_factory=JobStore)
    sqs: Any = None
    job_id: str | None = None
    next_row: int = 1
    _rows: JobRows | None = None

    def _ensure(self) -> JobRows:
        if self._rows is None:
            job_id = self.base_id
            create = partial(
                self.jobs.create, campaign=None, operation=SYNC_CONTACT.name, created_at=datetime.now(UTC).isoformat()
            )
            if not create(job_id):
                # The same event run again (Lambda retries a failed asynchronous invocation): a job of
                # its own, so its row numbers never meet the first attempt's.
                job_id = f"{self.base_id}-{uuid.uuid4().hex[:8]}"
                create(job_id)
            self.job_id = job_id
            self._rows = JobRows(self.jobs, job_id, SYNC_CONTACT, sqs=self.sqs, settle_every=SETTLE_EVERY)
        return self._rows

    def queue(self, campaign: str, rows: list[Row], *, before_send: Callable[[list[Row]], None] | None = None) -> int:
        """Queue ``rows`` of ``campaign``; return how many were queued (the rest failed, in the job).

        ``before_send`` gets the rows about to be sent once they are valid; a row SQS then refuses has
        its ``forget`` item deleted again.
        """
        if not rows:
            return 0
        writer = self._ensure()
        valid = self._numbered(writer, rows)
        if before_send is not None and valid:
            before_send([row for _, row, _ in valid])
        for number, row, request in valid:
            writer.queue(number, campaign, request, key=row.key, remember=row.remember, forget=row.forget)
        refused = writer.flush()
        _forget_refused(valid, refused)
        writer.settle_if_due()
        return len(valid) - len(refused)

    def _numbered(self, writer: JobRows, rows: list[Row]) -> list[tuple[int, Row, Any]]:
        """Number ``rows`` as the job's next rows and check each: the valid ones with their request
        (the others are the job's failures)."""
        valid: list[tuple[int, Row, Any]] = []
        for row in rows:
            number, self.next_row = self.next_row, self.next_row + 1
            request = writer.check(number, None, row.data)
            if request is not None:
                valid.append((number, row, request))
        return valid

    def settle(self, *, done: bool = False) -> None:
        """Count the rows queued or failed so far into the job (and, with ``done``, close it)."""
        if self._rows is not None:
            self._rows.settle(done=done)


def _forget_refused(valid: list[tuple[int, Row, Any]], refused: set[int]) -> None:
    """Delete the state items written for rows SQS then refused, so the next run queues them again."""
    forgotten = [row.forget for number, row, _ in valid if number in refused and row.forget]
    if forgotten:
        SyncState().forget_many(forgotten)


@dataclass
class TaskRun:
    """One run of a scheduled task over every configured campaign."""

    task: str
    job: RunJob
    deadline: Deadline
    campaigns: list[CampaignRun] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """The run's answer: each campaign's outcome and the totals over them."""
        return {
            "task": self.task,
            "jobId": self.job.job_id,
            "campaigns": [c.to_wire() for c in self.campaigns],
            "totals": _totals(self.campaigns),
        }


def _totals(campaigns: list[CampaignRun]) -> dict[str, int]:
    """The counts of a run: campaigns, skipped ones, errors, and the items and rows of the others."""
    active = [c for c in campaigns if c.skipped is None]
    return {
        "campaigns": len(campaigns),
        "skipped": len(campaigns) - len(active),
        "errors": sum(1 for c in active if c.error is not None),
        "read": sum(c.read for c in active),
        "changed": sum(c.changed for c in active),
        "queued": sum(c.queued for c in active),
        "failed": sum(c.failed for c in active),
    }


CampaignStep = Callable[[TaskRun, CampaignRun, ReferralProgram], None]


def run_task(task: str, step: CampaignStep, *, job_id: str, context: LambdaContext | None) -> dict[str, Any]:
    """Run ``step`` for each configured campaign in turn (by name), each failure kept to its campaign."""
    config = load_config()
    if config.contacts is None:
        raise ConfigurationError("no contact store is configured: add a [contacts] section to the configuration")
    run = TaskRun(task, RunJob(job_id), Deadline(context))
    out_of_time = False
    for name in sorted(config.campaigns):
        result = CampaignRun(name, config.campaigns[name].provider.value)
        run.campaigns.append(result)
        if out_of_time:
            result.error = _error(NotReached("the run's time ran out before this campaign; the next run does it"))
            continue
        try:
            step(run, result, program_for(name))
        except Unsupported as exc:
            result.skipped = exc.message
        except OutOfTime:
            out_of_time = True
            result.error = _error(TimeRanOut("the run's time ran out during this campaign; the next run goes on"))
        except HubError as exc:
            logger.warning("campaign failed", extra={"campaign": name, "code": exc.code, "error": exc.message})
            result.error = exc.to_dict()["error"]
        except Exception:
            # A bug or an answer nobody foresaw: this campaign is reported, the others still run.
            logger.exception("campaign failed unexpectedly", extra={"campaign": name})
            result.error = _error(HubError("the task failed on this campaign unexpectedly (logged)"))
    run.job.settle(done=True)
    return run.summary()


def _error(error: HubError) -> dict[str, Any]:
    return error.to_dict()["error"]


# -- the two tasks ---------------------------------------------------------------------------------


def sync_stats_of(run: TaskRun, result: CampaignRun, program: ReferralProgram) -> None:
    """Queue an upsert for each participant of the campaign whose stats changed since the last run."""
    if not program.supports("participants"):
        raise program.unsupported("participants")
    state = SyncState()
    for page in pages(program.participants()):
        run.deadline.check()
        rows = {stats_key(result.campaign, p.email): stats_row(p) for p in page}
        changed = changes(rows, state.fingerprints(rows))
        result.read += len(page)
        result.changed += len(changed)

        def save(sent: list[Row], changed: dict[str, str] = changed) -> None:
            state.save_fingerprints({row.forget: changed[row.forget] for row in sent if row.forget})

        queued = run.job.queue(result.campaign, [Row(rows[key], forget=key) for key in changed], before_send=save)
        result.queued += queued
        result.failed += len(changed) - queued


def announce_rewards_of(run: TaskRun, result: CampaignRun, program: ReferralProgram) -> None:
    """Queue one Loops event for each pending reward of the campaign not announced yet."""
    if not program.supports("pending_rewards"):
        raise program.unsupported("pending_rewards")
    state = SyncState()
    event_name = reward_event_name()
    for page in pages(program.pending_rewards()):
        run.deadline.check()
        marks = {reward_key(result.campaign, reward.id): (participant, reward) for participant, reward in page}
        announced = state.existing(marks)
        new = [
            Row(
                reward_row(participant, reward, event_name),
                key=reward_action_key(result.campaign, reward.id),
                remember=mark,
            )
            for mark, (participant, reward) in marks.items()
            if mark not in announced
        ]
        result.read += len(page)
        result.changed += len(new)
        queued = run.job.queue(result.campaign, new)
        result.queued += queued
        result.failed += len(new) - queued


def sync_referral_stats(event: dict[str, Any], context: LambdaContext | None = None) -> dict[str, Any]:
    """One run of the referral stats sync; answers its summary (per campaign: participants read,
    contacts changed, rows queued and failed, or why it was skipped or failed) and the job's id."""
    job_id = run_job_id("sync-referral-stats", event)
    return run_task("syncReferralStats", sync_stats_of, job_id=job_id, context=context)


def announce_pending_rewards(event: dict[str, Any], context: LambdaContext | None = None) -> dict[str, Any]:
    """One run of the pending rewards task; answers its summary (per campaign: pending rewards read,
    new ones, rows queued and failed) and the job's id."""
    job_id = run_job_id("pending-rewards", event)
    return run_task("pendingRewards", announce_rewards_of, job_id=job_id, context=context)


def run_job_id(prefix: str, event: dict[str, Any]) -> str:
    """The job of a run is named after its event (EventBridge gives each event an ``id``)."""
    event_id = event.get("id") if isinstance(event, dict) else None
    return f"{prefix}-{event_id if isinstance(event_id, str) and event_id else uuid.uuid4().hex}"


TASKS: dict[str, Callable[[dict[str, Any], LambdaContext | None], dict[str, Any]]] = {
    "syncReferralStats": sync_referral_stats,
    "pendingRewards": announce_pending_rewards,
}


# -- a run ---------------------------------------------------------------------------------------

_RUN_COUNTS = (
    ("CampaignsSkipped", "skipped"),
    ("CampaignErrors", "errors"),
    ("ItemsRead", "read"),
    ("ItemsChanged", "changed"),
    ("RowsQueued", "queued"),
    ("RowsFailed", "failed"),
)


def run(task: str, event: dict[str, Any], context: LambdaContext | None) -> dict[str, Any]:
    """One run of ``task`` (its Lambda handler is :func:`hub.edge.handlers.scheduled`): its summary,
    logged with its duration, and its counts as the invocation's metrics."""
    started = time.monotonic()
    observability.dimension("task", task)
    try:
        summary = TASKS[task](event, context)
    except HubError as exc:
        # Nothing can run (no contact store, no configuration): said once, not per campaign.
        logger.error("scheduled task cannot run", extra={"task": task, "code": exc.code, "error": exc.message})
        observability.count("RunFailed")
        return {"task": task, "jobId": None, "error": exc.to_dict()["error"]}
    duration_ms = round((time.monotonic() - started) * 1000)
    logger.info("scheduled task ran", extra={**summary, "durationMs": duration_ms})
    for name, total in _RUN_COUNTS:
        observability.count(name, summary["totals"][total])
    observability.count("RunDuration", duration_ms, MetricUnit.Milliseconds)
    return summary
