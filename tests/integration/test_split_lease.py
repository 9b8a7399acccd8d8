"""An upload is split once however many S3 events name it: the split claims the job's lease, a second
event (during the split or after it) reads nothing, and a split that crashed is taken over once its
lease expired, after the rows it counted. Run on the local run's AWS (moto's server, whose conditional
writes are atomic as DynamoDB's are)."""

from __future__ import annotations

import json
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest

from hub.aws.jobs import JobStore, LeaseLost
from hub.flows import imports
from hub.flows.bulk import OPERATIONS
from local.aws import LocalAws
from local.gateway import Functions
from local.template import ROOT, load

ROWS = 120
EVENT = json.loads((ROOT / "events" / "s3_split_import_upload.json").read_text())


@pytest.fixture(scope="module", autouse=True)
def _function_environment(aws: LocalAws) -> None:
    os.environ.update(load().environment(aws.physical))


@pytest.fixture
def upload(aws: LocalAws) -> tuple[str, str]:
    """A sync contact job and its uploaded file of ``ROWS`` rows: (job id, object key)."""
    job_id = imports.new_job(JobStore(), None, OPERATIONS["syncContact"])
    key = f"uploads/{job_id}.csv"
    csv = "email,plan\n" + "".join(f"split-{job_id[:6]}-{n}@example.com,team\n" for n in range(ROWS))
    boto3.client("s3").put_object(Bucket=aws.physical["UploadBucket"], Key=key, Body=csv.encode())
    return job_id, key


def opener(aws: LocalAws, key: str, *, pause: float = 0.0) -> Any:
    def open_body() -> Any:
        time.sleep(pause)  # a split still reading while the other event comes
        return boto3.client("s3").get_object(Bucket=aws.physical["UploadBucket"], Key=key)["Body"]

    return open_body


def complete(aws: LocalAws, job_id: str) -> list[int]:
    """Run what the queue holds for the job as its consumer counts it (once per row); the rows queued."""
    sqs, jobs = boto3.client("sqs"), JobStore()
    url = aws.physical["SyncContactQueue"]
    seen: list[int] = []
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            return seen
        for message in messages:
            body = json.loads(message["Body"])
            if body["jobId"] == job_id:
                seen.append(body["row"])
                jobs.record(job_id, body["row"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def s3_event(aws: LocalAws, key: str) -> dict[str, Any]:
    event = json.loads(json.dumps(EVENT))
    event["Records"][0]["s3"]["bucket"]["name"] = aws.physical["UploadBucket"]
    event["Records"][0]["s3"]["object"]["key"] = key
    return event


def test_two_events_for_one_upload_in_turn_split_it_once(aws, upload):
    # Given an uploaded file and the split function
    job_id, key = upload
    split = load().functions["SplitImportFunction"]
    functions = Functions(load())
    # When S3 delivers its event twice, one after the other
    first = functions.invoke(split, s3_event(aws, key))
    second = functions.invoke(split, s3_event(aws, key))
    rows = complete(aws, job_id)
    # Then the second read nothing, and the job counts the file's rows once and completes
    assert first["jobs"][0]["rows"] == ROWS
    assert second["jobs"][0] == {"jobId": job_id, "skipped": "already split"}
    assert sorted(rows) == list(range(2, ROWS + 2))
    job = JobStore().get(job_id)
    assert (job.total, job.succeeded, job.status) == (ROWS, ROWS, "completed")


def test_two_events_for_one_upload_at_once_split_it_once(aws, upload):
    # Given an uploaded file, and two splits started together (the first still reading when the
    # second comes)
    job_id, key = upload
    jobs = JobStore()
    start = threading.Barrier(2)

    def split(pause: float) -> dict[str, Any]:
        start.wait()
        return imports.split_upload(jobs, job_id, opener(aws, key, pause=pause))

    # When both run
    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(split, (0.5, 0.5)))
    rows = complete(aws, job_id)
    # Then one split read the file and the other nothing; the total is the file's rows, and it completes
    assert sorted("rows" in answer for answer in answers) == [False, True]
    assert {answer.get("skipped") for answer in answers} >= {"another split is reading the upload"}
    assert sorted(rows) == list(range(2, ROWS + 2))
    job = jobs.get(job_id)
    assert (job.total, job.succeeded, job.status) == (ROWS, ROWS, "completed")


def test_an_event_while_a_split_holds_the_lease_reads_nothing(aws, upload):
    # Given a split that holds the job's lease
    job_id, key = upload
    jobs = JobStore()
    assert jobs.claim_split(job_id, "running-split", seconds=600)
    # When another event for the upload comes
    answer = imports.split_upload(jobs, job_id, opener(aws, key))
    # Then it reads nothing, queues nothing and counts nothing
    assert answer == {"jobId": job_id, "skipped": "another split is reading the upload"}
    assert complete(aws, job_id) == []
    assert jobs.get(job_id).total == 0


def test_a_crashed_split_is_taken_over_after_its_lease_expired_and_resumes_after_its_rows(aws, upload):
    # Given a split that counted the file's first 30 rows (lines 2-31), then crashed; its lease expired
    job_id, key = upload
    jobs = JobStore()
    assert jobs.claim_split(job_id, "crashed-split", seconds=0)
    jobs.holding("crashed-split").add_rows(job_id, 30, through=31)
    for row in range(2, 32):
        jobs.record(job_id, row)
    # When the next event comes
    answer = imports.split_upload(jobs, job_id, opener(aws, key))
    rows = complete(aws, job_id)
    # Then it takes the split over from line 32 on, and the job completes with the file's rows once
    assert answer["rows"] == ROWS - 30
    assert sorted(rows) == list(range(32, ROWS + 2))
    job = jobs.get(job_id)
    assert (job.total, job.succeeded, job.status) == (ROWS, ROWS, "completed")
    # And the crashed split, were it to wake up, could count nothing more
    with pytest.raises(LeaseLost):
        jobs.holding("crashed-split").add_rows(job_id, 1, through=ROWS + 1)


def test_a_split_that_fails_gives_its_lease_up_for_the_retry(aws, upload):
    # Given a split whose read of the file fails
    job_id, key = upload
    jobs = JobStore()

    def broken() -> Any:
        raise OSError("connection reset")

    with pytest.raises(OSError, match="connection reset"):
        imports.split_upload(jobs, job_id, broken)
    # When S3's retry of the event comes at once
    answer = imports.split_upload(jobs, job_id, opener(aws, key))
    # Then it splits the file
    assert answer["rows"] == ROWS
    assert sorted(complete(aws, job_id)) == list(range(2, ROWS + 2))
