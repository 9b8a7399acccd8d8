"""Bulk imports: rows validated up front, queued to their operation's SQS queue, and run by the
queue's consumer exactly once each at the provider's rate.

- Every operation of the hub that writes has a queue: ``addParticipant``, ``updateParticipant``,
  ``deleteParticipant``, ``convert``, ``redeem``, ``flag``, ``syncContact`` and ``deleteContact``.
  Rows are validated with the same models as the API's bodies, or (where a row must name what the
  API's path names: the participant an update or a delete is for) the registry's row model.
- A row's message names its job, row number, operation and campaign. The consumer runs it under an
  idempotency key made of that meaning and the row's email, so a redelivered or duplicated message
  never reaches the provider twice, and counts its outcome once (:class:`hub.aws.jobs.JobStore`).
- A provider's 429 is not a failure: the row is sent again to its queue with a delay (a new message,
  so the receive count that leads to the dead-letter queue is not spent), and the original deleted.
- A transient failure (provider down, timeout, 5xx) is reported as a batch item failure, so SQS
  redelivers it after the visibility timeout; on the last delivery allowed the row is counted as
  failed with its reason and sent to the dead-letter queue with that reason as message attributes.
- Any other error (invalid for the provider, not found, conflict, unsupported) fails the row at once.
- A row queued by a scheduled task (:mod:`hub.flows.schedules`) or a webhook delivery
  (:mod:`hub.flows.webhooks`) may carry a stable ``key``, which replaces its job and row number in the
  idempotency key and keys its Loops event, so the same row queued by several runs or deliveries
  reaches the provider once; and an item of the sync state table (:mod:`hub.aws.sync_state`) to
  ``remember`` once the row succeeded (a row whose mark is there already is counted as succeeded
  without running: past the idempotency windows too), or to ``forget`` if it fails for good (so the
  next run queues it again).
- A consumer starts a row only while a provider call's budget is left in its invocation; the others go
  back to their queue unstarted (:meth:`Consumer.handle`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from pydantic import BaseModel, ConfigDict
from pydantic import ValidationError as PydanticValidationError

from hub.aws import idempotency
from hub.aws.jobs import JobStore, RowFailure
from hub.aws.queues import Queues
from hub.domain import json_input, operations
from hub.domain.errors import (
    ConfigurationError,
    HubError,
    InProgress,
    ProviderError,
    ProviderThrottled,
    ProviderTimeout,
    ProviderUnavailable,
    QueueUnavailable,
    ValidationError,
)
from hub.domain.operations import Operation
from hub.domain.requests import ContactSyncRequest, DeleteContactRow, DeleteParticipantRow, field_errors
from hub.runtime import observability
from hub.settings import env

logger = observability.logger

#: SQS accepts at most this many entries per SendMessageBatch, and this delay.
SQS_BATCH = 10
SQS_MAX_DELAY_SECONDS = 900
#: What a row needs beyond its provider call's budget (the job's and the idempotency record's writes).
ROW_MARGIN_SECONDS = 3.0
#: Transient errors: retried by SQS redelivery until the last delivery allowed.
TRANSIENT = (ProviderUnavailable, ProviderTimeout, ProviderError, ConfigurationError, InProgress)


@dataclass(frozen=True)
class BulkOperation:
    """An operation of the registry (:mod:`hub.domain.operations`) that bulk jobs run through its queue."""

    name: str
    model: type[BaseModel]
    env: str  # prefix of the queue's environment variables
    #: where a CSV column that is not a field of the model goes (None: it is ignored)
    extra_columns_into: str | None = None

    def queue_url(self) -> str:
        return env.required(f"{self.env}_QUEUE_URL")

    def dead_letter_url(self) -> str:
        return env.required(f"{self.env}_DLQ_URL")


def _bulk(op: Operation) -> BulkOperation:
    assert op.row_model is not None and op.queue is not None, op.name
    return BulkOperation(op.name, op.row_model, op.queue, op.extra_columns_into)


OPERATIONS: dict[str, BulkOperation] = {op.name: _bulk(op) for op in operations.bulk_operations()}


def operation_named(name: str | None) -> BulkOperation:
    """The bulk operation ``name``, or a VALIDATION_ERROR listing the ones there are."""
    if name not in OPERATIONS:
        raise ValidationError(
            "unknown bulk operation",
            details=[{"field": "operation", "reason": f"must be one of {', '.join(OPERATIONS)}"}],
        )
    return OPERATIONS[name]


class RowMessage(BaseModel):
    """The body of a queued row."""

    model_config = ConfigDict(frozen=True)

    jobId: str
    row: int
    operation: str
    campaign: str | None
    data: dict[str, Any]
    #: What the row does, named the same whichever run queued it (see the module docstring).
    key: str | None = None
    #: A sync state item to write once the row succeeded.
    remember: str | None = None
    #: A sync state item to delete if the row fails for good.
    forget: str | None = None


def validate_row(operation: BulkOperation, campaign: str | None, row: int, data: Any) -> BaseModel | RowFailure:
    """The row as the operation's request model, or its failure naming each invalid field."""
    if not isinstance(data, dict):
        error = ValidationError(f"row {row} is not an object", details=[{"field": "row", "reason": "is not an object"}])
        return RowFailure(row, error.to_dict()["error"])
    # Rows from any source (JSON, CSV, an upload, a scheduled task) are held to what a JSON body is:
    # a NaN or an infinity would be refused by the HTTP library at the provider call, after queueing.
    hostile = json_input.problems(data)
    if hostile:
        error = ValidationError(f"row {row} holds values JSON cannot carry", details=hostile)
        return RowFailure(row, error.to_dict()["error"])
    payload = dict(data)
    if operation.name == "syncContact" and campaign and "campaign" not in payload:
        payload["campaign"] = campaign
    try:
        return operation.model.model_validate(payload)
    except PydanticValidationError as exc:
        error = ValidationError(f"row {row} is invalid", details=field_errors(exc))
        return RowFailure(row, error.to_dict()["error"])


