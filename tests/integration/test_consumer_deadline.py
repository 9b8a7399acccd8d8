"""A queue consumer near the end of its invocation starts no row it could not finish: the rows left are
sent back to their queue unstarted (a new message, so their receive count is not spent) and reported
done, instead of being cut off in flight or failed by the timeout."""

from __future__ import annotations

import json
import os
import time
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from hub.aws.jobs import JobStore
from hub.flows.bulk import Consumer
from local.aws import LocalAws
from local.events import sqs_record


@pytest.fixture(scope="module", autouse=True)
def _consumer_environment(aws: LocalAws) -> None:
    os.environ.update(
        {
            "JOBS_TABLE": "JobsTable",
            "DELETE_CONTACT_QUEUE_URL": aws.physical["DeleteContactQueue"],
            "DELETE_CONTACT_DLQ_URL": aws.physical["DeleteContactDeadLetterQueue"],
            "HUB_HTTP_BUDGET_SECONDS": "5",
        }
    )


def received(aws: LocalAws, sqs: Any, count: int) -> list[dict[str, Any]]:
    url = aws.physical["DeleteContactQueue"]
    messages: list[dict[str, Any]] = []
    for _ in range(10):
        answer = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"], WaitTimeSeconds=1)
        messages += answer.get("Messages", [])
        if len(messages) >= count:
            break
    return messages


def test_rows_the_invocation_has_no_time_for_go_back_to_their_queue_unstarted(aws):
    # Given three rows of a deleteContact job, received once
    sqs = boto3.client("sqs", endpoint_url=aws.endpoint)
    url = aws.physical["DeleteContactQueue"]
    bodies = [
        json.dumps(
            {
                "jobId": "job-deadline",
                "row": n,
                "operation": "deleteContact",
                "campaign": None,
                "data": {"email": f"row-{n}@example.com"},
            }
        )
        for n in (1, 2, 3)
    ]
    for body in bodies:
        sqs.send_message(QueueUrl=url, MessageBody=body)
    first = received(aws, sqs, 3)
    assert len(first) == 3
    consumer = Consumer("deleteContact", sqs=sqs, jobs=JobStore())
    # When the consumer handles them with less time left than a row may need (5 s budget and the margin)
    deadline = time.monotonic() + 4.0
    for message in first:
        consumer.handle(SQSRecord(sqs_record(message, "arn")), deadline=deadline)
    # Then each is back on the queue as a new message with the same body, never received before
    again = received(aws, sqs, 3)
    assert sorted(m["Body"] for m in again) == sorted(bodies)
    assert all(m["Attributes"]["ApproximateReceiveCount"] == "1" for m in again)
    # And none of them counted in its job (none ran)
    assert not any(consumer.jobs.is_recorded("job-deadline", n) for n in (1, 2, 3))
