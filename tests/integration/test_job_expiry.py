"""A job is kept as long after its last row as after its creation, and a row that arrives after its job
expired recreates no half of it (which ``GET /imports/{jobId}`` could not read)."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from hub.aws import jobs as jobs_module
from hub.aws.jobs import JobStore
from hub.domain.errors import JobNotFound
from local.aws import LocalAws


@pytest.fixture
def dynamodb(aws: LocalAws) -> Any:
    return boto3.client("dynamodb", endpoint_url=aws.endpoint)


@pytest.fixture
def store(dynamodb) -> JobStore:
    return JobStore("JobsTable", client=dynamodb)


def job_item(dynamodb, job_id: str) -> dict[str, Any] | None:
    return dynamodb.get_item(TableName="JobsTable", Key={"pk": {"S": f"JOB#{job_id}"}, "sk": {"S": "JOB"}}).get("Item")


def test_a_row_counted_later_moves_the_jobs_expiry_on(store, dynamodb, monkeypatch):
    # Given a job created at t0
    monkeypatch.setattr(jobs_module.time, "time", lambda: 1_000_000.0)
    assert store.create("job-late", campaign="c", operation="convert", created_at="2026-01-01T00:00:00Z")
    created = int(job_item(dynamodb, "job-late")["expiresAt"]["N"])
    # When a row is counted ten days later
    monkeypatch.setattr(jobs_module.time, "time", lambda: 1_000_000.0 + 10 * 86400)
    assert store.record("job-late", 1)
    # Then the job expires ten days later than it would have
    assert int(job_item(dynamodb, "job-late")["expiresAt"]["N"]) == created + 10 * 86400


def test_a_row_of_an_expired_job_recreates_nothing_and_says_the_job_is_gone(store, dynamodb):
    # Given a job whose item expired (DynamoDB's TTL deleted it)
    assert store.create("job-gone", campaign="c", operation="convert", created_at="2026-01-01T00:00:00Z")
    dynamodb.delete_item(TableName="JobsTable", Key={"pk": {"S": "JOB#job-gone"}, "sk": {"S": "JOB"}})
    # When one of its rows is counted
    with pytest.raises(JobNotFound):
        store.record("job-gone", 7, error={"code": "X", "message": "m", "details": []})
    # Then no half job item, row marker or failure was written, and the job reads as not found
    assert job_item(dynamodb, "job-gone") is None
    assert not store.is_recorded("job-gone", 7)
    with pytest.raises(JobNotFound):
        store.get("job-gone")


def test_a_half_job_item_left_by_an_earlier_version_reads_as_not_found(store, dynamodb):
    dynamodb.put_item(
        TableName="JobsTable", Item={"pk": {"S": "JOB#job-half"}, "sk": {"S": "JOB"}, "succeeded": {"N": "1"}}
    )
    with pytest.raises(JobNotFound):
        store.get("job-half")
