"""The metrics and log lines the hub publishes, captured as CloudWatch would get them: provider calls
through a real client against its sandbox over loopback HTTP, and API and queue functions invoked
with the events AWS would hand them, AWS in moto."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from hub.aws.jobs import JobStore
from hub.domain.errors import ParticipantNotFound, ProviderUnavailable
from hub.providers.growsurf.client import GrowSurfClient
from hub.runtime import observability
from local.aws import create_queues, create_tables
from local.gateway import Functions
from local.run import Sandboxes
from local.sandbox.growsurf import GrowSurfSandbox
from local.template import ROOT, Template, load
from tests.integration.test_events import forget_clients
from tests.unit.test_observability import documented_metrics

KEY = "gs-observed-key-5d21c7"
CAMPAIGN = "cmpobs1"
ADA = "ada@example.com"
EVENTS = ROOT / "events"

Emitted = Callable[[], list[dict[str, Any]]]


@pytest.fixture
def metrics_env(monkeypatch) -> dict[str, str]:
    """The namespace and service the template gives every function, metrics on."""
    variables = load().function_globals["Environment"]["Variables"]
    env = {name: variables[name] for name in ("POWERTOOLS_METRICS_NAMESPACE", "POWERTOOLS_SERVICE_NAME")}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    monkeypatch.delenv("POWERTOOLS_DEV", raising=False)
    return env


@pytest.fixture
def emitted(capsys) -> Emitted:
    """The EMF objects printed so far (Powertools writes them to stdout, where Lambda's log has them)."""

    def read() -> list[dict[str, Any]]:
        lines = capsys.readouterr().out.splitlines()
        return [blob for blob in (_json(line) for line in lines) if isinstance(blob, dict) and "_aws" in blob]

    return read


@pytest.fixture
def log_lines() -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """The layer's log lines, formatted by its own Powertools formatter, at DEBUG for the test."""
    logger = observability.logger
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logger.registered_formatter)
    std = logging.getLogger(logger.service)
    level = std.level
    std.addHandler(handler)
    std.setLevel(logging.DEBUG)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]
    std.removeHandler(handler)
    std.setLevel(level)


@pytest.fixture
def sandbox(start_sandbox) -> GrowSurfSandbox:
    sandbox = start_sandbox(GrowSurfSandbox(api_key=KEY, campaign_id=CAMPAIGN))
    sandbox.seed_participant(ADA, first_name="Ada")
    return sandbox


@pytest.fixture
def client(sandbox, fast_policy) -> GrowSurfClient:
    return GrowSurfClient(KEY, CAMPAIGN, base_url=sandbox.base_url, policy=fast_policy)


def _json(line: str) -> Any:
    try:
        return json.loads(line)
    except ValueError:
        return None


def named(blobs: list[dict[str, Any]], metric: str) -> list[dict[str, Any]]:
    """The EMF objects that carry ``metric``."""
    return [
        blob
        for blob in blobs
        if any(m["Name"] == metric for d in blob["_aws"]["CloudWatchMetrics"] for m in d["Metrics"])
    ]


def dimension_sets(blob: dict[str, Any]) -> set[frozenset[str]]:
    return {frozenset(names) for d in blob["_aws"]["CloudWatchMetrics"] for names in d["Dimensions"]}


