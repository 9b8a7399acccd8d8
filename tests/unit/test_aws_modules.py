"""The AWS modules the flows and the shared rate limiter go through, against moto: what they answer,
and how AWS's own errors reach their callers."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
import requests
from botocore.exceptions import ClientError
from moto import mock_aws

from hub.aws import clients, uploads
from hub.aws.jobs import JobStore
from hub.aws.queues import Queues
from hub.aws.throttle_table import ConditionFailed, ScheduleItem
from hub.domain.csv_rows import read_csv
from hub.domain.errors import QueueUnavailable
from hub.flows.schedules import RunJob
from local.aws import create_tables
from local.template import load


@pytest.fixture
def aws(monkeypatch) -> Iterator[None]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        yield


@pytest.fixture
def jobs(aws, monkeypatch) -> JobStore:
    create_tables(load(), boto3.client("dynamodb"))
    monkeypatch.setenv("JOBS_TABLE", "JobsTable")
    return JobStore()


def test_a_process_keeps_one_client_per_service_and_endpoint(aws, monkeypatch):
    # Given the process's SQS client
    sqs = clients.client("sqs")
    # Then it is the one asked for again, and not S3's
    assert clients.client("sqs") is sqs
    assert clients.client("s3") is not sqs
    # And once the environment points boto3 at another endpoint, a client of its own is made for it
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
    elsewhere = clients.client("sqs")
    assert elsewhere is not sqs
    assert elsewhere.meta.endpoint_url == "http://127.0.0.1:1"


def test_sent_messages_are_peeked_received_and_deleted(aws):
    # Given a queue and a batch of two messages sent to it, and one more with attributes
    queues = Queues()
    url = boto3.client("sqs").create_queue(QueueName="rows")["QueueUrl"]
    sent = queues.send_batch(url, [("1", "one"), ("2", "two")])
    queues.send(url, "three", attributes={"errorCode": "PROVIDER_ERROR"})
    # Then SQS took both entries of the batch, and the queue holds three messages
    assert sent.accepted == {"1", "2"}
    assert sent.refused == {}
    assert queues.depth(url) == (3, 0)
    # And a peek leaves them visible, with their attributes
    peeked = queues.peek(url, 10)
    assert sorted(m["Body"] for m in peeked) == ["one", "three", "two"]
    three = next(m for m in peeked if m["Body"] == "three")
    assert three["MessageAttributes"]["errorCode"]["StringValue"] == "PROVIDER_ERROR"
    assert queues.depth(url) == (3, 0)
    # And a receive hides them until they are deleted
    received = queues.receive(url, 10, visibility_seconds=60, wait_seconds=0)
    assert queues.depth(url) == (0, 3)
    queues.delete_batch(url, [(str(n), m["ReceiptHandle"]) for n, m in enumerate(received)])
    assert queues.depth(url) == (0, 0)


def test_a_send_sqs_does_not_take_is_a_queue_error(aws):
    # Given a queue that does not exist
    queues = Queues(boto3.client("sqs"))
    url = "https://sqs.us-east-1.amazonaws.com/123456789012/missing"
    # Then a batch or a message sent to it is a QUEUE_ERROR, SQS's own error as its cause
    with pytest.raises(QueueUnavailable) as batch:
        queues.send_batch(url, [("1", "one")])
    assert batch.value.code == "QUEUE_ERROR"
    assert isinstance(batch.value.__cause__, ClientError)
    with pytest.raises(QueueUnavailable):
        queues.send(url, "one", delay_seconds=5)


def test_a_file_put_to_the_upload_url_is_read_back_as_a_stream(aws):
    # Given a bucket, and a CSV file PUT to the presigned URL of a key in it
    boto3.client("s3").create_bucket(Bucket="uploads")
    url = uploads.presigned_put_url("uploads", "uploads/job.csv", content_type="text/csv", expires_in=60)
    put = requests.put(url, data=b"email\nada@example.com\n", headers={"Content-Type": "text/csv"}, timeout=10)
    assert put.status_code == 200
    # Then the object's body reads as the CSV it is
    _header, records = read_csv(uploads.object_body("uploads", "uploads/job.csv"))
    assert [record.values for record in records] == [{"email": "ada@example.com"}]


def test_a_job_is_created_once_and_a_second_create_is_refused_without_an_error(jobs):
    # Given a job created once
    assert jobs.create("job-1", campaign=None, operation="syncContact", created_at="2026-01-01") is True
    # When it is created again, Then nothing is written and the first job stands
    assert jobs.create("job-1", campaign="other", operation="flag", created_at="2026-02-02") is False
    assert jobs.get("job-1", limit=0).operation == "syncContact"


def test_a_create_lets_other_failures_through(aws):
    # Given no table at all, any failure but a failed condition reaches the caller
    store = JobStore("NoSuchTable")
    with pytest.raises(ClientError):
        store.create("job-1", campaign=None, operation="syncContact", created_at="x")


def test_a_scheduled_event_run_again_gets_a_job_of_its_own(jobs):
    # Given the run of an event whose job exists already (Lambda retried the invocation)
    first = RunJob("sync-referral-stats-event-1", jobs=jobs)
    again = RunJob("sync-referral-stats-event-1", jobs=jobs)
    # Then the second run's job is another one, named after the first
    assert first._ensure().job_id == "sync-referral-stats-event-1"
    second = again._ensure().job_id
    assert second.startswith("sync-referral-stats-event-1-") and second != first.job_id
    assert jobs.get(second, limit=0).operation == "syncContact"


@pytest.fixture
def schedule(aws) -> ScheduleItem:
    dynamodb = boto3.client("dynamodb")
    dynamodb.create_table(
        TableName="throttle",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return ScheduleItem("throttle", "growsurf")


def test_a_schedule_item_restarts_when_idle_and_advances_when_busy(schedule):
    # Given an idle schedule (no item yet), restarted at 1000.5 s
    schedule.restart(now=1_000_000, tat=1_000_500)
    # Then it advances by the interval while its time is within the window, answering the new time
    assert schedule.advance(interval=250, now=1_000_000, horizon=1_002_000) == 1_000_750
    # And a restart of a busy schedule fails, telling the time it found
    with pytest.raises(ConditionFailed) as busy:
        schedule.restart(now=1_000_000, tat=1_000_100)
    assert busy.value.tat == 1_000_750


def test_a_schedule_item_refuses_to_advance_past_the_horizon_or_when_absent(schedule):
    # Given no item, an advance fails and finds no time
    with pytest.raises(ConditionFailed) as absent:
        schedule.advance(interval=250, now=1_000_000, horizon=1_002_000)
    assert absent.value.tat is None
    # Given a time beyond the horizon, an advance fails and tells it
    schedule.restart(now=1_000_000, tat=1_005_000)
    with pytest.raises(ConditionFailed) as ahead:
        schedule.advance(interval=250, now=1_000_000, horizon=1_002_000)
    assert ahead.value.tat == 1_005_000


def test_a_schedule_item_lets_other_failures_through(aws):
    with pytest.raises(ClientError):
        ScheduleItem("no-such-table", "growsurf").restart(now=1, tat=2)
