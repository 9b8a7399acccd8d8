"""Starting bulk imports: from JSON rows, from a CSV body, or from a CSV file uploaded to S3.

Whatever the source, rows stream through the same path: each is validated with its operation's model;
an invalid row becomes a failure with its row number and reason; a valid one is queued. The job's
``total`` grows as rows are read, and the job is complete only once the whole source has been read,
so a job never looks done while rows are still coming.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from hub.aws import uploads
from hub.aws.jobs import JobStore
from hub.domain import json_input, operations
from hub.domain.csv_rows import ByteStream, CsvError, read_csv
from hub.domain.errors import MalformedRequest, Unsupported, ValidationError
from hub.flows.bulk import BulkOperation, JobRows, UnreadableRow, fold_columns, operation_named
from hub.settings import env

#: Rows read between two updates of the job's total while a large file streams in.
PROGRESS_EVERY = 500
UPLOAD_URL_SECONDS = 3600
UPLOAD_PREFIX = "uploads/"


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


def new_job(jobs: JobStore, campaign: str | None, operation: BulkOperation) -> str:
    job_id = uuid.uuid4().hex
    jobs.create(job_id, campaign=campaign, operation=operation.name, created_at=datetime.now(UTC).isoformat())
    return job_id


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


def split_upload(jobs: JobStore, job_id: str, body: ByteStream) -> dict[str, Any]:
    """Stream an uploaded CSV into its job. A redelivered S3 event or a restart after a crash
    resumes after the last row counted; rows queued but not yet counted are queued again, which the
    consumers' row idempotency makes harmless."""
    job = jobs.get(job_id, limit=0)
    if job.split_done:
        return {"jobId": job_id, "skipped": "already split"}
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