def fold_columns(operation: BulkOperation, values: dict[str, str]) -> dict[str, Any]:
    """A CSV record as a row: columns that are not fields of the operation go into its metadata or
    properties (for add participant and sync contact), so nothing in the file is lost; for the other
    operations they are left out."""
    fields = {info.alias or name: info for name, info in operation.model.model_fields.items()}
    row: dict[str, Any] = {key: _csv_value(fields[key], value) for key, value in values.items() if key in fields}
    extra = {key: value for key, value in values.items() if key not in fields}
    if extra and operation.extra_columns_into is not None:
        row[operation.extra_columns_into] = extra
    return row


def _csv_value(info: Any, value: str) -> Any:
    """A CSV cell as its field takes it: ``true`` or ``false`` (any case) for a yes-or-no field, whose
    model takes JSON booleans only; any other cell is left as written, for the model to judge."""
    if info.annotation is bool and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return value


class RowQueue:
    """Sends validated rows to their operation's queue, ten to a SendMessageBatch (on the SQS client
    ``sqs`` if given). A batch SQS does not take at all raises :class:`~hub.domain.errors.QueueUnavailable`."""

    def __init__(self, operation: BulkOperation, job_id: str, campaign: str | None, sqs: Any = None):
        self.operation = operation
        self.job_id = job_id
        self.campaign = campaign
        self._queues = Queues(sqs)
        self._url = operation.queue_url()
        self._pending: list[tuple[int, str]] = []
        self.failures: list[RowFailure] = []
        self.sent = 0

    def add(
        self,
        row: int,
        request: BaseModel,
        *,
        key: str | None = None,
        remember: str | None = None,
        forget: str | None = None,
    ) -> None:
        message = RowMessage(
            jobId=self.job_id,
            row=row,
            operation=self.operation.name,
            campaign=self.campaign,
            data=request.model_dump(mode="json", by_alias=True, exclude_none=True),
            key=key,
            remember=remember,
            forget=forget,
        )
        self._pending.append((row, message.model_dump_json(exclude_defaults=True)))
        if len(self._pending) == SQS_BATCH:
            self.flush()

    def flush(self) -> None:
        """Send what is pending; entries SQS refuses are retried, then failed with SQS's reason."""
        pending, self._pending = self._pending, []
        for _attempt in range(3):
            if not pending:
                return
            pending, sender_fault = self._send(pending)
            if sender_fault:
                break
        for row, _ in pending:
            error = QueueUnavailable(f"row {row} could not be queued")
            self.failures.append(RowFailure(row, error.to_dict()["error"]))

    def _send(self, pending: list[tuple[int, str]]) -> tuple[list[tuple[int, str]], bool]:
        """One SendMessageBatch: the entries SQS refused, and whether each was the sender's fault (a
        retry would be refused again)."""
        answer = self._queues.send_batch(self._url, [(str(row), body) for row, body in pending])
        self.sent += len(answer.accepted)
        left = [(row, body) for row, body in pending if str(row) in answer.refused]
        return left, bool(left) and all(answer.refused[str(row)] for row, _ in left)


