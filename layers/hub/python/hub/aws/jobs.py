"""Import jobs in DynamoDB: progress that survives any crash, and rows counted exactly once.

Items of a job share the partition key ``JOB#<id>``:

- ``sk = JOB``: the job: campaign, operation, ``total`` (rows read so far), ``succeeded``,
  ``failed``, ``splitDone`` (every row has been read), ``readThrough`` (the last row counted in
  ``total``), ``requestHash`` (for a job named by an Idempotency-Key: the request it was made for),
  ``splitLease`` and ``splitLeaseUntil`` (the split that reads the job's rows now, and until when its
  claim holds), timestamps, and ``kind = JOB``, the partition
  key of the ``JobsByCreatedAt`` index (sort key ``createdAt``), which lists jobs newest first
  without a scan. The index holds keys only, so the counters' many updates never write to it;
- ``sk = ROW#<row>``: a marker that the row's outcome was counted;
- ``sk = FAIL#<row>``: a failed row, with its error.

A row's outcome is written in one transaction: the marker (only if absent), the counter, and the
failure item. A redelivered row whose outcome is already counted is not counted again, and a crash
can never leave a counter without its marker or the other way round.

The status is derived on read, never stored: ``queued`` until a row has an outcome, ``running``
until every row read has one (and the file is fully read), then ``completed`` or
``completedWithErrors``.

One reader of a job's rows at a time: a split (or a retried keyed import) first claims the job's
lease (:meth:`JobStore.claim_split`), which succeeds only while the job is not fully read and no
other reader's lease is current; it then counts rows through :meth:`JobStore.holding`, whose every
``add_rows`` is conditional on still holding the lease. Two readers can therefore never both add to
``total``: a second S3 event for one upload finds the lease taken (or the split done) and does nothing,
and one that comes after a crashed reader's lease expired takes over after ``readThrough``.

A failed row can be reopened (:meth:`JobStore.reopen`) when its message is put back on its queue from
the dead-letter queue: its failure is uncounted in one transaction, so the row can be counted again.
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
import time
from dataclasses import dataclass, field, replace
from typing import Any

from botocore.exceptions import ClientError

from hub.aws import clients
from hub.domain.errors import JobNotFound, ValidationError
from hub.settings import env

#: How long job items are kept after their last write.
RETENTION_SECONDS = 30 * 24 * 3600
#: Failed rows answered by one GET (the rest are paged by ``cursor``).
FAILURES_PAGE = 100
#: The index listing jobs newest first, and the value of its partition key on every job item.
LISTING_INDEX = "JobsByCreatedAt"
LISTING_KIND = "JOB"
#: Job ids are 32 hex digits; an id past this many bytes names no job (and DynamoDB would refuse it).
MAX_JOB_ID_BYTES = 256
#: BatchGetItem takes at most this many keys.
BATCH_GET_MAX = 100


class LeaseLost(Exception):
    """A reader's claim on a job's rows expired and another reader took it: this one must stop."""


def _job_key(job_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"JOB#{job_id}"}, "sk": {"S": "JOB"}}


def _row_sk(prefix: str, row: int) -> str:
    return f"{prefix}#{row:09d}"


@dataclass(frozen=True)
class RowFailure:
    """A row that cannot succeed: its number, and the error in the SPEC's shape (code, message, details)."""

    row: int
    error: dict[str, Any]

    def to_wire(self) -> dict[str, Any]:
        return {"row": self.row, "error": self.error}


@dataclass(frozen=True)
class Job:
    job_id: str
    campaign: str | None
    operation: str
    total: int
    succeeded: int
    failed: int
    split_done: bool
    created_at: str
    read_through: int = 0
    request_hash: str | None = None
    failures: list[RowFailure] = field(default_factory=list)
    next_cursor: str | None = None

    @property
    def status(self) -> str:
        done = self.succeeded + self.failed
        if self.split_done and done >= self.total:
            return "completedWithErrors" if self.failed else "completed"
        return "running" if done else "queued"

    def to_wire(self) -> dict[str, Any]:
        return {
            "jobId": self.job_id,
            "campaign": self.campaign,
            "operation": self.operation,
            "status": self.status,
            "total": self.total,
            "succeeded": self.succeeded,
            "failed": self.failed,
            "createdAt": self.created_at,
            "failures": [failure.to_wire() for failure in self.failures],
            "nextCursor": self.next_cursor,
        }

    def summary(self) -> dict[str, Any]:
        """The job without its failed rows, as a listing shows it."""
        wire = self.to_wire()
        del wire["failures"], wire["nextCursor"]
        return wire


