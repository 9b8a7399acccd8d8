"""The one writer of a job's rows: what it queues, what it counts into the job, and what it records as
failed, whichever flow writes (an import, a scheduled run, a webhook delivery)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from hub.aws import clients
from hub.aws.jobs import JobStore
from hub.domain.errors import QueueUnavailable
from hub.domain.requests import ContactSyncRequest
from hub.flows.bulk import OPERATIONS, JobRows, UnreadableRow
from local.aws import create_tables
from local.template import load

SYNC = OPERATIONS["syncContact"]


@pytest.fixture
def store(monkeypatch) -> Iterator[tuple[JobStore, str]]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    clients._clients.clear()
    with mock_aws():
        create_tables(load(), boto3.client("dynamodb"))
        monkeypatch.setenv("JOBS_TABLE", "JobsTable")
        url = boto3.client("sqs").create_queue(QueueName="sync")["QueueUrl"]
        monkeypatch.setenv("SYNC_CONTACT_QUEUE_URL", url)
        jobs = JobStore()
        jobs.create("job-1", campaign=None, operation="syncContact", created_at="2026-12-02")
        yield jobs, url
    clients._clients.clear()


def queued(url: str) -> list[dict]:
    answer = boto3.client("sqs").receive_message(QueueUrl=url, MaxNumberOfMessages=10)
    return [json.loads(message["Body"]) for message in answer.get("Messages", [])]


def test_rows_are_checked_queued_and_counted_once_settled(store):
    # Given a writer, two valid rows, one invalid and one unreadable
    jobs, url = store
    writer = JobRows(jobs, "job-1", SYNC, settle_every=100)
    writer.add(1, None, {"email": "ada@example.com"})
    writer.add(2, None, {"email": "not-an-email"})
    writer.add(3, None, UnreadableRow("a quote is never closed"))
    writer.add(4, None, {"email": "grace@example.com"})
    # When it settles, closing the job
    failed = writer.settle(done=True)
    # Then the two valid rows are on the queue, and the job counts four rows, two of them failed
    assert sorted(message["row"] for message in queued(url)) == [1, 4]
    job = jobs.get("job-1")
    assert (job.total, job.failed, failed, writer.read) == (4, 2, 2, 4)
    assert {failure.row for failure in job.failures} == {2, 3}


def test_a_row_sqs_did_not_take_is_counted_as_failed_not_lost(store, monkeypatch):
    # Given a writer whose queue SQS does not have
    jobs, _ = store
    monkeypatch.setenv("SYNC_CONTACT_QUEUE_URL", "https://sqs.us-east-1.amazonaws.com/000000000000/gone")
    writer = JobRows(jobs, "job-1", SYNC)
    # When a webhook's row is taken and SQS refuses the send
    writer.take(1, "demo", ContactSyncRequest(email="ada@example.com"))
    with pytest.raises(QueueUnavailable) as raised:
        writer.flush()
    writer.fail(1, raised.value)
    writer.settle(done=True)
    # Then the job counts the row, failed with QUEUE_ERROR, and completes
    job = jobs.get("job-1")
    assert (job.total, job.failed) == (1, 1)
    assert job.failures[0].error["code"] == "QUEUE_ERROR"