@dataclass(frozen=True)
class UnreadableRow:
    """A row that could not be read, and why: a broken CSV record (the whole row), or a JSON row
    holding values JSON cannot carry (``details`` names each field in the row)."""

    reason: str
    details: tuple[dict[str, str], ...] = ()

    def failure(self, row: int) -> RowFailure:
        details = list(self.details) or [{"field": "row", "reason": self.reason}]
        error = ValidationError(f"row {row} cannot be read", details=details)
        return RowFailure(row, error.to_dict()["error"])


class JobRows:
    """The one writer of a job's rows (an import, a scheduled run, a webhook delivery): each row is
    checked, queued to its operation's queue (one :class:`RowQueue` per campaign), and counted into
    the job as rows go: the rows read, the last row read (a split that restarts resumes after it) and
    the rows that failed before queueing, SQS's refusals included. Counts are settled into the job
    every ``settle_every`` rows and by :meth:`settle`; ``settle(done=True)`` marks every row read, so
    the job completes once its queued rows are done."""

    def __init__(
        self, jobs: JobStore, job_id: str, operation: BulkOperation, *, sqs: Any = None, settle_every: int = 500
    ):
        self.jobs = jobs
        self.job_id = job_id
        self.operation = operation
        self._sqs = sqs
        self._settle_every = settle_every
        self._queues: dict[str | None, RowQueue] = {}
        self._failures: list[RowFailure] = []
        self._unsettled = 0
        self.last_row = 0
        #: rows read, and rows failed (settled into the job), since the writer was made
        self.read = 0
        self.failed = 0

    def _read(self, row: int) -> None:
        self.read += 1
        self._unsettled += 1
        self.last_row = max(self.last_row, row)

    def check(self, row: int, campaign: str | None, data: Any) -> BaseModel | None:
        """Row ``row`` read: its request, or None when it cannot run (its failure is the job's)."""
        self._read(row)
        checked = (
            data.failure(row) if isinstance(data, UnreadableRow) else validate_row(self.operation, campaign, row, data)
        )
        if isinstance(checked, RowFailure):
            self._failures.append(checked)
            return None
        return checked

    def take(self, row: int, campaign: str | None, request: BaseModel) -> None:
        """Row ``row`` read already as its request (a webhook's event): counted as read, and queued."""
        self._read(row)
        self.queue(row, campaign, request)

    def fail(self, row: int, error: HubError) -> None:
        """Row ``row`` failed before it could be queued (SQS did not take it)."""
        self._failures.append(RowFailure(row, error.to_dict()["error"]))

    def queue(self, row: int, campaign: str | None, request: BaseModel, **message: str | None) -> None:
        """Queue a checked row (``message``: its stable ``key``, its ``remember`` and ``forget`` items)."""
        queue = self._queues.get(campaign)
        if queue is None:
            queue = self._queues[campaign] = RowQueue(self.operation, self.job_id, campaign, sqs=self._sqs)
        queue.add(row, request, **message)

    def add(self, row: int, campaign: str | None, data: Any) -> None:
        """Check row ``row`` and queue it when it can run; settle every ``settle_every`` rows."""
        request = self.check(row, campaign, data)
        if request is not None:
            self.queue(row, campaign, request)
        self.settle_if_due()

    def flush(self) -> set[int]:
        """Send what every queue holds; the rows SQS refused (now among the job's failures)."""
        refused: set[int] = set()
        for queue in self._queues.values():
            queue.flush()
            refused |= {failure.row for failure in queue.failures}
            self._failures += queue.failures
            queue.failures = []
        return refused

    def settle_if_due(self) -> None:
        """Settle once ``settle_every`` rows are read and not yet counted into the job."""
        if self._unsettled >= self._settle_every:
            self.settle()

    def settle(self, *, done: bool = False) -> int:
        """Send what is pending and count the rows read so far into the job; the rows failed now."""
        self.flush()
        self.jobs.add_rows(self.job_id, self._unsettled, through=self.last_row, split_done=done)
        self.jobs.record_failures(self.job_id, self._failures)
        failed = len(self._failures)
        self.failed += failed
        self._unsettled, self._failures = 0, []
        return failed


