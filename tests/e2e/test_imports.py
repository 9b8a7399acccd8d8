"""Bulk imports end to end on the local run: SQS in moto with the template's event source mappings,
against sandbox providers injecting faults (500s, 429s, timeouts, a consumer dying mid-batch, a
duplicated message). Every row ends exactly once in ``succeeded`` or in ``failed`` with its reason,
and the provider received each successful row once."""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter

import boto3
import pytest

from local.run import Sandboxes

from .conftest import Hub

ROWS = 200


def wait_for(hub: Hub, job_id: str, timeout: float = 180) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = hub.get(f"/imports/{job_id}").json()
        if job["status"] in ("completed", "completedWithErrors"):
            return job
        time.sleep(0.5)
    raise AssertionError(f"the import did not finish: {job}")


def all_failures(hub: Hub, job_id: str) -> list[dict]:
    failures, cursor = [], None
    while True:
        page = hub.get(f"/imports/{job_id}", params={"cursor": cursor} if cursor else None).json()
        failures += page["failures"]
        cursor = page["nextCursor"]
        if cursor is None:
            return failures


def successes_per_email(sandbox, path_suffix: str, method: str = "POST") -> Counter:
    """How many times the provider answered 2xx to a write for each email."""
    return Counter(
        (r.json or {}).get("email") or r.query.get("email") or r.path.rsplit("/", 2)[-2]
        for r in sandbox.requests_to(path_suffix, method)
        if r.status is not None and 200 <= r.status < 300
    )


def inject_chaos(sandbox) -> None:
    """10% 500s, 5% 429s asking for a one-second wait, and a few requests the provider holds past the
    hub's read timeout without acting on them (so a retry is the one that counts)."""
    sandbox.inject(500, times=10_000, probability=0.10)
    sandbox.inject(429, times=10_000, probability=0.05, headers={"Retry-After": "1"})
    sandbox.inject(504, delay=1.5, times=6, probability=0.05)


def test_add_participant_import_survives_faults_and_counts_every_row_once(hub: Hub, sandboxes: Sandboxes):
    # Given 200 rows, 10 of them invalid, and a GrowSurf that fails in every way it can
    tag = uuid.uuid4().hex[:8]
    rows = [{"email": f"bulk-{tag}-{n}@example.com", "firstName": f"N{n}"} for n in range(ROWS)]
    invalid_rows = {5, 50, 77, 120, 199}
    for n in invalid_rows:
        rows[n - 1] = {"email": f"not-an-email-{n}"}
    rows[9] = {"firstName": "no email"}
    invalid_rows.add(10)
    inject_chaos(sandboxes.growsurf)
    # When they are imported
    answer = hub.post("/imports", {"campaign": "demo-growsurf", "operation": "addParticipant", "rows": rows})
    assert answer.status_code == 202, answer.text
    assert answer.json()["total"] == ROWS
    job = wait_for(hub, answer.json()["jobId"])
    sandboxes.growsurf.faults.clear()
    # Then every row has exactly one outcome, the invalid ones failed with the field named
    assert job["total"] == ROWS
    assert job["succeeded"] + job["failed"] == ROWS
    failures = all_failures(hub, job["jobId"])
    assert {f["row"] for f in failures} == invalid_rows
    assert all(f["error"]["code"] == "VALIDATION_ERROR" and f["error"]["details"] for f in failures)
    assert job["succeeded"] == ROWS - len(invalid_rows)
    # And GrowSurf created each valid participant exactly once
    created = successes_per_email(sandboxes.growsurf, "/participant", "POST")
    valid = {r["email"] for i, r in enumerate(rows, start=1) if i not in invalid_rows}
    assert set(created) == valid
    assert set(created.values()) == {1}


