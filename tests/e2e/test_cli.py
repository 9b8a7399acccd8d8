"""The ``hub`` command line, the real ``.venv/bin/hub`` in its own process, against the local run in
another, with the sandbox providers in this one: what the user sees (stdout, stderr, exit code) and
what the providers received.

Most tests use the session's hub. The doctor and dead-letter tests use one of their own
(``ops_hub``): its configuration has a campaign with a wrong key, and its queues redeliver within
seconds, so a row reaches its dead-letter queue while the test waits.
"""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from local.run import Sandboxes, free_port, spawn, stop_spawned

from .conftest import Hub

HUB_BIN = Path(sys.executable).with_name("hub")
WRONG_KEY = "gs-wrong-key-4c1d"


def run_hub(
    target: Hub, *args: str, env: dict[str, str] | None = None, timeout: float = 240
) -> subprocess.CompletedProcess:
    """``hub ARGS`` with the target's URL and key in the environment, as a user would export them."""
    assert HUB_BIN.exists(), f"{HUB_BIN} is missing: `make setup` installs the command line"
    environment = {**os.environ, "HUB_URL": target.url, "HUB_API_KEY": target.api_key, **(env or {})}
    return subprocess.run(  # noqa: S603 (our own command, with the test's arguments)
        [str(HUB_BIN), *args], capture_output=True, text=True, env=environment, timeout=timeout, check=False
    )


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def added(sandboxes: Sandboxes) -> Counter:
    """How many times GrowSurf added each email (answers 2xx to add participant)."""
    return Counter(
        r.json["email"]
        for r in sandboxes.growsurf.requests_to("/participant", "POST")
        if r.status is not None and 200 <= r.status < 300 and isinstance(r.json, dict)
    )


def people(tag: str, count: int, broken: set[int]) -> list[list[str]]:
    """Rows of email, First Name, plan; the rows numbered in ``broken`` (from 1) have no valid email."""
    return [
        [f"no-email-{tag}-{n}" if n in broken else f"cli-{tag}-{n}@example.com", f"Person {n}", "pro"]
        for n in range(1, count + 1)
    ]


# -- hub import ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("upload", ["auto", "always"])
def test_import_shows_progress_and_ends_with_the_right_counts(hub: Hub, sandboxes: Sandboxes, tmp_path, upload):
    # Given a CSV file of 30 people, two of them without a valid email (on lines 6 and 21)
    tag = uuid.uuid4().hex[:8]
    rows = people(tag, 30, broken={5, 20})
    source = write_csv(tmp_path / "people.csv", ["Email", "First Name", "plan"], rows)
    # When it is imported, in the request or through an upload
    done = run_hub(
        hub, "import", str(source), "--campaign", "demo-growsurf", "--upload", upload, "--every", "1", "--poll", "0.5"
    )
    # Then the progress ends with the right counts, and the result names the two failed rows
    progress = [line for line in done.stderr.splitlines() if line.startswith("job ")]
    assert progress, done.stderr
    assert "completedWithErrors: 30/30 rows 100%, 28 succeeded, 2 failed" in progress[-1]
    assert "30 rows: 28 succeeded, 2 failed" in done.stdout
    assert "row 6: VALIDATION_ERROR" in done.stdout and "row 21: VALIDATION_ERROR" in done.stdout
    assert done.returncode == 1
    # And GrowSurf added each of the 28 valid people once
    valid = {row[0] for n, row in enumerate(rows, start=1) if n not in {5, 20}}
    assert added(sandboxes) == Counter(dict.fromkeys(valid, 1))