# -- the consumer -----------------------------------------------------------------------------------


def execute(operation: str, campaign: str | None, data: dict[str, Any], *, row_key: str) -> dict[str, Any]:
    """Run one row the way the API runs the same request (the same programs and contact store)."""
    from hub.flows.contacts import delete_contact, erase, sync_contact
    from hub.providers.program import program_for

    request = OPERATIONS[operation].model.model_validate(data)
    if isinstance(request, ContactSyncRequest):
        return sync_contact(request, idempotency_key=row_key)
    if isinstance(request, DeleteContactRow):
        return delete_contact(request.email).to_wire()
    if campaign is None:
        raise ValidationError("the row has no campaign", details=[{"field": "campaign", "reason": "is required"}])
    program = program_for(campaign)
    if isinstance(request, DeleteParticipantRow):
        return erase(program, request.email, contact=request.contact).to_wire()
    method = operations.OPERATIONS[operation].program_method
    assert method is not None, operation
    return _RUN[method](program, request)


def _added(program: Any, request: Any) -> dict[str, Any]:
    participant, created = program.add_participant(request)
    return {"email": participant.email, "created": created}


#: How a bulk row's request becomes its program method's call, by program method.
_RUN: dict[str, Callable[[Any, Any], dict[str, Any]]] = {
    "add_participant": _added,
    "convert": lambda program, request: program.convert(request.email).to_wire(),
    "flag": lambda program, request: program.flag(request.email, request.reason).to_wire(),
    "update_participant": lambda program, request: program.update_participant(
        request.email, request.update()
    ).to_wire(),
    "redeem": lambda program, request: program.redeem(
        request.email, request.reward_id, request.milestone_id, fulfill=request.fulfill
    ).to_wire(),
}