def test_convert_import_with_a_duplicated_message_credits_each_referral_once(hub: Hub, sandboxes: Sandboxes):
    # Given a referrer with 150 referred friends at Viral Loops
    tag = uuid.uuid4().hex[:8]
    referrer = f"ref-{tag}@example.com"
    sandboxes.viral_loops.seed_participant(referrer)
    code = sandboxes.viral_loops.participant(referrer)["referralCode"]
    friends = [f"friend-{tag}-{n}@example.com" for n in range(150)]
    for friend in friends:
        sandboxes.viral_loops.seed_participant(friend, referrer=code)
    inject_chaos(sandboxes.viral_loops)
    # When their conversions are imported, and one queued row is delivered twice
    answer = hub.post(
        "/imports", {"campaign": "demo-viral-loops", "operation": "convert", "rows": [{"email": f} for f in friends]}
    )
    assert answer.status_code == 202, answer.text
    duplicate = {
        "jobId": answer.json()["jobId"],
        "row": 3,
        "operation": "convert",
        "campaign": "demo-viral-loops",
        "data": {"email": friends[2]},
    }
    sqs = boto3.client(
        "sqs",
        endpoint_url=hub.aws_endpoint,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    sqs.send_message(
        QueueUrl=sqs.get_queue_url(QueueName="ConvertQueue")["QueueUrl"], MessageBody=json.dumps(duplicate)
    )
    job = wait_for(hub, answer.json()["jobId"])
    sandboxes.viral_loops.faults.clear()
    # Then every row succeeded once, and Viral Loops converted each friend exactly once
    assert (job["total"], job["succeeded"], job["failed"]) == (150, 150, 0), all_failures(hub, job["jobId"])
    converted = successes_per_email(sandboxes.viral_loops, "/participant/convert")
    assert converted == Counter({friend: 1 for friend in friends})
    assert sandboxes.viral_loops.participant(referrer)["referralCount"] == 150


def test_redeem_and_flag_imports_reach_the_provider_once_per_row(hub: Hub, sandboxes: Sandboxes):
    # Given a referrer with 60 pending rewards at Viral Loops
    tag = uuid.uuid4().hex[:8]
    referrer = f"rich-{tag}@example.com"
    sandboxes.viral_loops.seed_participant(referrer)
    rewards = [sandboxes.viral_loops.grant_reward(referrer) for _ in range(60)]
    inject_chaos(sandboxes.viral_loops)
    # When they are redeemed by import, and 60 participants are flagged by another
    redeem = hub.post(
        "/imports",
        {
            "campaign": "demo-viral-loops",
            "operation": "redeem",
            "rows": [{"email": referrer, "rewardId": r["rewardId"], "milestoneId": r["milestoneId"]} for r in rewards],
        },
    )
    suspects = [f"suspect-{tag}-{n}@example.com" for n in range(60)]
    for suspect in suspects:
        sandboxes.viral_loops.seed_participant(suspect)
    flag = hub.post(
        "/imports",
        {
            "campaign": "demo-viral-loops",
            "operation": "flag",
            "rows": [{"email": s, "reason": "same device as 40 others"} for s in suspects],
        },
    )
    redeemed_job = wait_for(hub, redeem.json()["jobId"])
    flagged_job = wait_for(hub, flag.json()["jobId"])
    sandboxes.viral_loops.faults.clear()
    # Then both completed, each reward was redeemed once and each suspect flagged once
    assert (redeemed_job["succeeded"], redeemed_job["failed"]) == (60, 0), redeemed_job
    assert (flagged_job["succeeded"], flagged_job["failed"]) == (60, 0), flagged_job
    redeemed = Counter(
        r.json["rewardId"]
        for r in sandboxes.viral_loops.requests_to("/rewards/redeem", "POST")
        if r.status is not None and r.status < 300
    )
    assert redeemed == Counter({r["rewardId"]: 1 for r in rewards})
    assert successes_per_email(sandboxes.viral_loops, "/participant/flag") == Counter({s: 1 for s in suspects})


def test_csv_sync_contact_import_keeps_every_column_and_reports_broken_rows(hub: Hub, sandboxes: Sandboxes):
    # Given a CSV with a BOM, an unknown column, quoted commas, an empty line and a broken row
    tag = uuid.uuid4().hex[:8]
    lines = ["Email,First Name,Plan,Favourite Colour"]
    for n in range(120):
        lines.append(f'csv-{tag}-{n}@example.com,"Ada, the {n}th",pro,"blue, mostly"')
    lines.insert(40, "")
    lines.insert(60, "broken-row@example.com,x,y,z,too many")
    body = ("\ufeff" + "\r\n".join(lines) + "\r\n").encode("utf-8")
    inject_chaos(sandboxes.loops)
    # When it is imported as text/csv
    answer = hub.request(
        "POST",
        "/imports",
        params={"operation": "syncContact"},
        data=body,
        headers={"Content-Type": "text/csv"},
    )
    assert answer.status_code == 202, answer.text
    job = wait_for(hub, answer.json()["jobId"])
    sandboxes.loops.faults.clear()
    # Then 120 contacts synced and the broken row failed with its line number
    assert (job["total"], job["succeeded"], job["failed"]) == (121, 120, 1), job
    (failure,) = all_failures(hub, job["jobId"])
    assert failure["row"] == 61
    contact = sandboxes.loops.contact(f"csv-{tag}-7@example.com")
    assert contact is not None
    assert (contact["firstName"], contact["plan"], contact["favouriteColour"]) == (
        "Ada, the 7th",
        "pro",
        "blue, mostly",
    )
    updates = successes_per_email(sandboxes.loops, "/contacts/update", "PUT")
    assert set(updates.values()) == {1}
    assert len(updates) == 120


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"campaign": "demo-growsurf", "operation": "teleport", "rows": [{"email": "a@b.co"}]}, "operation"),
        ({"campaign": "demo-growsurf", "operation": "addParticipant", "rows": []}, "rows"),
        ({"operation": "addParticipant", "rows": [{"email": "a@b.co"}]}, "campaign"),
    ],
)
def test_an_import_that_cannot_start_is_refused_naming_the_field(hub: Hub, body, field):
    answer = hub.post("/imports", body)
    assert answer.status_code == 422
    assert answer.json()["error"]["details"][0]["field"] == field


def test_an_import_of_an_operation_the_provider_lacks_is_501(hub: Hub):
    answer = hub.post("/imports", {"campaign": "demo-sparkloop", "operation": "convert", "rows": [{"email": "a@b.co"}]})
    assert answer.status_code == 501


def test_an_unknown_job_is_404(hub: Hub):
    answer = hub.get("/imports/nope")
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "JOB_NOT_FOUND"


def test_a_large_file_goes_through_an_upload_and_is_split_row_by_row(hub: Hub, sandboxes: Sandboxes):
    # Given an upload URL for a sync contact job
    answer = hub.post("/imports/uploads", {"operation": "syncContact"})
    assert answer.status_code == 201, answer.text
    upload = answer.json()
    tag = uuid.uuid4().hex[:8]
    csv = "email,plan\n" + "".join(f"up-{tag}-{n}@example.com,team\n" for n in range(300))
    # When the file is PUT there
    put = hub.session.put(upload["uploadUrl"], data=csv.encode(), headers=upload["headers"], timeout=30)
    assert put.status_code == 200, put.text
    # Then the split queues every row, and all of them sync
    job = wait_for(hub, upload["jobId"])
    assert (job["total"], job["succeeded"], job["failed"]) == (300, 300, 0), job
    assert sandboxes.loops.contact(f"up-{tag}-299@example.com")["plan"] == "team"
