"""The bounds of POST /imports on the local run: a file past the row cap is refused with a 413 that
``hub import`` answers by uploading it, and a keyed import retried after its idempotency record is
gone is the same job, whose rows reach the provider once."""

from __future__ import annotations

import uuid
from collections import Counter

import boto3

from hub.flows.imports import MAX_ROWS
from local.run import Sandboxes

from .conftest import Hub
from .test_cli import run_hub
from .test_imports import successes_per_email, wait_for


def test_a_csv_body_past_the_row_cap_is_refused_naming_the_uploads_route(hub: Hub):
    # Given a CSV body of one row more than a request may carry
    tag = uuid.uuid4().hex[:8]
    csv = "email\n" + "".join(f"cap-{tag}-{n}@example.com\n" for n in range(MAX_ROWS + 1))
    # When it is posted
    answer = hub.request(
        "POST",
        "/imports",
        params={"operation": "syncContact"},
        data=csv.encode(),
        headers={"Content-Type": "text/csv"},
    )
    # Then it is a 413 naming the uploads route, and no job was started
    assert answer.status_code == 413, answer.text
    assert answer.json()["error"]["code"] == "IMPORT_TOO_LARGE"
    assert "POST /imports/uploads" in answer.json()["error"]["message"]
    listed = hub.get("/imports", params={"limit": "5"}).json()["items"]
    assert all(job["total"] != MAX_ROWS + 1 for job in listed)


def test_hub_import_of_a_small_file_past_the_row_cap_falls_back_to_an_upload(hub: Hub, sandboxes: Sandboxes, tmp_path):
    # Given a file small enough to go in a request (under 256 KB) but of more rows than one may carry;
    # its rows fail up front (no valid email), so the test loads no provider
    tag = uuid.uuid4().hex[:6]
    source = tmp_path / "many.csv"
    source.write_text("email\n" + "".join(f"bad-{tag}-{n}\n" for n in range(MAX_ROWS + 1)))
    assert source.stat().st_size < 256 * 1024
    # When it is imported with the default upload choice
    done = run_hub(hub, "import", str(source), "--operation", "syncContact", "--quiet", "--poll", "1", timeout=300)
    # Then the 413 sent it through an upload, whose job read every row (each failing as invalid)
    assert "Uploading many.csv" in done.stdout + done.stderr, done.stdout + done.stderr
    assert f"{MAX_ROWS + 1:,} rows: 0 succeeded, {MAX_ROWS + 1:,} failed" in done.stdout, done.stdout
    assert done.returncode == 1
    # (other tests' rows may still reach Loops meanwhile: none of this file's did)
    updated = [r.json.get("email", "") for r in sandboxes.loops.requests_to("/contacts/update", "PUT")]
    assert not [address for address in updated if f"-{tag}-" in str(address)]


def forget_record_of(hub: Hub, job_id: str) -> None:
    """Delete the idempotency record whose stored answer names ``job_id``, as its expiry would."""
    dynamodb = boto3.client(
        "dynamodb",
        endpoint_url=hub.aws_endpoint,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    gone = 0
    for page in dynamodb.get_paginator("scan").paginate(TableName="IdempotencyTable"):
        for item in page["Items"]:
            if job_id in str(item.get("data", {}).get("S", "")):
                dynamodb.delete_item(TableName="IdempotencyTable", Key={"id": item["id"]})
                gone += 1
    assert gone == 1


def test_a_keyed_import_retried_after_its_record_is_gone_is_the_same_job_once(hub: Hub, sandboxes: Sandboxes):
    # Given a keyed import of 40 participants that ran to the end
    tag = uuid.uuid4().hex[:8]
    rows = [{"email": f"again-{tag}-{n}@example.com"} for n in range(40)]
    body = {"campaign": "demo-growsurf", "operation": "addParticipant", "rows": rows}
    key = {"Idempotency-Key": f"import-{tag}"}
    first = hub.post("/imports", body, headers=key)
    assert first.status_code == 202, first.text
    wait_for(hub, first.json()["jobId"])
    # When its idempotency record is gone and the request is sent again
    forget_record_of(hub, first.json()["jobId"])
    second = hub.post("/imports", body, headers=key)
    # Then it answers the same job, which stays complete with each row once at GrowSurf
    assert second.status_code == 202, second.text
    assert "Idempotent-Replayed" not in second.headers
    assert second.json() == first.json()
    job = wait_for(hub, second.json()["jobId"])
    assert (job["total"], job["succeeded"], job["failed"]) == (40, 40, 0)
    created = successes_per_email(sandboxes.growsurf, "/participant", "POST")
    assert Counter({row["email"]: created[row["email"]] for row in rows}) == Counter({row["email"]: 1 for row in rows})
