"""Keys stored the way operators store them (a trailing line break, surrounding spaces) work, keys
that cannot be keys are refused naming where they live, and no key reaches anything the hub puts out:
API answers, a job's failed rows, log lines and metric lines, whatever the failure.

The hub here is a local run of its own, with its keys in its Secrets Manager and SSM (moto), in the
shapes ``aws secretsmanager create-secret --secret-string file://key.txt`` leaves them. Each test
scans what it got back and what the hub wrote to its log meanwhile.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import pytest
import requests

from local.run import Sandboxes, free_port, spawn, stop_spawned
from local.template import ROOT

from .conftest import Hub

API_KEY = "padded-hub-api-key-0d9e"
GROWSURF_KEY = "gs-padded-key-7c41aa"
LOOPS_KEY = "loops-padded-key-52b0ff"
SPARKLOOP_KEY = "sl-padded-key-9e13cc"
# Keys that stay invalid once stripped: a line break and a space inside.
BROKEN_VIRAL_LOOPS_KEY = "vl-first-half-3a1f\nvl-second-half-88c2"
SPACED_KEY = "gs-spaced-key-c0ffee 61d2"
SECRETS = [
    GROWSURF_KEY,
    LOOPS_KEY,
    SPARKLOOP_KEY,
    *BROKEN_VIRAL_LOOPS_KEY.split("\n"),
    *SPACED_KEY.split(" "),
    API_KEY,
]


@dataclass
class PaddedHub:
    hub: Hub
    sandboxes: Sandboxes
    answers: list[str] = field(default_factory=list)

    def call(self, method: str, path: str, **kwargs) -> requests.Response:
        response = self.hub.request(method, path, **kwargs)
        self.answers.append(f"{response.status_code} {dict(response.headers)} {response.text}")
        return response

    def log_size(self) -> int:
        return self.hub.log_path.stat().st_size if self.hub.log_path.exists() else 0

    def output_since(self, offset: int) -> str:
        """Everything the hub answered, and logged after ``offset``, for a scan."""
        with self.hub.log_path.open("rb") as log:
            log.seek(offset)
            logged = log.read().decode("utf-8", errors="replace")
        return logged + "\n".join(self.answers)


def leaked(text: str) -> list[str]:
    return [secret for secret in SECRETS if secret in text]


def _aws(hub: Hub, service: str):
    return boto3.client(
        service,
        endpoint_url=hub.aws_endpoint,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


def _config(sandboxes: Sandboxes) -> str:
    return f"""
[campaigns.padded-growsurf]
provider = "growsurf"
campaign_id = "{sandboxes.growsurf.campaign_id}"
key = {{ secret = "hub/growsurf" }}

[campaigns.padded-sparkloop]
provider = "sparkloop"
campaign_id = "{sandboxes.sparkloop.campaign_id}"
key = {{ value = "  {SPARKLOOP_KEY} \\n" }}

[campaigns.broken-viral-loops]
provider = "viral_loops"
campaign_id = "{sandboxes.viral_loops.campaign_id}"
key = {{ secret = "hub/viral-loops" }}

[campaigns.spaced-growsurf]
provider = "growsurf"
campaign_id = "{sandboxes.growsurf.campaign_id}"
key = {{ secret = "hub/spaced", field = "apiKey" }}

[campaigns.null-growsurf]
provider = "growsurf"
campaign_id = "{sandboxes.growsurf.campaign_id}"
key = {{ secret = "hub/null", field = "apiKey" }}

[contacts]
provider = "loops"
key = {{ parameter = "/hub/loops" }}

