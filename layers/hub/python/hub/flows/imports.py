"""Starting bulk imports: from JSON rows, from a CSV body, or from a CSV file uploaded to S3.

Whatever the source, rows stream through the same path: each is validated with its operation's model;
an invalid row becomes a failure with its row number and reason; a valid one is queued. The job's
``total`` grows as rows are read, and the job is complete only once the whole source has been read,
so a job never looks done while rows are still coming.

``POST /imports`` works inside API Gateway's 29 seconds, so one request carries at most
:data:`MAX_ROWS` rows and :data:`MAX_BODY_BYTES` bytes (past them, :class:`ImportTooLarge`, a 413
naming ``POST /imports/uploads``, before any job exists). With an ``Idempotency-Key`` the job's id is
derived from the key: a request retried after its idempotency record is gone finds its own job, and
goes on after the rows it counted already (rows queued again are replays of the same job and row
numbers, which the consumers run once).

An upload is split by one reader at a time: the split claims the job's lease first
(:meth:`JobStore.claim_split`), so a second S3 event for the same object does nothing, and a split
that crashed is taken over once its lease expires, after ``readThrough``.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import uuid
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from hub.aws import uploads
from hub.aws.jobs import Job, JobStore, LeaseLost, RowFailure
from hub.domain import json_input, operations
from hub.domain.csv_rows import ByteStream, CsvError, read_csv
from hub.domain.errors import IdempotencyKeyReused, ImportTooLarge, MalformedRequest, Unsupported, ValidationError
from hub.flows.bulk import BulkOperation, JobRows, UnreadableRow, fold_columns, operation_named, validate_row
from hub.runtime import observability
from hub.settings import env

logger = observability.logger

#: Rows read between two updates of the job's total while a large file streams in.
PROGRESS_EVERY = 500
UPLOAD_URL_SECONDS = 3600
UPLOAD_PREFIX = "uploads/"
#: What one ``POST /imports`` may carry. The local run validates and queues about 800 rows a second
#: (moto; one SendMessageBatch per ten rows, one DynamoDB update per 500), so 5,000 rows take about
#: 6 s; in AWS, even at 20 ms a SendMessageBatch, their 500 calls take 10 s: well inside API Gateway's
#: 29 s. 5 MB is below the 6 MB a Lambda function takes, the event's envelope included.
MAX_ROWS = 5_000
MAX_BODY_BYTES = 5_000_000
UPLOADS_ROUTE = "POST /imports/uploads"
#: How long a split's claim on its job holds: past the split function's longest run (900 s, Lambda's
#: limit), so a lease expires only when its split is surely gone.
SPLIT_LEASE_SECONDS = 960
#: Job ids derived from an Idempotency-Key live in their own namespace.
_JOB_IDS = uuid.UUID("6f1d6c0e-4d3b-5b8a-9a43-2f7c1e5d9b21")


def check_target(campaign: str | None, operation: BulkOperation) -> None:
    """The campaign exists and its provider has the operation; sync contact needs no campaign."""
    declared = operations.OPERATIONS[operation.name]
    if campaign is None:
        if not declared.campaignless:
            raise ValidationError(
                "the import needs a campaign", details=[{"field": "campaign", "reason": "is required"}]
            )
        return
    from hub.providers.program import PROVIDER_NAMES, program_type

    # The program's class says what its provider has: the campaign's key is not read here (the
    # function that creates jobs has no grant to it), and the provider is not called.
    program = program_type(campaign)
    method = declared.program_method
    if method is not None and not program.supports(method):
        raise Unsupported(PROVIDER_NAMES[program.provider], operation.name)


def too_large(field: str, reason: str) -> ImportTooLarge:
    return ImportTooLarge(
        f"the import is larger than one request may carry ({MAX_ROWS:,} rows, {MAX_BODY_BYTES // 1_000_000} MB):"
        f" nothing was started; send the file through {UPLOADS_ROUTE}",
        details=[{"field": field, "reason": reason, "use": UPLOADS_ROUTE}],
    )


def check_body_size(body: str | None) -> None:
    """Refuse a request body past :data:`MAX_BODY_BYTES` before it is read."""
    # A character is at most 4 bytes of UTF-8: a short body is not encoded to be measured.
    if (
        body is not None
        and len(body) * 4 > MAX_BODY_BYTES
        and len(body.encode("utf-8", "surrogatepass")) > MAX_BODY_BYTES
    ):
        raise too_large("body", f"must be at most {MAX_BODY_BYTES:,} bytes")


def bounded(rows: Iterable[tuple[int, Any]]) -> list[tuple[int, Any]]:
    """The rows of one request, read in full before any is queued; past :data:`MAX_ROWS` rows, a 413."""
    taken = list(itertools.islice(rows, MAX_ROWS + 1))
    if len(taken) > MAX_ROWS:
        raise too_large("rows", f"must be at most {MAX_ROWS:,} rows")
    return taken


def job_id_for(route: str, scope: str, idempotency_key: str | None) -> str:
    """A new job's id: random, or derived from the request's ``Idempotency-Key`` (and its route and
    scope, the campaign), so that the same request always names the same job."""
    if idempotency_key is None:
        return uuid.uuid4().hex
    return uuid.uuid5(_JOB_IDS, f"{route}#{scope}#{idempotency_key}").hex


def request_hash(request: Any) -> str:
    """A digest of a request, stored on a keyed job to tell a retry from a reuse of its key."""
    text = json.dumps(request, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def new_job(jobs: JobStore, campaign: str | None, operation: BulkOperation) -> str:
    """A new job with a random id; its id."""
    job_id, _existing = keyed_job(jobs, campaign, operation, key=None)
    return job_id


def keyed_job(
    jobs: JobStore,
    campaign: str | None,
    operation: BulkOperation,
    *,
    key: str | None,
    route: str = "import",
    request: Any = None,
) -> tuple[str, Job | None]:
    """The job of a request: its id, and the job its ``Idempotency-Key`` made before (None: a new job).

    Without a key the job is new. With one, its id is derived from the key; a job of that id made for
    another request (another operation, other rows) means the key is reused: 409."""
    job_id = job_id_for(route, campaign or "", key)
    digest = request_hash(request) if key is not None else None
    created_at = datetime.now(UTC).isoformat()
    if jobs.create(job_id, campaign=campaign, operation=operation.name, created_at=created_at, request_hash=digest):
        return job_id, None
    existing = jobs.get(job_id, limit=0)
    if key is None or existing.operation != operation.name or existing.request_hash != digest:
        raise IdempotencyKeyReused("this Idempotency-Key was used before for another import")
    return job_id, existing


def import_rows(
    jobs: JobStore,
    campaign: str | None,
    operation: BulkOperation,
    rows: list[tuple[int, Any]],
    *,
    key: str | None,
    request: Any,
) -> dict[str, Any]:
    """Start the job of one ``POST /imports``; its answer (``jobId``, ``total``, ``failed``).

    A keyed request whose job exists already (its idempotency record expired: the first attempt
    crashed or timed out) goes on after the rows that job counted, and answers the same counts.
    """
    job_id, existing = keyed_job(jobs, campaign, operation, key=key, route="import", request=request)
    if existing is None:
        total, failed = run_rows(jobs, job_id, campaign, operation, rows)
        return {"jobId": job_id, "status": "queued", "total": total, "failed": failed}
    through = existing.read_through
    logger.info(
        "import retried: its job goes on after the rows it counted", extra={"jobId": job_id, "through": through}
    )
    counted = [(row, data) for row, data in rows if row <= through]
    rest = [(row, data) for row, data in rows if row > through]
    total, failed = _go_on(jobs, existing, operation, rest)
    # The rows counted before are answered as the first attempt would have answered them.
    failed += sum(1 for row, data in counted if _fails_up_front(operation, existing.campaign, row, data))
    return {"jobId": job_id, "status": "queued", "total": total + len(counted), "failed": failed}


def _go_on(jobs: JobStore, job: Job, operation: BulkOperation, rest: list[tuple[int, Any]]) -> tuple[int, int]:
    """Read the rows of ``job`` it has not counted yet (none left: it is only marked fully read)."""
    if job.split_done:
        return 0, 0
    if not rest:
        jobs.add_rows(job.job_id, 0, through=job.read_through, split_done=True)
        return 0, 0
    return run_rows(jobs, job.job_id, job.campaign, operation, rest)


def _fails_up_front(operation: BulkOperation, campaign: str | None, row: int, data: Any) -> bool:
    if isinstance(data, UnreadableRow):
        return True
    return isinstance(validate_row(operation, campaign, row, data), RowFailure)


def run_rows(
    jobs: JobStore,
    job_id: str,
    campaign: str | None,
    operation: BulkOperation,
    rows: Iterable[tuple[int, Any]],
    *,
    sqs: Any = None,
) -> tuple[int, int]:
    """Validate and queue ``rows`` (row number, data) into the job; return (rows read, rows failed)."""
    writer = JobRows(jobs, job_id, operation, sqs=sqs, settle_every=PROGRESS_EVERY)
    for row, data in rows:
        writer.add(row, campaign, data)
    writer.settle(done=True)
    return writer.read, writer.failed


def json_rows(rows: Any) -> Iterator[tuple[int, Any]]:
    """JSON rows, numbered from 1; a row holding NaN or Infinity, or nested too deeply, is an
    :class:`UnreadableRow` naming those fields (a row is at level 3 of the body: body, rows, row)."""
    if not isinstance(rows, list) or not rows:
        raise ValidationError(
            "the import needs rows", details=[{"field": "rows", "reason": "must be a non-empty list of objects"}]
        )
    return (_json_row(number, row) for number, row in enumerate(rows, start=1))


def _json_row(number: int, row: Any) -> tuple[int, Any]:
    found = json_input.problems(row, depth=3, root="row")
    return number, UnreadableRow("holds values JSON cannot carry", tuple(found)) if found else row


def csv_rows(stream: ByteStream, operation: BulkOperation) -> Iterator[tuple[int, Any]]:
    """CSV records as rows numbered by their line in the file; a broken record fails its row.

    The header is read at once, so a file that cannot be read at all is refused before any job exists.
    """
    try:
        _header, records = read_csv(stream)
    except CsvError as exc:
        raise MalformedRequest("the CSV cannot be read", details=[{"field": "body", "reason": str(exc)}]) from None
    return (
        (
            record.row,
            UnreadableRow(record.error) if record.error is not None else fold_columns(operation, record.values),
        )
        for record in records
    )


def split_upload(
    jobs: JobStore,
    job_id: str,
    open_body: Callable[[], ByteStream],
    *,
    owner: str | None = None,
    lease_seconds: float = SPLIT_LEASE_SECONDS,
) -> dict[str, Any]:
    """Stream an uploaded CSV (``open_body()``) into its job, once however many events name it.

    The split first claims the job's lease: while another split holds it, or once the job is fully
    read, the event is logged and nothing is read. A split that takes over an expired lease (its
    reader crashed) resumes after the last row counted; rows queued but not yet counted are queued
    again, which the consumers' row idempotency makes harmless.
    """
    owner = owner or uuid.uuid4().hex
    if not jobs.claim_split(job_id, owner, seconds=lease_seconds):
        return _not_split(jobs, job_id)
    try:
        return _split(jobs.holding(owner), job_id, open_body())
    except LeaseLost:
        logger.warning("the split's lease was taken over; this split stops", extra={"jobId": job_id})
        return {"jobId": job_id, "skipped": "lease taken over"}
    except Exception:
        jobs.release_split(job_id, owner)
        raise


def _not_split(jobs: JobStore, job_id: str) -> dict[str, Any]:
    """Why an event for an upload read nothing: its split is done, or another split holds the lease."""
    job = jobs.get(job_id, limit=0)
    reason = "already split" if job.split_done else "another split is reading the upload"
    logger.info("upload event ignored: " + reason, extra={"jobId": job_id, "readThrough": job.read_through})
    return {"jobId": job_id, "skipped": reason}


def _split(jobs: JobStore, job_id: str, body: ByteStream) -> dict[str, Any]:
    job = jobs.get(job_id, limit=0)
    operation = operation_of(job.operation)
    try:
        rows = csv_rows(body, operation)
    except MalformedRequest as exc:
        # Nothing can be read: the job ends with the file itself as its one failed row (row 0).
        jobs.add_rows(job_id, 1, through=0, split_done=True)
        jobs.record(job_id, 0, error=exc.to_dict()["error"])
        return {"jobId": job_id, "rows": 0, "failed": 1}
    remaining = ((row, data) for row, data in rows if row > job.read_through)
    read, failed = run_rows(jobs, job_id, job.campaign, operation, remaining)
    return {"jobId": job_id, "rows": read, "failed": failed}


def upload_url(job_id: str) -> dict[str, Any]:
    """A presigned URL to PUT the job's CSV file to (the split starts when it lands)."""
    bucket = env.required("UPLOAD_BUCKET")
    key = f"{UPLOAD_PREFIX}{job_id}.csv"
    url = uploads.presigned_put_url(bucket, key, content_type="text/csv", expires_in=UPLOAD_URL_SECONDS)
    return {"uploadUrl": url, "method": "PUT", "headers": {"Content-Type": "text/csv"}, "expiresIn": UPLOAD_URL_SECONDS}


def job_of_upload(key: str) -> str | None:
    """The job id an uploaded object's key names, or None for a key that is not an upload."""
    if not key.startswith(UPLOAD_PREFIX) or not key.endswith(".csv"):
        return None
    return key[len(UPLOAD_PREFIX) : -len(".csv")] or None


def operation_of(name: Any) -> BulkOperation:
    return operation_named(name if isinstance(name, str) else None)
