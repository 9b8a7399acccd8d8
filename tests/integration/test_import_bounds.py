"""POST /imports is bounded and idempotent on its key: a request past the row or byte cap is refused
with a 413 naming the uploads route before anything is queued, and a keyed import retried after its
idempotency record is gone is the same job, whose rows reach the provider once."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import boto3
import pytest

from hub.aws.jobs import JobStore
from hub.domain import operations
from hub.flows import imports
from hub.flows.bulk import OPERATIONS, JobRows
from local.template import ROOT, load

from .test_operator_routes import Stack, make_stack  # noqa: F401  (the fixture)

EVENTS = ROOT / "events"


@pytest.fixture
def stack(request: pytest.FixtureRequest) -> Stack:
    """A stack of the sandboxes' demo campaigns (``make_stack`` of the operator routes' tests)."""
    made: Stack = request.getfixturevalue("make_stack")()
    return made


def import_event(body: str, *, content_type: str, key: str | None, query: dict[str, str] | None = None) -> Any:
    event = json.loads((EVENTS / "api_create_import_json.json").read_text())
    headers = {"Content-Type": content_type, **({"Idempotency-Key": key} if key else {})}
    event["headers"] = headers
    event["multiValueHeaders"] = {name: [value] for name, value in headers.items()}
    event["queryStringParameters"] = query
    event["multiValueQueryStringParameters"] = {k: [v] for k, v in query.items()} if query else None
    event["body"] = body
    return event


def call(stack: Stack, event: dict[str, Any]) -> tuple[int, Any]:
    fn = next(fn for route, fn in load().routes() if (route.method, route.path) == ("POST", "/imports"))
    answer = stack.functions.invoke(fn, event)
    return answer["statusCode"], json.loads(answer["body"])


def queued(stack: Stack, queue: str) -> int:
    attributes = boto3.client("sqs").get_queue_attributes(
        QueueUrl=stack.physical[queue], AttributeNames=["ApproximateNumberOfMessages"]
    )
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


def job_items(stack: Stack) -> list[dict[str, Any]]:
    return boto3.client("dynamodb").scan(TableName=stack.physical["JobsTable"])["Items"]


def drain(stack: Stack, queue: str) -> None:
    while queued(stack, queue):
        stack.consume(queue, receive_count=1)


def assert_refused_naming_the_uploads(status: int, body: dict[str, Any], field: str) -> None:
    assert status == 413, body
    error = body["error"]
    assert error["code"] == "IMPORT_TOO_LARGE"
    assert "POST /imports/uploads" in error["message"]
    assert error["details"] == [
        {"field": field, "reason": error["details"][0]["reason"], "use": "POST /imports/uploads"}
    ]


def test_a_csv_body_past_the_row_cap_answers_413_naming_the_uploads_route_and_queues_nothing(stack):
    # Given a stack, and a CSV body of one row more than a request may carry
    csv = "email\n" + "".join(f"row-{n}@example.com\n" for n in range(imports.MAX_ROWS + 1))
    event = import_event(csv, content_type="text/csv", key=None, query={"operation": "syncContact"})
    # When it is posted
    status, body = call(stack, event)
    # Then it is refused as too large, naming the uploads route, and no job nor row exists
    assert_refused_naming_the_uploads(status, body, "rows")
    assert job_items(stack) == []
    assert queued(stack, "SyncContactQueue") == 0


def test_a_json_body_past_the_byte_cap_answers_413_and_queues_nothing(stack):
    # Given a JSON body of two rows whose size passes the byte cap
    rows = [{"email": "ada@example.com", "properties": {"notes": "x" * (imports.MAX_BODY_BYTES // 2)}}] * 2
    body = json.dumps({"operation": "syncContact", "rows": rows})
    # When it is posted
    status, answer = call(stack, import_event(body, content_type="application/json", key="too-big-1"))
    # Then it is refused as too large, and nothing was started
    assert_refused_naming_the_uploads(status, answer, "body")
    assert job_items(stack) == []
    assert queued(stack, "SyncContactQueue") == 0


def test_json_rows_at_the_cap_are_taken_and_one_more_is_refused(stack, monkeypatch):
    # Given a cap of three rows
    monkeypatch.setattr(imports, "MAX_ROWS", 3)
    rows = [{"email": f"cap-{n}@example.com"} for n in range(4)]
    # When three rows are posted, then four
    at_cap = call(
        stack,
        import_event(
            json.dumps({"operation": "syncContact", "rows": rows[:3]}), content_type="application/json", key=None
        ),
    )
    past_cap = call(
        stack,
        import_event(json.dumps({"operation": "syncContact", "rows": rows}), content_type="application/json", key=None),
    )
    # Then the three are a job, the four a 413 naming the rows
    assert at_cap[0] == 202 and at_cap[1]["total"] == 3
    assert_refused_naming_the_uploads(*past_cap, "rows")
    assert queued(stack, "SyncContactQueue") == 3


def test_the_caps_are_the_ones_the_openapi_description_and_the_docs_name():
    # Given the caps of the code
    rows, megabytes = f"{imports.MAX_ROWS:,} rows", f"{imports.MAX_BODY_BYTES // 1_000_000} MB"
    # When the OpenAPI summary of POST /imports and docs/imports.md are read
    summary = operations.OPERATIONS["createImport"].summary
    docs = (ROOT / "docs" / "imports.md").read_text()
    # Then both name them, and the uploads route
    assert f"{rows} and {megabytes}" in summary and "POST /imports/uploads" in summary
    assert f"at most {rows} and {megabytes}" in docs


def add_body(rows: list[dict[str, Any]]) -> str:
    return json.dumps({"campaign": "demo-growsurf", "operation": "addParticipant", "rows": rows})


def forget_import_records(stack: Stack) -> None:
    """What the expiry of every idempotency record leaves (an in-progress one included)."""
    dynamodb = boto3.client("dynamodb")
    table = stack.physical["IdempotencyTable"]
    for item in dynamodb.scan(TableName=table)["Items"]:
        dynamodb.delete_item(TableName=table, Key={"id": item["id"]})


def created_per_email(stack: Stack) -> Counter:
    return Counter(
        (r.json or {}).get("email")
        for r in stack.sandboxes.growsurf.requests_to("/participant", "POST")
        if r.status is not None and 200 <= r.status < 300
    )


def test_a_keyed_import_retried_after_its_record_is_gone_is_the_same_job_and_reaches_the_provider_once(stack):
    # Given a keyed import of five rows (one invalid) that answered 202
    rows = [{"email": f"keyed-{n}@example.com"} for n in range(4)] + [{"email": "not-an-email"}]
    event = import_event(add_body(rows), content_type="application/json", key="import-retried-1")
    first = call(stack, event)
    assert first[0] == 202, first
    # When its idempotency record is gone and the same request is sent again
    forget_import_records(stack)
    second = call(stack, event)
    drain(stack, "AddParticipantQueue")
    # Then it is the same job with the same answer, completed once, and GrowSurf created each row once
    assert second == first
    assert first[1]["total"] == 5 and first[1]["failed"] == 1
    job = JobStore().get(first[1]["jobId"])
    assert (job.status, job.total, job.succeeded, job.failed) == ("completedWithErrors", 5, 4, 1)
    assert created_per_email(stack) == Counter({row["email"]: 1 for row in rows[:4]})


def test_a_keyed_import_whose_first_attempt_died_midway_goes_on_after_the_rows_it_counted(stack):
    # Given the job a first attempt left when it died: rows 1-3 counted and queued, row 4 queued only
    rows = [{"email": f"midway-{n}@example.com"} for n in range(6)]
    body = add_body(rows)
    jobs, operation = JobStore(), OPERATIONS["addParticipant"]
    job_id, existing = imports.keyed_job(
        jobs, "demo-growsurf", operation, key="import-midway-1", route="import", request=json.loads(body)
    )
    assert existing is None
    writer = JobRows(jobs, job_id, operation)
    for number, row in enumerate(rows[:3], start=1):
        writer.add(number, "demo-growsurf", row)
    writer.settle()
    writer.add(4, "demo-growsurf", rows[3])
    writer.flush()
    # When the request is retried (its idempotency record expired with the dead invocation)
    status, answer = call(stack, import_event(body, content_type="application/json", key="import-midway-1"))
    drain(stack, "AddParticipantQueue")
    # Then it answers that job with every row, and each row reached GrowSurf once
    assert status == 202 and (answer["jobId"], answer["total"], answer["failed"]) == (job_id, 6, 0)
    job = jobs.get(job_id)
    assert (job.status, job.total, job.succeeded) == ("completed", 6, 6)
    assert created_per_email(stack) == Counter({row["email"]: 1 for row in rows})


def test_a_key_used_again_for_other_rows_after_its_record_is_gone_is_refused(stack):
    # Given a keyed import that answered 202, whose idempotency record is gone
    key = "import-reused-1"
    first = call(
        stack, import_event(add_body([{"email": "one@example.com"}]), content_type="application/json", key=key)
    )
    assert first[0] == 202
    forget_import_records(stack)
    # When the key is sent with other rows
    status, answer = call(
        stack, import_event(add_body([{"email": "two@example.com"}]), content_type="application/json", key=key)
    )
    # Then it is refused as a reused key, and nothing more was queued
    assert status == 409 and answer["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert queued(stack, "AddParticipantQueue") == 1


@pytest.mark.parametrize("key", [None, "upload-key-1"])
def test_an_upload_job_is_named_by_its_key_when_it_has_one(stack, key):
    # Given a stack
    assert stack.physical
    jobs, operation = JobStore(), OPERATIONS["syncContact"]
    # When the same upload request makes its job twice
    first, _ = imports.keyed_job(jobs, None, operation, key=key, route="importUpload", request={"a": 1})
    second, existing = imports.keyed_job(jobs, None, operation, key=key, route="importUpload", request={"a": 1})
    # Then with a key it is one job, without one two
    assert (first == second) is (key is not None)
    assert (existing is not None) is (key is not None)