@dataclass(frozen=True)
class JobPage:
    """One page of jobs, newest first, and the cursor of the next page (None on the last)."""

    jobs: list[Job]
    next_cursor: str | None

    def to_wire(self) -> dict[str, Any]:
        return {"items": [job.summary() for job in self.jobs], "nextCursor": self.next_cursor}


_CURSOR_KEYS = ("pk", "sk", "kind", "createdAt")


def _encode_cursor(last_key: dict[str, Any]) -> str:
    plain = {name: last_key[name]["S"] for name in _CURSOR_KEYS}
    return base64.urlsafe_b64encode(json.dumps(plain, separators=(",", ":")).encode()).decode().rstrip("=")


def _invalid_cursor(reason: str = "must be the nextCursor of a previous page") -> ValidationError:
    return ValidationError("the query parameter 'cursor' is invalid", details=[{"field": "cursor", "reason": reason}])


def _decode_cursor(cursor: str) -> dict[str, Any]:
    """The index position a listing cursor names; a cursor this store did not write is a 422.

    Its every part is checked against what :func:`_encode_cursor` writes: DynamoDB refuses a start key
    with an empty or foreign part with a ValidationException, which would otherwise reach the caller
    as a 500.
    """
    try:
        plain = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error, TypeError, RecursionError):
        raise _invalid_cursor() from None
    if not (_has_cursor_parts(plain) and _is_listing_position(plain)):
        raise _invalid_cursor()
    return {name: {"S": plain[name]} for name in _CURSOR_KEYS}


def _has_cursor_parts(plain: Any) -> bool:
    """Whether ``plain`` is an object of exactly the cursor's parts, each a non-empty string."""
    if not isinstance(plain, dict) or set(plain) != set(_CURSOR_KEYS):
        return False
    return all(isinstance(plain[name], str) and plain[name] for name in _CURSOR_KEYS)


def _is_listing_position(plain: dict[str, str]) -> bool:
    """Whether the parts name a job's entry in the listing index, as :func:`_encode_cursor` writes them."""
    return plain["kind"] == LISTING_KIND and plain["sk"] == "JOB" and plain["pk"].startswith("JOB#")


def row_cursor(cursor: str | None) -> int:
    """The row a job's failures page starts from (0 for the first page); 422 for anything but a row
    number of at most nine ASCII digits (row numbers are stored on nine digits: a longer one would
    make a key range DynamoDB refuses)."""
    if cursor is None or cursor == "":
        return 0
    if len(cursor) > 9 or not (cursor.isascii() and cursor.isdigit()):
        raise _invalid_cursor("must be a row number (the nextCursor of a previous page)")
    return int(cursor)