def test_failed_rows_csv_can_be_fixed_and_reimported_cleanly(hub: Hub, sandboxes: Sandboxes, tmp_path):
    # Given an import whose failed rows were written to a CSV file
    tag = uuid.uuid4().hex[:8]
    source = write_csv(tmp_path / "people.csv", ["Email", "First Name", "plan"], people(tag, 12, broken={3, 9}))
    failed_csv = tmp_path / "failed.csv"
    first = run_hub(hub, "import", str(source), "--campaign", "demo-growsurf", "--failed-csv", str(failed_csv))
    assert first.returncode == 1, first.stderr
    with failed_csv.open(newline="") as handle:
        written = list(csv.reader(handle))
    assert written[0] == ["Email", "First Name", "plan", "hub_error"]
    assert [row[:3] for row in written[1:]] == [
        [f"no-email-{tag}-3", "Person 3", "pro"],
        [f"no-email-{tag}-9", "Person 9", "pro"],
    ]
    assert all(row[3].startswith("VALIDATION_ERROR: ") and "email" in row[3] for row in written[1:])
    # When the user fixes the emails and imports that file as it is
    fixed = [[row[0].replace("no-email-", "fixed-") + "@example.com", *row[1:]] for row in written[1:]]
    write_csv(failed_csv, written[0], fixed)
    sandboxes.growsurf.reset()
    second = run_hub(hub, "import", str(failed_csv), "--campaign", "demo-growsurf")
    # Then the job completes without a failure, and GrowSurf got both people without the error column
    assert second.returncode == 0, second.stdout + second.stderr
    assert "2 rows: 2 succeeded, 0 failed" in second.stdout
    assert added(sandboxes) == Counter({f"fixed-{tag}-3@example.com": 1, f"fixed-{tag}-9@example.com": 1})
    bodies = [r.json for r in sandboxes.growsurf.requests_to("/participant", "POST")]
    assert bodies and all(body["metadata"] == {"plan": "pro"} for body in bodies)


def test_import_json_output_is_one_document_a_script_can_read(hub: Hub, tmp_path):
    # Given a CSV file with one invalid row (line 3)
    tag = uuid.uuid4().hex[:8]
    source = write_csv(tmp_path / "people.csv", ["email", "firstName"], [[f"j-{tag}@example.com", "J"], ["nope", "N"]])
    # When it is imported with --json
    done = run_hub(hub, "import", str(source), "--campaign", "demo-growsurf", "--json")
    # Then stdout is one JSON document: the finished job with every failed row
    job = json.loads(done.stdout)
    assert (job["status"], job["total"], job["succeeded"], job["failed"]) == ("completedWithErrors", 2, 1, 1)
    assert [(f["row"], f["error"]["code"]) for f in job["failures"]] == [(3, "VALIDATION_ERROR")]
    assert done.returncode == 1


def test_jobs_lists_the_latest_import_first_in_json(hub: Hub, tmp_path):
    # Given an import just finished
    source = write_csv(tmp_path / "one.csv", ["email"], [[f"latest-{uuid.uuid4().hex[:8]}@example.com"]])
    job = json.loads(run_hub(hub, "import", str(source), "--campaign", "demo-growsurf", "--json").stdout)
    # When the jobs are listed (the flag after the command works as before it)
    listed = run_hub(hub, "jobs", "--limit", "3", "--json")
    # Then the newest job is that import, with its final counts
    page = json.loads(listed.stdout)
    assert listed.returncode == 0
    newest = page["items"][0]
    assert (newest["jobId"], newest["status"], newest["succeeded"]) == (job["jobId"], "completed", 1)


def test_job_shows_a_finished_job_and_writes_its_failed_rows_from_the_source(hub: Hub, tmp_path):
    # Given an import started without waiting for it
    source = write_csv(tmp_path / "p.csv", ["email"], [["ok-" + uuid.uuid4().hex[:8] + "@example.com"], ["bad"]])
    started = json.loads(
        run_hub(hub, "import", str(source), "--campaign", "demo-growsurf", "--no-wait", "--json").stdout
    )
    # When the job is followed to its end, with its failed rows written from the source file
    failed_csv = tmp_path / "failed.csv"
    done = run_hub(hub, "job", started["jobId"], "--wait", "--source", str(source), "--failed-csv", str(failed_csv))
    # Then it ends with one failed row, written with its reason
    assert done.returncode == 1, done.stderr
    assert "2 rows: 1 succeeded, 1 failed" in done.stdout
    assert failed_csv.read_text().splitlines()[1].startswith("bad,VALIDATION_ERROR: row 3 is invalid")


