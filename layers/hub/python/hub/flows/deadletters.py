"""The bulk operations' dead-letter queues: what is in them (``GET /deadletters``) and putting it back
on the operation's own queue (``POST /deadletters/redrive``).

A row lands in a dead-letter queue in one of two ways: its consumer gave up on it after the last
delivery allowed (the row is counted as failed, and the message carries ``errorCode`` and
``errorMessage`` attributes), or SQS moved it after ``MaxReceiveCount`` deliveries that never ended
(the consumer timed out or crashed each time; no attributes, and the row has no outcome yet).

Redrive receives, sends to the source queue and deletes, ten messages at a time. SQS's own
``StartMessageMoveTask`` would move the messages, but not make their rows countable again: a row
counted as failed would be skipped as "already counted" by its consumer. So each row is reopened
first (:meth:`hub.aws.jobs.JobStore.reopen`), then sent, then deleted from the dead-letter queue. A crash
between two steps loses nothing: the message is still in the dead-letter queue and a later redrive
moves it; a message both sent and still there reaches the provider once all the same, since rows are
idempotent on their meaning.
"""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError as PydanticValidationError

from hub.aws.jobs import JobStore
from hub.aws.queues import Queues
from hub.flows.bulk import OPERATIONS, SQS_BATCH, BulkOperation, RowMessage, operation_named

#: Messages shown per queue at most (each is received with a zero visibility timeout: a peek).
PEEK_MAX = 50
#: How long one redrive request moves messages before it answers (API Gateway allows 29 s in all).
REDRIVE_BUDGET_SECONDS = 15.0
#: How long a message being moved stays hidden in its dead-letter queue; one whose move fails
#: reappears after it.
REDRIVE_VISIBILITY_SECONDS = 120
#: A long poll this long looks at every SQS server, so an empty answer means an empty queue.
REDRIVE_WAIT_SECONDS = 1


def selected(operation: str | None) -> list[BulkOperation]:
    """The named bulk operation (a VALIDATION_ERROR listing them when unknown), or all of them."""
    return [operation_named(operation)] if operation is not None else list(OPERATIONS.values())


def list_dead_letters(operation: str | None = None, *, limit: int = 10, sqs: Any = None) -> dict[str, Any]:
    """Each selected operation's dead-letter queue: its message count and up to ``limit`` messages
    (oldest first) with the row they carry and the error that put them there (on the SQS client
    ``sqs`` if given)."""
    sqs = Queues(sqs)
    queues: list[dict[str, Any]] = []
    total = 0
    for op in selected(operation):
        url = op.dead_letter_url()
        visible, in_flight = sqs.depth(url)
        messages = _peek(sqs, url, min(limit, PEEK_MAX)) if limit and (visible or in_flight) else []
        queues.append({"operation": op.name, "count": visible, "inFlight": in_flight, "messages": messages})
        total += visible + in_flight
    return {"total": total, "queues": queues}


def _peek(sqs: Queues, url: str, limit: int) -> list[dict[str, Any]]:
    """Up to ``limit`` messages, left where they are. Short polls sample the queue's servers, so a
    peek may miss some messages of a large queue; the counts are SQS's own."""
    seen: dict[str, dict[str, Any]] = {}
    for _ in range(math.ceil(limit / SQS_BATCH) + 2):
        answer = sqs.peek(url, min(SQS_BATCH, limit - len(seen)))
        new = [message for message in answer if message["MessageId"] not in seen]
        if not new:
            break
        seen.update((message["MessageId"], message) for message in new)
        if len(seen) >= limit:
            break
    ordered = sorted(seen.values(), key=lambda m: int(m.get("Attributes", {}).get("SentTimestamp", "0")))
    return [describe_message(message) for message in ordered]