[providers.growsurf]
rate_limit = {{ requests = 500, per_seconds = 1 }}
"""


@pytest.fixture(scope="module")
def padded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PaddedHub]:
    sandboxes = Sandboxes()
    sandboxes.growsurf.api_key = GROWSURF_KEY
    sandboxes.loops.api_key = LOOPS_KEY
    sandboxes.sparkloop.api_key = SPARKLOOP_KEY
    sandboxes.start()
    config = tmp_path_factory.mktemp("padded") / "hub.toml"
    config.write_text(_config(sandboxes))
    log_path: Path = tmp_path_factory.mktemp("padded-log") / "hub.log"
    aws_port, control_port = free_port(), free_port()
    env = {
        "HUB_CONFIG": str(config),
        **sandboxes.environment(),
        # SparkLoop's base URL is a closed port: every SparkLoop call meets a refused connection.
        "SPARKLOOP_API_URL": f"http://127.0.0.1:{free_port()}/v1",
        "HUB_HTTP_READ_TIMEOUT_SECONDS": "1",
        "HUB_HTTP_BUDGET_SECONDS": "4",
        "POWERTOOLS_LOG_LEVEL": "DEBUG",
        "HUB_AWS_PORT": str(aws_port),
        "HUB_CONTROL_PORT": str(control_port),
        "HUB_PARAMETER_OVERRIDES": (
            "ImportConsumerTimeoutSeconds=15 ImportQueueVisibilitySeconds=18 ImportConsumerConcurrency=2"
            " StatsSyncState=DISABLED PendingRewardsState=DISABLED"
        ),
    }
    process, url = spawn(env, log_path, API_KEY)
    hub = Hub(
        url, API_KEY, log_path, requests.Session(), f"http://127.0.0.1:{aws_port}", f"http://127.0.0.1:{control_port}"
    )
    secrets = _aws(hub, "secretsmanager")
    # What --secret-string file://key.txt stores: the file's content, last line break included.
    secrets.create_secret(Name="hub/growsurf", SecretString=GROWSURF_KEY + "\n")
    secrets.create_secret(Name="hub/viral-loops", SecretString=BROKEN_VIRAL_LOOPS_KEY + "\n")
    secrets.create_secret(Name="hub/spaced", SecretString=json.dumps({"apiKey": SPACED_KEY}))
    secrets.create_secret(Name="hub/null", SecretString=json.dumps({"apiKey": None}))
    _aws(hub, "ssm").put_parameter(Name="/hub/loops", Value=f"  {LOOPS_KEY}\r\n", Type="SecureString")
    yield PaddedHub(hub, sandboxes)
    stop_spawned(process)
    sandboxes.stop()


@pytest.fixture(autouse=True)
def _fresh(padded: PaddedHub) -> None:
    for sandbox in padded.sandboxes.all.values():
        sandbox.reset()
    padded.answers.clear()


def test_a_key_stored_with_a_trailing_line_break_is_sent_without_it(padded):
    # Given GrowSurf's key stored in Secrets Manager as a file's content, line break included
    offset = padded.log_size()
    # When a participant is added to its campaign
    answer = padded.call("POST", "/campaigns/padded-growsurf/participants", json={"email": "ada@example.com"})
    # Then GrowSurf took it, having received the key alone, and nothing put the key out
    assert answer.status_code == 201, answer.text
    received = padded.sandboxes.growsurf.requests_to("/participant", "POST")
    assert [r.headers["Authorization"] for r in received] == [f"Bearer {GROWSURF_KEY}"]
    assert leaked(padded.output_since(offset)) == []


def test_a_contact_store_key_padded_in_ssm_is_sent_without_the_padding(padded):
    # Given the Loops key in SSM with spaces before it and a CRLF after it
    offset = padded.log_size()
    # When a contact is synced
    answer = padded.call("POST", "/contacts/sync", json={"email": "ada@example.com"})
    # Then Loops took it with the bare key
    assert answer.status_code == 200, answer.text
    assert {r.headers["Authorization"] for r in padded.sandboxes.loops.received} == {f"Bearer {LOOPS_KEY}"}
    assert leaked(padded.output_since(offset)) == []


@pytest.mark.parametrize(
    ("campaign", "where"),
    [
        ("broken-viral-loops", "secret 'hub/viral-loops'"),
        ("spaced-growsurf", "the JSON field 'apiKey' of secret 'hub/spaced'"),
        ("null-growsurf", "the JSON field 'apiKey' of secret 'hub/null'"),
    ],
)
def test_a_key_that_stays_invalid_once_stripped_is_a_configuration_error_naming_where_it_lives(padded, campaign, where):
    # Given a campaign whose stored key has white space inside, or is null in its JSON secret
    offset = padded.log_size()
    # When a participant is read from it
    answer = padded.call("GET", f"/campaigns/{campaign}/participants/ada@example.com")
    # Then the answer is a configuration error naming where the key lives, no provider was called,
    # and no part of the key appears anywhere
    assert answer.status_code == 500
    error = answer.json()["error"]
    assert error["code"] == "CONFIGURATION_ERROR"
    assert where in error["message"]
    assert padded.sandboxes.viral_loops.received == [] and padded.sandboxes.growsurf.received == []
    assert leaked(padded.output_since(offset)) == []


@pytest.mark.parametrize("status", [400, 401, 404, 409, 422, 500, 503])
def test_a_provider_echoing_the_key_in_an_error_does_not_pass_it_on(padded, status):
    # Given GrowSurf answering an error whose body quotes the key it was sent
    offset = padded.log_size()
    echo = f"the key {GROWSURF_KEY} is not allowed here"
    padded.sandboxes.growsurf.inject(status, times=10, body={"success": False, "code": "ERR", "message": echo})
    # When a participant is read
    answer = padded.call("GET", "/campaigns/padded-growsurf/participants/ada@example.com")
    # Then the hub answers the provider's failure (a 4xx/5xx of its own) without the key
    assert 400 <= answer.status_code < 600 and answer.status_code != 500, answer.text
    assert padded.sandboxes.growsurf.received != []
    assert leaked(padded.output_since(offset)) == []


def test_loops_echoing_the_key_in_a_validation_message_is_redacted_in_the_details_too(padded):
    # Given Loops refusing a sync with a message that quotes its key (copied into details by the client)
    offset = padded.log_size()
    padded.sandboxes.loops.inject(400, body={"success": False, "message": f"firstName refused for key {LOOPS_KEY}"})
    # When a contact is synced
    answer = padded.call("POST", "/contacts/sync", json={"email": "ada@example.com", "firstName": "Ada"})
    # Then the 422 keeps Loops' words, masked, in its details
    assert answer.status_code == 422, answer.text
    details = answer.json()["error"]["details"]
    assert details and "***" in json.dumps(details)
    assert leaked(padded.output_since(offset)) == []


def test_a_refused_connection_answers_unavailable_without_the_key(padded):
    # Given SparkLoop's base URL where nothing listens, and its key inline with spaces and a line break
    offset = padded.log_size()
    # When a participant is added to its campaign
    answer = padded.call("POST", "/campaigns/padded-sparkloop/participants", json={"email": "ada@example.com"})
    # Then the hub answers 503 PROVIDER_UNAVAILABLE, and the key is nowhere
    assert answer.status_code == 503, answer.text
    assert answer.json()["error"]["code"] == "PROVIDER_UNAVAILABLE"
    assert leaked(padded.output_since(offset)) == []


def test_a_provider_timing_out_answers_a_timeout_without_the_key(padded):
    # Given GrowSurf answering later than the hub's read timeout
    offset = padded.log_size()
    padded.sandboxes.growsurf.inject(delay=2.5, times=10)
    # When a participant is read
    answer = padded.call("GET", "/campaigns/padded-growsurf/participants/ada@example.com")
    # Then the hub answers 504 PROVIDER_TIMEOUT, and the key is nowhere
    assert answer.status_code == 504, answer.text
    assert answer.json()["error"]["code"] == "PROVIDER_TIMEOUT"
    assert leaked(padded.output_since(offset)) == []


def test_a_bulk_rows_failure_echoing_the_key_is_recorded_without_it(padded):
    # Given Loops refusing every sync with a message that quotes its key
    offset = padded.log_size()
    padded.sandboxes.loops.inject(400, times=10, body={"success": False, "message": f"bad key {LOOPS_KEY}"})
    # When an import of two contact syncs runs to its end
    started = padded.call(
        "POST",
        "/imports",
        json={"operation": "syncContact", "rows": [{"email": "a@example.com"}, {"email": "b@example.com"}]},
    )
    assert started.status_code == 202, started.text
    job = _finished(padded, started.json()["jobId"])
    # Then both rows failed with Loops' reason, masked, and the key is nowhere (job answer, logs, metrics)
    assert job["failed"] == 2
    assert all("***" in json.dumps(failure["error"]) for failure in job["failures"])
    assert padded.sandboxes.loops.received != []
    assert leaked(padded.output_since(offset)) == []


def test_the_doctor_names_each_broken_key_by_where_it_lives_and_never_by_its_value(padded):
    # Given campaigns with good, padded, invalid and unreachable keys
    offset = padded.log_size()
    # When the doctor runs
    answer = padded.call("GET", "/doctor")
    # Then it names the broken keys' places, and no key appears anywhere
    assert answer.status_code in (200, 503), answer.text
    assert "hub/viral-loops" in answer.text and "hub/null" in answer.text
    assert leaked(padded.output_since(offset)) == []


def test_a_scheduled_task_over_campaigns_with_broken_keys_logs_no_key(padded):
    # Given campaigns whose keys cannot be used, beside working ones
    offset = padded.log_size()
    # When the referral stats sync runs now
    done = subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "local.invoke", "SyncReferralStatsFunction", "--url", padded.hub.control_url],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    # Then the run reports them, and neither its answer nor the hub's log holds a key
    assert done.returncode == 0, done.stdout + done.stderr
    assert leaked(done.stdout + done.stderr + padded.output_since(offset)) == []


def _finished(padded: PaddedHub, job_id: str, timeout: float = 90) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = padded.call("GET", f"/imports/{job_id}").json()
        if job["status"] in ("completed", "completedWithErrors"):
            return job
        time.sleep(0.5)
    raise AssertionError(f"job {job_id} did not finish: {job}")