def _condition_failed(exc: ClientError) -> bool:
    return bool(exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException")


def _job_from_item(job_id: str, item: dict[str, Any]) -> Job:
    return Job(
        job_id=job_id,
        campaign=item["campaign"].get("S"),
        operation=item["operation"]["S"],
        total=int(item["total"]["N"]),
        succeeded=int(item["succeeded"]["N"]),
        failed=int(item["failed"]["N"]),
        split_done=item["splitDone"]["BOOL"],
        created_at=item["createdAt"]["S"],
        read_through=int(item.get("readThrough", {}).get("N", "0")),
        request_hash=item.get("requestHash", {}).get("S"),
    )


class JobStore:
    """Reads and writes jobs in the table named by ``JOBS_TABLE``."""

    def __init__(self, table_name: str | None = None, client: Any = None):
        self.table_name = table_name or env.required("JOBS_TABLE")
        self._client = client
        #: the lease this store counts rows under (:meth:`holding`); None: rows are counted freely
        self.lease: str | None = None

    def holding(self, owner: str) -> JobStore:
        """This store, counting rows only while ``owner`` holds the job's lease (else :class:`LeaseLost`)."""
        leased = copy.copy(self)
        leased.lease = owner
        return leased

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = clients.client("dynamodb")
        return self._client

    def _transact(self, items: list[dict[str, Any]], *, job_id: str | None = None) -> bool:
        """Write ``items`` in one transaction; False (nothing written) when its first item's condition
        fails, as when a row's marker says its outcome is already counted. When another item's fails
        (the job ``job_id`` itself is gone: it expired), :class:`JobNotFound`."""
        try:
            self.client.transact_write_items(TransactItems=items)
        except ClientError as exc:
            reasons = exc.response.get("CancellationReasons") or []
            if reasons and reasons[0].get("Code") == "ConditionalCheckFailed":
                return False
            if job_id is not None and any(r.get("Code") == "ConditionalCheckFailed" for r in reasons[1:]):
                raise JobNotFound(f"import job '{job_id}' is gone (it expired): its row is counted nowhere") from None
            raise
        return True

    def _expiry(self) -> dict[str, str]:
        return {"N": str(int(time.time()) + RETENTION_SECONDS)}

    def create(
        self, job_id: str, *, campaign: str | None, operation: str, created_at: str, request_hash: str | None = None
    ) -> bool:
        """A new job with no rows yet (``add_rows`` counts them in as they are read); False (nothing
        written) when a job of that id exists already. ``request_hash`` names the request a job keyed
        by an Idempotency-Key was made for, so that a retry can be told from a reuse of the key."""
        extra = {"requestHash": {"S": request_hash}} if request_hash else {}
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item={
                    **extra,
                    **_job_key(job_id),
                    "campaign": {"S": campaign} if campaign else {"NULL": True},
                    "operation": {"S": operation},
                    "total": {"N": "0"},
                    "succeeded": {"N": "0"},
                    "failed": {"N": "0"},
                    "splitDone": {"BOOL": False},
                    "createdAt": {"S": created_at},
                    "kind": {"S": LISTING_KIND},
                    "expiresAt": self._expiry(),
                },
                ConditionExpression="attribute_not_exists(pk)",
            )
        except ClientError as exc:
            if not _condition_failed(exc):
                raise
            return False
        return True

    def add_rows(self, job_id: str, count: int, *, through: int, split_done: bool = False) -> None:
        """Count ``count`` more rows read into the job (queued or failed up front), the last being
        row ``through``: a split that restarts resumes after it."""
        expression = "ADD #total :n SET readThrough = :through, expiresAt = :expires"
        values: dict[str, Any] = {":n": {"N": str(count)}, ":through": {"N": str(through)}, ":expires": self._expiry()}
        if split_done:
            expression += ", splitDone = :done"
            values[":done"] = {"BOOL": True}
        condition: dict[str, Any] = {}
        if self.lease is not None:
            condition["ConditionExpression"] = "splitLease = :owner"
            values[":owner"] = {"S": self.lease}
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key=_job_key(job_id),
                UpdateExpression=expression,
                ExpressionAttributeNames={"#total": "total"},
                ExpressionAttributeValues=values,
                **condition,
            )
        except ClientError as exc:
            if not _condition_failed(exc):
                raise
            raise LeaseLost(f"the split of job '{job_id}' was taken over by another reader") from None

    def claim_split(self, job_id: str, owner: str, *, seconds: float) -> bool:
        """Claim the job's rows for ``owner`` for ``seconds``: True when the job exists, is not fully
        read, and no other reader holds a current lease (an expired one is taken over); else False,
        and nothing changes."""
        now = time.time()
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key=_job_key(job_id),
                UpdateExpression="SET splitLease = :owner, splitLeaseUntil = :until",
                ConditionExpression=(
                    "attribute_exists(pk) AND splitDone = :false"
                    " AND (attribute_not_exists(splitLeaseUntil) OR splitLeaseUntil < :now OR splitLease = :owner)"
                ),
                ExpressionAttributeValues={
                    ":owner": {"S": owner},
                    ":until": {"N": f"{now + seconds:.3f}"},
                    ":now": {"N": f"{now:.3f}"},
                    ":false": {"BOOL": False},
                },
            )
        except ClientError as exc:
            if not _condition_failed(exc):
                raise
            return False
        return True

    def release_split(self, job_id: str, owner: str) -> None:
        """Give up ``owner``'s lease (a reader that failed), so the next attempt need not wait for it
        to expire; nothing when another reader holds it."""
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key=_job_key(job_id),
                UpdateExpression="REMOVE splitLease, splitLeaseUntil",
                ConditionExpression="splitLease = :owner",
                ExpressionAttributeValues={":owner": {"S": owner}},
            )
        except ClientError as exc:
            if not _condition_failed(exc):
                raise

    def record(self, job_id: str, row: int, *, error: dict[str, Any] | None = None) -> bool:
        """Count a row's outcome once: success when ``error`` is None, else a failure with that error.

        Returns False (and changes nothing) when the row's outcome was counted before.
        """
        counter = "failed" if error is not None else "succeeded"
        items: list[dict[str, Any]] = [
            {
                "Put": {
                    "TableName": self.table_name,
                    "Item": {
                        "pk": {"S": f"JOB#{job_id}"},
                        "sk": {"S": _row_sk("ROW", row)},
                        "outcome": {"S": counter},
                        "expiresAt": self._expiry(),
                    },
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
            {
                "Update": {
                    "TableName": self.table_name,
                    "Key": _job_key(job_id),
                    # The job is kept as long after its last row as after its creation; a row of a job
                    # that expired recreates no half of it.
                    "UpdateExpression": "ADD #counter :one SET expiresAt = :expires",
                    "ConditionExpression": "attribute_exists(pk)",
                    "ExpressionAttributeNames": {"#counter": counter},
                    "ExpressionAttributeValues": {":one": {"N": "1"}, ":expires": self._expiry()},
                }
            },
        ]
        if error is not None:
            items.append(
                {
                    "Put": {
                        "TableName": self.table_name,
                        "Item": {
                            "pk": {"S": f"JOB#{job_id}"},
                            "sk": {"S": _row_sk("FAIL", row)},
                            "row": {"N": str(row)},
                            "code": {"S": str(error.get("code", "ERROR"))},
                            "message": {"S": str(error.get("message", ""))},
                            "details": {"S": json.dumps(error.get("details", []), default=str)},
                            "expiresAt": self._expiry(),
                        },
                    }
                }
            )
        return self._transact(items, job_id=job_id)

    def record_failures(self, job_id: str, failures: list[RowFailure]) -> None:
        """Count rows that failed before being queued (invalid rows), each once."""
        for failure in failures:
            self.record(job_id, failure.row, error=failure.error)

    def is_recorded(self, job_id: str, row: int) -> bool:
        answer = self.client.get_item(
            TableName=self.table_name,
            Key={"pk": {"S": f"JOB#{job_id}"}, "sk": {"S": _row_sk("ROW", row)}},
            ConsistentRead=True,
            ProjectionExpression="pk",
        )
        return "Item" in answer

    def get(self, job_id: str, *, cursor: str | None = None, limit: int = FAILURES_PAGE) -> Job:
        """The job with one page of its failed rows (from ``cursor``, a row number, on)."""
        start = _row_sk("FAIL", row_cursor(cursor))
        if not job_id or len(job_id.encode("utf-8", "surrogatepass")) > MAX_JOB_ID_BYTES:
            # DynamoDB refuses a key past its size limit outright; no job of the hub has such an id.
            raise JobNotFound("no import job has this id")
        answer = self.client.get_item(TableName=self.table_name, Key=_job_key(job_id), ConsistentRead=True)
        item = answer.get("Item")
        # An item without its operation is what a row counted after its job expired left before rows
        # were held to their job's existence: no job either.
        if item is None or "operation" not in item:
            raise JobNotFound(f"no import job '{job_id}'")
        page = self.client.query(
            TableName=self.table_name,
            KeyConditionExpression="pk = :pk AND sk BETWEEN :start AND :end",
            ExpressionAttributeValues={
                ":pk": {"S": f"JOB#{job_id}"},
                ":start": {"S": start},
                ":end": {"S": "FAIL#999999999"},
            },
            Limit=limit + 1,
            ConsistentRead=True,
        )
        failures = [
            RowFailure(
                int(f["row"]["N"]),
                {"code": f["code"]["S"], "message": f["message"]["S"], "details": json.loads(f["details"]["S"])},
            )
            for f in page.get("Items", [])
        ]
        next_cursor = str(failures[limit].row) if len(failures) > limit else None
        return replace(_job_from_item(job_id, item), failures=failures[:limit], next_cursor=next_cursor)

    def recent(self, *, cursor: str | None = None, limit: int = 20) -> JobPage:
        """Jobs newest first, ``limit`` to a page, from ``cursor`` (a previous page's ``next_cursor``) on.

        The index gives the keys in order; the jobs themselves are read with consistent reads, so
        their counters are as current as ``get`` answers them.
        """
        query: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": LISTING_INDEX,
            "KeyConditionExpression": "#kind = :kind",
            "ExpressionAttributeNames": {"#kind": "kind"},
            "ExpressionAttributeValues": {":kind": {"S": LISTING_KIND}},
            "ScanIndexForward": False,
            "Limit": min(limit, BATCH_GET_MAX),
        }
        if cursor:
            query["ExclusiveStartKey"] = _decode_cursor(cursor)
        try:
            page = self.client.query(**query)
        except ClientError as exc:
            # A start key of the right shape that names no position of the index (forged, or from
            # another table) is refused by DynamoDB itself: the caller's cursor, not the hub's fault.
            if cursor and exc.response.get("Error", {}).get("Code") == "ValidationException":
                raise _invalid_cursor() from None
            raise
        keys = [{"pk": item["pk"], "sk": item["sk"]} for item in page.get("Items", [])]
        items = self._get_many(keys)
        jobs = [
            _job_from_item(key["pk"]["S"].removeprefix("JOB#"), items[key["pk"]["S"]])
            for key in keys
            if key["pk"]["S"] in items  # an item the index still lists may just have expired
        ]
        last = page.get("LastEvaluatedKey")
        return JobPage(jobs, _encode_cursor(last) if last else None)

    def _get_many(self, keys: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
        """The job items of ``keys`` by partition key, retrying what DynamoDB leaves unprocessed."""
        found: dict[str, dict[str, Any]] = {}
        pending: dict[str, Any] = {self.table_name: {"Keys": keys, "ConsistentRead": True}} if keys else {}
        for attempt in range(8):
            if not pending:
                break
            if attempt:
                time.sleep(min(1.0, 0.05 * 2**attempt))
            answer = self.client.batch_get_item(RequestItems=pending)
            for item in answer.get("Responses", {}).get(self.table_name, []):
                found[item["pk"]["S"]] = item
            pending = answer.get("UnprocessedKeys") or {}
        return found

    def reopen(self, job_id: str, row: int) -> bool:
        """Uncount a failed row so that its next outcome counts: its marker and failure go, and the
        job's ``failed`` counter goes down by one, in one transaction.

        Returns False (and changes nothing) when the row has no failure counted: it succeeded, was
        never counted, or was reopened already.
        """
        key = {"pk": {"S": f"JOB#{job_id}"}}
        return self._transact(
            [
                {
                    "Delete": {
                        "TableName": self.table_name,
                        "Key": {**key, "sk": {"S": _row_sk("ROW", row)}},
                        "ConditionExpression": "#outcome = :failed",
                        "ExpressionAttributeNames": {"#outcome": "outcome"},
                        "ExpressionAttributeValues": {":failed": {"S": "failed"}},
                    }
                },
                {
                    "Update": {
                        "TableName": self.table_name,
                        "Key": _job_key(job_id),
                        "UpdateExpression": "ADD #failed :minus",
                        "ExpressionAttributeNames": {"#failed": "failed"},
                        "ExpressionAttributeValues": {":minus": {"N": "-1"}},
                    }
                },
                {"Delete": {"TableName": self.table_name, "Key": {**key, "sk": {"S": _row_sk("FAIL", row)}}}},
            ]
        )