# -- participants, contacts, errors ---------------------------------------------------------------


def test_participant_shows_what_the_provider_holds(hub: Hub, sandboxes: Sandboxes):
    # Given a participant of the GrowSurf campaign
    email = f"Ada+{uuid.uuid4().hex[:6]}@example.com"
    assert hub.post("/campaigns/demo-growsurf/participants", {"email": email, "firstName": "Ada"}).status_code == 201
    # When it is shown, in words and as JSON
    words = run_hub(hub, "participant", "demo-growsurf", email)
    document = json.loads(run_hub(hub, "participant", "demo-growsurf", email, "--json").stdout)
    # Then both show the participant GrowSurf holds
    held = sandboxes.growsurf.requests_to("/participant", "POST")[0]
    assert words.returncode == 0
    assert words.stdout.startswith(f"{email} (demo-growsurf, growsurf)")
    assert "Ada" in words.stdout and document["referralCode"] in words.stdout
    assert (document["email"].lower(), document["firstName"]) == (email.lower(), "Ada")
    assert held.json["email"] == email


def test_sync_sends_the_contact_and_typed_properties_to_loops(hub: Hub, sandboxes: Sandboxes):
    # Given a contact with a text, a number and a boolean property
    email = f"grace-{uuid.uuid4().hex[:6]}@example.com"
    # When it is synced
    done = run_hub(
        hub,
        "sync",
        email,
        "--first-name",
        "Grace",
        "--property",
        "plan=pro",
        "--property",
        "seats:=3",
        "--property",
        "trial:=false",
    )
    # Then Loops received the upsert with the typed values, and the user is told what was set
    assert done.returncode == 0, done.stderr
    [update] = sandboxes.loops.requests_to("/contacts/update", "PUT")
    assert {k: update.json[k] for k in ("email", "firstName", "plan", "seats", "trial")} == {
        "email": email,
        "firstName": "Grace",
        "plan": "pro",
        "seats": 3,
        "trial": False,
    }
    assert f"Synced {email} to Loops" in done.stdout and "seats = 3" in done.stdout


@pytest.mark.parametrize(
    ("args", "env", "exit_code", "words"),
    [
        (["participant", "no-such-campaign", "x@example.com"], {}, 3, "no campaign named 'no-such-campaign'"),
        (["jobs"], {"HUB_API_KEY": "not-the-key"}, 3, "check --api-key or HUB_API_KEY"),
        (["jobs"], {"HUB_URL": "http://127.0.0.1:{free}"}, 4, "cannot be reached"),
        (["jobs"], {"HUB_API_KEY": ""}, 2, "no API key"),
        (["import", "no-such-file.csv", "--campaign", "demo-growsurf"], {}, 2, "no-such-file.csv is not a file"),
        (["sync", "x@example.com", "--property", "novalue"], {}, 2, "is not key=value"),
        (["sync", "not-an-email"], {}, 3, "email: must be an email address"),
        (["erase", "--campaign", "demo-growsurf"], {}, 2, "nobody to erase"),
        (["erase", "x@example.com", "--campaign", "no-such-campaign"], {}, 3, "no campaign named 'no-such-campaign'"),
    ],
    ids=[
        "refused",
        "wrong-key",
        "unreachable",
        "no-key",
        "no-file",
        "bad-flag",
        "invalid-field",
        "nobody-to-erase",
        "erase-unknown-campaign",
    ],
)
def test_failures_exit_with_the_documented_code_and_say_why(hub: Hub, args, env, exit_code, words):
    # Given a command that cannot succeed
    environment = {name: value.format(free=free_port()) for name, value in env.items()}
    # When it runs
    done = run_hub(hub, *args, env=environment)
    # Then its exit code is the documented one, stderr says why, and nothing lands on stdout
    assert done.returncode == exit_code, done.stderr
    assert words in done.stderr
    assert done.stdout == ""