class Consumer:
    """The record handler of one operation's queue (on the SQS client ``sqs`` if given)."""

    def __init__(self, operation: str, *, jobs: JobStore | None = None, sqs: Any = None):
        self.operation = OPERATIONS[operation]
        self._jobs = jobs
        self._queues = Queues(sqs)
        variables = env.environment()
        self.max_receive_count = variables.max_receive_count
        #: The time a row may need: one provider call's whole budget, and a margin for the job's writes.
        self.row_reserve_seconds = variables.http_budget_seconds + ROW_MARGIN_SECONDS

    @property
    def jobs(self) -> JobStore:
        if self._jobs is None:
            self._jobs = JobStore()
        return self._jobs

    def handle(self, record: SQSRecord, *, deadline: float | None = None) -> None:
        """Run one row; ``deadline`` (``time.monotonic()``) is when the invocation ends.

        A row is started only while a provider call's whole budget (and a margin) is left before the
        deadline: a row that would not finish is sent back to its queue as a new message, unstarted,
        and this one reported done, so a timeout neither cuts a row in flight nor spends the receive
        count of rows that never ran."""
        if deadline is not None and deadline - time.monotonic() < self.row_reserve_seconds:
            self._defer(record)
            return
        message = RowMessage.model_validate_json(record.body)
        # The row's job is its correlation: every line and provider call of the row names it.
        operation = observability.bulk_operation(message.operation)
        with observability.bound(operation, correlation_id=message.jobId, row=message.row):
            self._run(message, record)

    def _run(self, message: RowMessage, record: SQSRecord) -> None:
        if self.jobs.is_recorded(message.jobId, message.row):
            logger.info("row already counted", extra={"jobId": message.jobId, "row": message.row})
            return
        if self._marked(message):
            return
        try:
            self._execute_once(message)
        except ProviderThrottled as exc:
            self._requeue(record, exc.retry_after)
            return
        except TRANSIENT as exc:
            receives = int(record.attributes.approximate_receive_count or "1")
            if receives < self.max_receive_count:
                observability.count("RowRetried")
                raise
            self._fail(message, record, exc)
            return
        except HubError as exc:
            self._fail(message, record, exc, dead_letter=False)
            return
        self._succeeded(message)

    def _marked(self, message: RowMessage) -> bool:
        """Whether the row was done already, by the mark it writes once it succeeded: a copy delivered
        after every window that would catch it (a backlog older than a day) is counted as succeeded and
        does not reach the provider again."""
        if message.remember is None:
            return False
        from hub.aws.sync_state import SyncState

        if not SyncState().marked(message.remember):
            return False
        logger.info("row done already: its mark is written", extra={"jobId": message.jobId, "row": message.row})
        if self.jobs.record(message.jobId, message.row):
            observability.count("RowSucceeded")
        return True

    def _execute_once(self, message: RowMessage) -> None:
        """The row at its provider, under the idempotency key of what it means."""
        email = str(message.data.get("email", "")).lower()
        row_key = message.key or f"bulk#{message.operation}#{message.campaign}#{message.jobId}#{message.row}#{email}"
        idempotency.run_once(
            row_key,
            # A stable key names one action whatever the run that queued it: a later run's copy
            # (with fresher data) is a replay, not a reuse of the key.
            message.data if message.key is None else {"key": message.key},
            lambda: idempotency.Outcome(
                200, execute(message.operation, message.campaign, message.data, row_key=row_key)
            ),
        )

    def _succeeded(self, message: RowMessage) -> None:
        if message.remember is not None:
            from hub.aws.sync_state import SyncState

            SyncState().remember(message.remember)
        if self.jobs.record(message.jobId, message.row):
            observability.count("RowSucceeded")

    def _defer(self, record: SQSRecord) -> None:
        self._queues.send(self.operation.queue_url(), record.body)
        observability.count("RowDeferred")
        logger.info("too little time left in the invocation; row sent back to its queue unstarted")

    def _requeue(self, record: SQSRecord, retry_after: float | None) -> None:
        delay = min(SQS_MAX_DELAY_SECONDS, max(1, math.ceil(retry_after or 1)))
        self._queues.send(self.operation.queue_url(), record.body, delay_seconds=delay)
        observability.count("RowThrottled")
        logger.info("provider throttled; row sent back to its queue", extra={"delaySeconds": delay})

    def _fail(self, message: RowMessage, record: SQSRecord, exc: HubError, *, dead_letter: bool = True) -> None:
        error = exc.to_dict()["error"]
        if message.forget is not None:
            from hub.aws.sync_state import SyncState

            SyncState().forget(message.forget)
        if self.jobs.record(message.jobId, message.row, error=error):
            observability.count("RowFailed")
        if dead_letter:
            self._queues.send(
                self.operation.dead_letter_url(),
                record.body,
                attributes={"errorCode": exc.code, "errorMessage": exc.message[:1000]},
            )