def describe_message(message: dict[str, Any]) -> dict[str, Any]:
    """A dead-letter message as the API shows it: its row (job, row number, campaign, email, data) and
    the error that put it there (none when SQS moved it after its last delivery)."""
    attributes = message.get("MessageAttributes", {})
    system = message.get("Attributes", {})
    sent = system.get("SentTimestamp")
    described: dict[str, Any] = {
        "messageId": message["MessageId"],
        "sentAt": datetime.fromtimestamp(int(sent) / 1000, UTC).isoformat() if sent else None,
        "receiveCount": int(system.get("ApproximateReceiveCount", "0")) or None,
        "errorCode": attributes.get("errorCode", {}).get("StringValue"),
        "errorMessage": attributes.get("errorMessage", {}).get("StringValue"),
    }
    try:
        row = RowMessage.model_validate_json(message["Body"])
    except PydanticValidationError:
        return {**described, "body": message["Body"][:1000]}
    email = row.data.get("email")
    return {
        **described,
        "jobId": row.jobId,
        "row": row.row,
        "campaign": row.campaign,
        "email": email if isinstance(email, str) else None,
        "data": row.data,
    }


def redrive(
    operation: str | None = None,
    *,
    jobs: JobStore | None = None,
    sqs: Any = None,
    budget: float = REDRIVE_BUDGET_SECONDS,
) -> dict[str, Any]:
    """Move the selected dead-letter queues' messages back to their operations' queues, reopening each
    row's counted failure first, for at most ``budget`` seconds; ``done`` is False when messages may
    remain (call again). SQS is reached on the client ``sqs`` if given."""
    sqs = Queues(sqs)
    jobs = jobs or JobStore()
    deadline = time.monotonic() + budget
    queues = []
    for op in selected(operation):
        queues.append({"operation": op.name, **_redrive_queue(op, sqs, jobs, deadline)})
    return {
        "moved": sum(q["moved"] for q in queues),
        "done": all(q["done"] for q in queues),
        "queues": queues,
    }


def _redrive_queue(op: BulkOperation, sqs: Queues, jobs: JobStore, deadline: float) -> dict[str, Any]:
    source, dead_letters = op.queue_url(), op.dead_letter_url()
    moved = reopened = refused = 0
    done = sum(sqs.depth(dead_letters)) == 0
    while not done and time.monotonic() < deadline:
        messages = _receive_for_redrive(sqs, dead_letters)
        if not messages:
            done = True
            break
        # Reopen before sending: a row still counted as failed would be skipped by its consumer.
        reopened += sum(_reopen(jobs, message["Body"]) for message in messages)
        deleted = _delete_sent(sqs, dead_letters, messages, _send_back(sqs, source, messages))
        moved += deleted
        refused += len(messages) - deleted
    remaining, in_flight = sqs.depth(dead_letters)
    return {
        "moved": moved,
        "reopened": reopened,
        "refused": refused,
        "remaining": remaining + in_flight,
        "done": done and not refused,
    }


def _receive_for_redrive(sqs: Queues, dead_letters: str) -> list[dict[str, Any]]:
    """The next messages of a dead-letter queue, hidden there while they are moved (none: it is empty)."""
    return sqs.receive(
        dead_letters, SQS_BATCH, visibility_seconds=REDRIVE_VISIBILITY_SECONDS, wait_seconds=REDRIVE_WAIT_SECONDS
    )


def _send_back(sqs: Queues, source: str, messages: list[dict[str, Any]]) -> frozenset[str]:
    """Send ``messages`` to the operation's queue; the batch ids (positions) of those SQS accepted."""
    return sqs.send_batch(source, [(str(n), message["Body"]) for n, message in enumerate(messages)]).accepted


def _delete_sent(sqs: Queues, dead_letters: str, messages: list[dict[str, Any]], sent: frozenset[str]) -> int:
    """Delete from the dead-letter queue the messages that were sent back; how many there were.

    A message whose send failed stays, to reappear when its visibility timeout ends.
    """
    delete = [(str(n), message["ReceiptHandle"]) for n, message in enumerate(messages) if str(n) in sent]
    if delete:
        sqs.delete_batch(dead_letters, delete)
    return len(delete)


def _reopen(jobs: JobStore, body: str) -> bool:
    try:
        row = RowMessage.model_validate_json(body)
    except PydanticValidationError:
        return False  # not a row: moved as it is, for its consumer to judge
    return jobs.reopen(row.jobId, row.row)