def units(blob: dict[str, Any]) -> dict[str, str]:
    return {m["Name"]: m["Unit"] for d in blob["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]}


def assert_as_documented(blob: dict[str, Any], env: dict[str, str]) -> None:
    """The object is in the template's namespace and has each metric's documented unit and dimensions."""
    documented = documented_metrics()
    assert blob["_aws"]["CloudWatchMetrics"][0]["Namespace"] == env["POWERTOOLS_METRICS_NAMESPACE"]
    assert blob["service"] == env["POWERTOOLS_SERVICE_NAME"]
    for name, unit in units(blob).items():
        assert unit == documented[name].unit, name
        assert dimension_sets(blob) == set(documented[name].dimension_sets), name


# -- provider calls ---------------------------------------------------------------------------------


def test_a_call_publishes_one_call_its_latency_and_no_429(sandbox, client, metrics_env, emitted):
    # Given a call made for the getParticipant operation
    with observability.bound("getParticipant"):
        # When it succeeds
        participant = client.get_participant_by_email(ADA)
    # Then the caller has the participant, the provider got one request,
    assert participant["email"] == ADA
    assert len(sandbox.requests_to(f"/participant/{ADA}")) == 1
    # and one object counts the call by provider and operation, with no error
    blobs = emitted()
    (calls,) = named(blobs, "ProviderCalls")
    assert (calls["provider"], calls["operation"]) == ("GrowSurf", "getParticipant")
    assert calls["ProviderCalls"] == [1.0]
    assert calls["ProviderThrottled"] == [0.0]
    assert calls["ProviderLatency"][0] > 0
    assert_as_documented(calls, metrics_env)
    assert named(blobs, "ProviderErrors") == []


def test_a_429_waited_out_is_counted_as_throttled_and_not_as_an_error(sandbox, client, metrics_env, emitted):
    # Given a provider that answers one 429 asking for no wait
    sandbox.inject(429, headers={"Retry-After": "0"})
    # When a call is made
    with observability.bound("getParticipant"):
        participant = client.get_participant_by_email(ADA)
    # Then it succeeded on its second request, and its one 429 is counted, with no error
    assert participant["email"] == ADA
    assert len(sandbox.received) == 2
    blobs = emitted()
    (calls,) = named(blobs, "ProviderCalls")
    assert (calls["ProviderCalls"], calls["ProviderThrottled"]) == ([1.0], [1.0])
    assert named(blobs, "ProviderErrors") == []


def test_a_call_that_fails_counts_its_error_by_code(sandbox, client, metrics_env, emitted):
    # Given a provider that keeps answering 503
    sandbox.inject(503, times=10)
    # When a call is made, Then it fails as unavailable after every attempt
    with observability.bound("addParticipant"), pytest.raises(ProviderUnavailable):
        client.add_participant("new@example.com")
    assert len(sandbox.received) == 4
    # and the call is counted once, and its error by code, provider and operation
    blobs = emitted()
    (calls,) = named(blobs, "ProviderCalls")
    assert calls["ProviderCalls"] == [1.0]
    (errors,) = named(blobs, "ProviderErrors")
    assert (errors["provider"], errors["operation"], errors["errorCode"]) == (
        "GrowSurf",
        "addParticipant",
        "PROVIDER_UNAVAILABLE",
    )
    assert errors["ProviderErrors"] == [1.0]
    assert_as_documented(errors, metrics_env)


def test_a_provider_answer_the_caller_gets_as_an_error_is_counted_by_its_code(sandbox, client, metrics_env, emitted):
    # Given no participant with this email
    # When the call is made, Then the caller learns so
    with observability.bound("getParticipant"), pytest.raises(ParticipantNotFound):
        client.get_participant_by_email("nobody@example.com")
    # and the error is counted under the code the caller got
    (errors,) = named(emitted(), "ProviderErrors")
    assert errors["errorCode"] == "PARTICIPANT_NOT_FOUND"


def test_a_call_outside_any_operation_is_attributed_to_other(sandbox, client, metrics_env, emitted):
    # Given no operation bound, When a call is made
    client.get_participant_by_email(ADA)
    # Then its metrics name the operation "other"
    (calls,) = named(emitted(), "ProviderCalls")
    assert calls["operation"] == observability.UNATTRIBUTED


def test_metrics_turned_off_publish_nothing_and_the_call_still_answers(sandbox, client, monkeypatch, emitted):
    # Given metrics turned off as the local run and benchmarks may
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "ReferralHub")
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    # When a call is made
    participant = client.get_participant_by_email(ADA)
    # Then the caller has the participant and nothing was printed
    assert participant["email"] == ADA
    assert emitted() == []


def test_without_a_namespace_the_call_answers_and_nothing_is_published(sandbox, client, monkeypatch, emitted):
    # Given no metric namespace configured
    monkeypatch.delenv("POWERTOOLS_METRICS_NAMESPACE", raising=False)
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    # When a call is made, Then it answers all the same, and no object without a namespace is printed
    assert client.get_participant_by_email(ADA)["email"] == ADA
    assert emitted() == []


# -- through the functions --------------------------------------------------------------------------


@pytest.fixture
def stack(monkeypatch, tmp_path: Path, metrics_env) -> Iterator[tuple[Template, Functions, Sandboxes]]:
    """The functions with AWS in moto and the sandbox providers; Ada is in the GrowSurf campaign."""
    sandboxes = Sandboxes()
    for name, value in sandboxes.start().items():
        monkeypatch.setenv(name, value)
    path = tmp_path / "hub.toml"
    path.write_text(sandboxes.config())
    template = load()
    monkeypatch.setenv("HUB_CONFIG", str(path))
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    forget_clients()
    sandboxes.growsurf.seed_participant(ADA, first_name="Ada")
    try:
        with mock_aws():
            create_tables(template, boto3.client("dynamodb"))
            physical = {name: name for name in template.tables()}
            physical.update({name: url for name, (url, _arn) in create_queues(template, boto3.client("sqs")).items()})
            for name, value in template.environment(physical).items():
                if name not in metrics_env:
                    monkeypatch.setenv(name, value)
            yield template, Functions(template), sandboxes
    finally:
        sandboxes.stop()
        forget_clients()


def api_event(name: str, request_id: str) -> dict[str, Any]:
    event = json.loads((EVENTS / f"{name}.json").read_text())
    event["requestContext"]["requestId"] = request_id
    return event


def test_every_line_of_an_api_request_carries_its_correlation_id_down_to_the_provider_call(stack, log_lines):
    # Given a GrowSurf that fails the first attempt, and an API request with its request id
    template, functions, sandboxes = stack
    sandboxes.growsurf.inject(500)
    event = api_event("api_get_participant_found", "req-7f41c2")
    # When the function handles it
    response = functions.invoke(template.functions["GetParticipantFunction"], event)
    # Then the caller has Ada after the retry the provider saw,
    assert response["statusCode"] == 200
    assert json.loads(response["body"])["email"] == ADA
    assert len(sandboxes.growsurf.requests_to(f"/participant/{ADA}")) == 2
    # and every line the request wrote, the provider's failed and answered attempts included,
    # carries the request id and the operation
    lines = log_lines()
    provider_lines = [line for line in lines if line["message"] in ("provider call", "provider call failed")]
    assert [line["message"] for line in provider_lines] == ["provider call", "provider call failed", "provider call"]
    assert {line["provider"] for line in provider_lines} == {"GrowSurf"}
    for line in lines:
        assert line.get("correlation_id") == "req-7f41c2", line
        assert line.get("operation") == "getParticipant", line


def test_an_api_error_is_counted_by_operation_and_code(stack, metrics_env, emitted):
    # Given a request for a campaign that does not exist
    template, functions, _ = stack
    event = api_event("api_get_participant_unknown_campaign", "req-0b1d9e")
    # When the function handles it
    response = functions.invoke(template.functions["GetParticipantFunction"], event)
    # Then the caller gets the 404, and the error is counted by operation and code, and the 4xx answer
    assert response["statusCode"] == 404
    code = json.loads(response["body"])["error"]["code"]
    blobs = emitted()
    (errors,) = named(blobs, "ApiErrors")
    assert (errors["operation"], errors["errorCode"]) == ("getParticipant", code)
    assert_as_documented(errors, metrics_env)
    (answered,) = named(blobs, "Http4xx")
    assert answered["Http4xx"] == [1.0]


def test_a_bulk_rows_lines_and_provider_calls_carry_its_job_and_row(stack, log_lines, emitted):
    # Given a queued addParticipant row of a job
    template, functions, sandboxes = stack
    JobStore().create("sample-job", campaign="demo-growsurf", operation="addParticipant", created_at="2026-11-23")
    event = json.loads((EVENTS / "sqs_add_participant_row.json").read_text())
    # When its consumer runs it
    result = functions.invoke(template.functions["AddParticipantConsumerFunction"], event)
    # Then the row ran and GrowSurf got the participant,
    assert result == {"batchItemFailures": []}
    added = [r for r in sandboxes.growsurf.received if r.method == "POST" and r.path.endswith("/participant")]
    assert [r.json["email"] for r in added] == ["queued@example.com"]
    # and the provider call lines name the job (as correlation id), the row and the bulk operation
    provider_lines = [line for line in log_lines() if line["message"] == "provider call"]
    assert provider_lines
    for line in provider_lines:
        assert (line["correlation_id"], line["row"], line["operation"]) == ("sample-job", 1, "bulk.addParticipant")
    # and so do the calls' metrics
    calls = named(emitted(), "ProviderCalls")
    assert calls
    assert {blob["operation"] for blob in calls} == {"bulk.addParticipant"}