def test_an_error_with_json_is_a_document_on_stdout(hub: Hub):
    # Given a participant that does not exist
    # When it is asked for with --json
    done = run_hub(hub, "--json", "participant", "demo-growsurf", "nobody-at-all@example.com")
    # Then stdout holds the hub's error document, and the exit code says the hub refused
    document = json.loads(done.stdout)
    assert document["error"]["code"] == "PARTICIPANT_NOT_FOUND"
    assert (document["httpStatus"], document["exitCode"], done.returncode) == (404, 3, 3)


# -- campaigns, participants, erasure, contacts -----------------------------------------------------


def test_campaigns_lists_the_demo_campaigns_with_their_providers(hub: Hub):
    # Given the session's hub, with one demo campaign per provider
    # When the campaigns are listed, in words and as JSON
    words = run_hub(hub, "campaigns")
    listing = json.loads(run_hub(hub, "campaigns", "--json").stdout)
    # Then each has its provider, and only GrowSurf's has the campaign read
    assert words.returncode == 0, words.stderr
    by_name = {item["name"]: item for item in listing["items"]}
    assert {name: item["provider"] for name, item in by_name.items()} == {
        "demo-growsurf": "growsurf",
        "demo-viral-loops": "viral_loops",
        "demo-sparkloop": "sparkloop",
    }
    assert "getCampaign" in by_name["demo-growsurf"]["operations"]
    assert "getCampaign" not in by_name["demo-sparkloop"]["operations"]
    assert re.search(r"^demo-sparkloop +sparkloop +\S", words.stdout, flags=re.MULTILINE), words.stdout


def test_campaign_shows_the_growsurf_reward_catalog(hub: Hub, sandboxes: Sandboxes):
    # Given the GrowSurf campaign
    # When it is shown, in words and as JSON
    words = run_hub(hub, "campaigns", "demo-growsurf")
    campaign = json.loads(run_hub(hub, "campaigns", "demo-growsurf", "--json").stdout)
    # Then it is GrowSurf's campaign with its catalog
    assert words.returncode == 0, words.stderr
    assert (campaign["campaign"], campaign["provider"], campaign["name"]) == (
        "demo-growsurf",
        "growsurf",
        sandboxes.growsurf.campaign_name,
    )
    [reward] = campaign["rewards"]
    assert reward["conversionsRequired"] == sandboxes.growsurf.reward_every
    assert words.stdout.startswith("demo-growsurf (growsurf)")
    assert "Rewards:" in words.stdout and reward["id"] in words.stdout


def test_a_campaign_of_a_provider_without_a_campaign_read_is_501(hub: Hub):
    # Given the SparkLoop campaign / When it is shown
    done = run_hub(hub, "campaigns", "demo-sparkloop")
    # Then the hub's 501 is told, with the exit code of a 5xx, and nothing lands on stdout
    assert done.returncode == 4, done.stderr
    assert "501 UNSUPPORTED_OPERATION" in done.stderr
    assert done.stdout == ""


def test_participants_all_lists_every_participant_once(hub: Hub, sandboxes: Sandboxes):
    # Given 45 participants in the GrowSurf campaign
    tag = uuid.uuid4().hex[:8]
    emails = [f"page-{tag}-{n}@example.com" for n in range(45)]
    sandboxes.growsurf.seed_participants({"email": email} for email in emails)
    # When every page of 20 is listed as JSON
    done = run_hub(hub, "participants", "demo-growsurf", "--limit", "20", "--all", "--json")
    # Then each participant is there once, and GrowSurf was read page by page
    document = json.loads(done.stdout)
    assert done.returncode == 0, done.stderr
    assert Counter(p["email"] for p in document["items"]) == Counter(dict.fromkeys(emails, 1))
    assert document["nextCursor"] is None
    assert len(sandboxes.growsurf.requests_to("/participants", "GET")) >= 3


def test_participants_pages_on_with_the_cursor_it_prints(hub: Hub, sandboxes: Sandboxes):
    # Given three participants
    tag = uuid.uuid4().hex[:8]
    emails = [f"cursor-{tag}-{n}@example.com" for n in range(3)]
    sandboxes.growsurf.seed_participants({"email": email} for email in emails)
    # When a page of two is listed, then the page its last line names
    first = run_hub(hub, "participants", "demo-growsurf", "--limit", "2")
    more = re.search(r"^More: hub participants demo-growsurf --cursor (\S+)$", first.stdout, flags=re.MULTILINE)
    assert first.returncode == 0 and more is not None, first.stdout + first.stderr
    second = json.loads(run_hub(hub, "participants", "demo-growsurf", "--cursor", more.group(1), "--json").stdout)
    # Then the two pages hold the three participants between them
    shown = [line.split()[0] for line in first.stdout.splitlines()[1:3]]
    assert sorted(shown + [p["email"] for p in second["items"]]) == sorted(emails)


def test_erase_deletes_the_participant_and_the_contact(hub: Hub, sandboxes: Sandboxes):
    # Given a GrowSurf participant who is also a Loops contact
    email = f"erase-{uuid.uuid4().hex[:8]}@example.com"
    assert hub.post("/campaigns/demo-growsurf/participants", {"email": email}).status_code == 201
    sandboxes.loops.seed_contact(email, firstName="Ada")
    # When they are erased
    done = run_hub(hub, "erase", email, "--campaign", "demo-growsurf")
    # Then both are gone, and the user is told where each was deleted
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{email}: participant deleted from demo-growsurf; Loops contact deleted" in done.stdout
    assert len(sandboxes.growsurf.requests_to(f"/participant/{email}", "DELETE")) == 1
    assert sandboxes.loops.contact(email) is None
    with pytest.raises(KeyError):
        sandboxes.growsurf.participant(email)


def test_erase_of_a_participant_gone_already_still_deletes_the_contact(hub: Hub, sandboxes: Sandboxes):
    # Given a Loops contact whose participant was deleted before (an erasure whose Loops call failed)
    email = f"half-{uuid.uuid4().hex[:8]}@example.com"
    sandboxes.loops.seed_contact(email, firstName="Bob")
    # When the erasure is sent again
    done = run_hub(hub, "erase", email, "--campaign", "demo-growsurf", "--json")
    # Then the contact is deleted and the participant reported as not there
    [result] = json.loads(done.stdout)["results"]
    assert done.returncode == 0, done.stderr
    assert (result["deleted"], result["contactDeleted"]) == (False, True)
    assert sandboxes.loops.contact(email) is None


def test_erase_of_nobody_fails_that_email(hub: Hub):
    # Given an email that is neither a participant nor a contact
    email = f"nobody-{uuid.uuid4().hex[:8]}@example.com"
    # When it is erased
    done = run_hub(hub, "erase", email, "--campaign", "demo-growsurf")
    # Then that email failed with the hub's 404, and the exit code says not everything succeeded
    assert done.returncode == 1, done.stderr
    assert f"{email}: failed: " in done.stdout and "(HTTP 404)" in done.stdout


def test_erase_of_a_file_is_one_job_that_deletes_everyone(hub: Hub, sandboxes: Sandboxes, tmp_path):
    # Given three GrowSurf participants who are Loops contacts, listed in a CSV file
    tag = uuid.uuid4().hex[:8]
    emails = [f"leaver-{tag}-{n}@example.com" for n in range(3)]
    for email in emails:
        sandboxes.growsurf.seed_participant(email)
        sandboxes.loops.seed_contact(email)
    source = write_csv(tmp_path / "leavers.csv", ["Name", "Email"], [[f"P{n}", e] for n, e in enumerate(emails)])
    # When they are erased
    done = run_hub(hub, "erase", "--file", str(source), "--campaign", "demo-growsurf", "--json", "--poll", "0.5")
    # Then one job deleted each participant once and each contact
    document = json.loads(done.stdout)
    assert done.returncode == 0, done.stderr
    assert document["jobId"] and (document["total"], document["succeeded"], document["failed"]) == (3, 3, 0)
    for email in emails:
        assert len(sandboxes.growsurf.requests_to(f"/participant/{email}", "DELETE")) == 1
        assert sandboxes.loops.contact(email) is None
    listed = json.loads(run_hub(hub, "jobs", "--limit", "1", "--json").stdout)["items"][0]
    assert (listed["jobId"], listed["operation"]) == (document["jobId"], "deleteParticipant")


def test_contact_shows_then_deletes_the_loops_contact(hub: Hub, sandboxes: Sandboxes):
    # Given a Loops contact with a property
    email = f"contact-{uuid.uuid4().hex[:8]}@example.com"
    sandboxes.loops.seed_contact(email, firstName="Grace", plan="pro")
    # When it is shown, deleted, and asked for again
    shown = run_hub(hub, "contact", email)
    document = json.loads(run_hub(hub, "contact", email, "--json").stdout)
    deleted = run_hub(hub, "contact", email, "--delete")
    again = run_hub(hub, "contact", email)
    # Then it was shown as Loops holds it, deleted there, and is then unknown (exit code 3)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith(f"{email} (Loops contact)") and "Grace" in shown.stdout
    assert document["email"] == email
    assert (deleted.returncode, deleted.stdout) == (0, f"Deleted the Loops contact {email}.\n")
    assert sandboxes.loops.contact(email) is None
    assert again.returncode == 3 and "CONTACT_NOT_FOUND" in again.stderr


# -- a hub of our own: doctor and dead letters --------------------------------------------------------


@pytest.fixture(scope="module")
def ops_hub(sandboxes: Sandboxes, hub_log: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    """A local run with a GrowSurf campaign whose key is wrong, and queues that redeliver in seconds."""
    config = tmp_path_factory.mktemp("ops") / "hub.toml"
    config.write_text(
        sandboxes.config()
        + f'[campaigns.wrong-key]\nprovider = "growsurf"\ncampaign_id = "{sandboxes.growsurf.campaign_id}"\n'
        + f'key = {{ value = "{WRONG_KEY}" }}\n'
    )
    env = {
        "HUB_CONFIG": str(config),
        **sandboxes.environment(),
        "HUB_HTTP_ATTEMPTS": "1",
        "HUB_HTTP_BUDGET_SECONDS": "2",
        "HUB_AWS_PORT": str(free_port()),
        "HUB_CONTROL_PORT": str(free_port()),
        "HUB_PARAMETER_OVERRIDES": (
            "ImportConsumerTimeoutSeconds=5 ImportQueueVisibilitySeconds=5 ImportConsumerConcurrency=2"
            " StatsSyncState=DISABLED PendingRewardsState=DISABLED"
        ),
    }
    key = "e2e-ops-hub-key-93a0"
    process, url = spawn(env, hub_log, key)
    yield Hub(url, key, hub_log, requests.Session(), f"http://127.0.0.1:{env['HUB_AWS_PORT']}")
    stop_spawned(process)


def test_doctor_reports_a_wrong_key_as_wrong(ops_hub: Hub, sandboxes: Sandboxes):
    # Given a hub with the demo campaigns and a GrowSurf campaign whose key GrowSurf refuses
    # When the doctor runs, in words and as JSON
    words = run_hub(ops_hub, "doctor")
    report = json.loads(run_hub(ops_hub, "doctor", "--json").stdout)
    # Then the wrong key is the one problem, said in words that tell what to do, and the exit code is 1
    assert words.returncode == 1
    [line] = [line for line in words.stdout.splitlines() if "campaign wrong-key" in line]
    assert line.startswith("problem") and "GrowSurf refused the key (from inline value): put a GrowSurf API key" in line
    assert "1 problem(s) to fix" in words.stdout
    statuses = {check["check"]: check["status"] for check in report["checks"]}
    assert report["ok"] is False
    assert statuses["campaign wrong-key"] == "problem"
    assert [name for name, status in statuses.items() if status == "problem"] == ["campaign wrong-key"]
    # And GrowSurf was asked with that key, which appears in no output nor log
    refused = [r for r in sandboxes.growsurf.received if r.header("Authorization") == f"Bearer {WRONG_KEY}"]
    assert refused and all(r.status == 401 for r in refused)
    assert WRONG_KEY not in words.stdout + words.stderr + json.dumps(report) + ops_hub.log_path.read_text(
        errors="replace"
    )


def wait_for_reasons(target: Hub, emails: list[str], timeout: float = 90) -> dict[str, Any]:
    """The add participant dead letters, once each of ``emails`` has one with its reason.

    The consumer puts a row there with its reason on its last delivery. On a slow machine SQS may also
    move the original message after the consumer ran out of time: that copy has no reason.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        listing = json.loads(run_hub(target, "dlq", "--operation", "addParticipant", "--json").stdout)
        [queue] = listing["queues"]
        if {m["email"] for m in queue["messages"] if m["errorCode"]} == set(emails):
            return queue
        time.sleep(1)
    raise AssertionError(f"the dead-letter queue did not get every row with its reason: {listing}")


def test_dead_letters_are_listed_then_redriven_until_the_job_succeeds(ops_hub: Hub, sandboxes: Sandboxes, tmp_path):
    # Given three rows imported while GrowSurf is down, given up on after their last delivery
    tag = uuid.uuid4().hex[:8]
    emails = [f"dlq-{tag}-{n}@example.com" for n in range(3)]
    source = write_csv(tmp_path / "down.csv", ["email"], [[email] for email in emails])
    sandboxes.growsurf.inject(503, times=100_000)
    imported = run_hub(ops_hub, "import", str(source), "--campaign", "demo-growsurf", "--json", timeout=180)
    job = json.loads(imported.stdout)
    assert (imported.returncode, job["failed"]) == (1, 3), imported.stderr
    assert {f["error"]["code"] for f in job["failures"]} == {"PROVIDER_UNAVAILABLE"}
    # When the dead-letter queues are listed
    queue = wait_for_reasons(ops_hub, emails)
    words = run_hub(ops_hub, "dlq", "--operation", "addParticipant")
    # Then each row is there with its job and reason
    reasons = {(m["jobId"], m["row"], m["email"], m["errorCode"]) for m in queue["messages"] if m["errorCode"]}
    assert reasons == {(job["jobId"], n + 2, email, "PROVIDER_UNAVAILABLE") for n, email in enumerate(emails)}
    assert f"job {job['jobId']} row 2 {emails[0]}: PROVIDER_UNAVAILABLE" in words.stdout
    # When GrowSurf is back and the dead letters are redriven
    sandboxes.growsurf.faults.clear()
    redriven = run_hub(ops_hub, "dlq", "redrive")
    followed = run_hub(ops_hub, "job", job["jobId"], "--wait", "--json", "--poll", "0.5")
    # Then all three moved back, the same job completes without failures, and GrowSurf added each once
    assert redriven.returncode == 0, redriven.stderr
    # Three, or more if SQS also moved copies (see wait_for_reasons); all from the add participant queue.
    moved = re.search(r"Moved (\d+) message\(s\) back to their queues: addParticipant (\d+)\.", redriven.stdout)
    assert moved is not None and moved.group(1) == moved.group(2) and int(moved.group(1)) >= 3, redriven.stdout
    finished = json.loads(followed.stdout)
    assert (finished["status"], finished["succeeded"], finished["failed"], followed.returncode) == (
        "completed",
        3,
        0,
        0,
    )
    assert added(sandboxes) == Counter(dict.fromkeys(emails, 1))
    assert json.loads(run_hub(ops_hub, "dlq", "--json").stdout)["total"] == 0
