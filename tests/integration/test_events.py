"""Every sample event in events/ invokes its function successfully (the answer its case names), with
AWS in moto and the providers in their sandboxes, the way `sam local invoke` would hand it over."""

from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from hub.aws import idempotency
from hub.aws.jobs import JobStore
from hub.flows import contacts
from hub.providers import program as programs
from hub.providers.ratelimit import shared as shared_throttle
from hub.settings import config
from local.aws import create_buckets, create_queues, create_tables
from local.gateway import Functions
from local.run import Sandboxes
from local.template import ROOT, load
from local.webhook import DEMO_WEBHOOK_SECRETS, refresh_signature, with_webhook_secrets

EVENTS = ROOT / "events"

# The answer each sample event's case stands for.
EXPECTED_STATUS = {
    "api_add_participant_created": 201,
    "api_add_participant_existing": 200,
    "api_add_participant_invalid": 422,
    "api_get_participant_found": 200,
    "api_get_participant_unknown_campaign": 404,
    "api_convert_referred": 200,
    "api_convert_unsupported": 501,
    "api_redeem_unknown_reward": 404,
    "api_flag_participant": 200,
    "api_referrals_found": 200,
    "api_rewards_pending": 200,
    "api_rewards_invalid_status": 422,
    "api_leaderboard_first_page": 200,
    "api_sync_contact_upsert": 200,
    "api_sync_contact_from_campaign": 200,
    "api_openapi": 200,
    "api_create_import_json": 202,
    "api_create_import_csv": 202,
    "api_create_import_unsupported": 501,
    "api_create_import_upload": 201,
    "api_get_import_unknown": 404,
    "api_webhook_growsurf_goal": 200,
    "api_webhook_growsurf_participant_added": 200,
    "api_webhook_growsurf_bad_signature": 401,
    "api_webhook_sparkloop_new_referral": 200,
    "api_webhook_viral_loops_participation": 200,
    "api_list_imports_recent": 200,
    "api_method_not_allowed": 405,
    "api_list_imports_invalid_cursor": 422,
    "api_doctor": 200,
    "api_list_dead_letters": 200,
    "api_redrive_dead_letters": 200,
    "api_redrive_dead_letters_unknown_operation": 422,
    "api_list_campaigns": 200,
    "api_get_campaign_found": 200,
    "api_get_campaign_unknown_campaign": 404,
    "api_list_participants_first_page": 200,
    "api_list_participants_invalid_limit": 422,
    "api_update_participant_name": 200,
    "api_update_participant_empty": 422,
    "api_delete_participant_erasure": 200,
    "api_delete_participant_invalid_contact": 422,
    "api_remove_reward_unknown_campaign": 404,
    "api_campaign_referrals_pending": 200,
    "api_campaign_referrals_invalid_status": 422,
    "api_get_contact_unknown": 404,
    "api_delete_contact_invalid_email": 422,
}
# Queue, storage and schedule events: what the handler returns for them.
EXPECTED_RESULT = {
    "sqs_add_participant_row": {"batchItemFailures": []},
    # Each row's outcome is counted in its job (a row the provider refuses fails there, not in the batch).
    "sqs_update_participant_row": {"batchItemFailures": []},
    "sqs_delete_participant_row": {"batchItemFailures": []},
    "sqs_delete_contact_row": {"batchItemFailures": []},
    "s3_split_import_upload": {"jobs": [{"jobId": "sample-upload-job", "rows": 2, "failed": 0}]},
    # Ada and Grace in every campaign: each contact's stats queued once; Viral Loops cannot list them.
    "schedule_sync_referral_stats": {
        "task": "syncReferralStats",
        "jobId": "sync-referral-stats-7bf73129-1428-4cd3-a780-95db273d1602",
        "campaigns": [
            {"campaign": "demo-growsurf", "provider": "growsurf", "read": 2, "changed": 2, "queued": 2, "failed": 0},
            {"campaign": "demo-sparkloop", "provider": "sparkloop", "read": 2, "changed": 2, "queued": 2, "failed": 0},
            {
                "campaign": "demo-viral-loops",
                "provider": "viral_loops",
                "skipped": "Viral Loops has no 'listParticipants' operation",
            },
        ],
        "totals": {"campaigns": 3, "skipped": 1, "errors": 0, "read": 4, "changed": 4, "queued": 4, "failed": 0},
    },
    # Ada's referral of Grace is not credited yet: no reward is pending, so nothing is queued.
    "schedule_pending_rewards": {
        "task": "pendingRewards",
        "jobId": None,
        "campaigns": [
            {"campaign": "demo-growsurf", "provider": "growsurf", "read": 0, "changed": 0, "queued": 0, "failed": 0},
            {
                "campaign": "demo-sparkloop",
                "provider": "sparkloop",
                "skipped": "SparkLoop has no 'listPendingRewards' operation",
            },
            {
                "campaign": "demo-viral-loops",
                "provider": "viral_loops",
                "skipped": "Viral Loops has no 'listPendingRewards' operation",
            },
        ],
        "totals": {"campaigns": 3, "skipped": 2, "errors": 0, "read": 0, "changed": 0, "queued": 0, "failed": 0},
    },
}


def function_for(event: dict) -> str:
    """The function the template wires to this event: by route, by queue, by bucket or by schedule."""
    template = load()
    if event.get("source") == "aws.events":
        # CloudFormation names a schedule's rule after the stack, the function and the event.
        for fn in template.functions.values():
            for name, source in fn.events.items():
                if source.get("Type") == "Schedule" and f"-{fn.logical_id}{name}-" in event["resources"][0]:
                    return fn.logical_id
        raise AssertionError(f"no schedule has the rule {event['resources'][0]}")
    if "resource" in event:
        for route, fn in template.routes():
            if route.path == event["resource"] and route.method == event["httpMethod"]:
                return fn.logical_id
        if event["resource"] in template.fallbacks():
            # A method the path does not declare: API Gateway takes the path's ANY route.
            return template.fallbacks()[event["resource"]][1].logical_id
        raise AssertionError(f"no function serves {event['httpMethod']} {event['resource']}")
    record = event["Records"][0]
    for fn in template.functions.values():
        for source in fn.events.values():
            if record["eventSource"] == "aws:sqs" and source.get("Type") == "SQS":
                queue = source["Properties"]["Queue"]["Fn::GetAtt"][0]
                if record["eventSourceARN"].endswith(f":{queue}"):
                    return fn.logical_id
            if record["eventSource"] == "aws:s3" and source.get("Type") == "S3":
                return fn.logical_id
    raise AssertionError("no function takes this event")


@pytest.fixture
def local_stack(monkeypatch, tmp_path) -> Iterator[tuple[Functions, Sandboxes]]:
    """The functions with moto and the sandboxes, and Ada (who referred Grace) in every campaign."""
    sandboxes = Sandboxes()
    for name, value in sandboxes.start().items():
        monkeypatch.setenv(name, value)
    path = tmp_path / "hub.toml"
    path.write_text(
        with_webhook_secrets(sandboxes.config(), DEMO_WEBHOOK_SECRETS)
        + "".join(
            f"[providers.{name}]\nrate_limit = {{ requests = 1000, per_seconds = 1 }}\n"
            for name in ("growsurf", "viral_loops", "sparkloop", "loops")
        )
    )
    template = load()
    monkeypatch.setenv("HUB_CONFIG", str(path))
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    forget_clients()
    with mock_aws():
        create_tables(template, boto3.client("dynamodb"))
        physical = {name: name for name in template.tables()}
        physical.update({name: url for name, (url, _arn) in create_queues(template, boto3.client("sqs")).items()})
        physical.update(create_buckets(template, boto3.client("s3")))
        for name, value in template.environment(physical).items():
            monkeypatch.setenv(name, value)
        jobs = JobStore()
        jobs.create("sample-job", campaign="demo-growsurf", operation="addParticipant", created_at="2026-11-23")
        jobs.create("sample-upload-job", campaign=None, operation="syncContact", created_at="2026-11-23")
        boto3.client("s3").put_object(
            Bucket=physical["UploadBucket"],
            Key="uploads/sample-upload-job.csv",
            Body=b"email,plan\nada@example.com,pro\ngrace@example.com,team\n",
        )
        functions = Functions(template)
        add = template.functions["AddParticipantFunction"]
        for campaign in ("demo-growsurf", "demo-viral-loops", "demo-sparkloop"):
            for body in ({"email": "ada@example.com"}, {"email": "grace@example.com", "referrer": "ada@example.com"}):
                event = json.loads((EVENTS / "api_add_participant_created.json").read_text())
                event["path"] = f"/campaigns/{campaign}/participants"
                event["pathParameters"] = {"campaign": campaign}
                event["body"] = json.dumps(body)
                assert functions.invoke(add, event)["statusCode"] == 201
        yield functions, sandboxes
    sandboxes.stop()
    forget_clients()


def forget_clients() -> None:
    """Drop what the layer keeps across warm invocations: clients made under another moto context."""
    config.load_config.cache_clear()
    programs._programs.clear()
    contacts._clients.clear()
    shared_throttle._shared.clear()
    idempotency._runner.cache_clear()
    idempotency._configs.clear()


def test_every_event_file_has_an_expected_case():
    assert {path.stem for path in EVENTS.glob("*.json")} == set(EXPECTED_STATUS) | set(EXPECTED_RESULT)


@pytest.mark.parametrize("name", sorted(EXPECTED_RESULT))
def test_sample_queue_and_storage_events_invoke_their_function(local_stack, name):
    # Given a queue or storage event, and the job it belongs to
    functions, _ = local_stack
    event = json.loads((EVENTS / f"{name}.json").read_text())
    fn = load().functions[function_for(event)]
    # When its function is invoked with it
    result = functions.invoke(fn, event)
    # Then it did what the event stands for
    assert result == EXPECTED_RESULT[name]


@pytest.mark.parametrize("name", sorted(EXPECTED_STATUS))
def test_sample_event_invokes_its_function(local_stack, name):
    # Given a sample event (a genuinely signed webhook sample signed again for now: signatures go stale)
    functions, _ = local_stack
    event = json.loads((EVENTS / f"{name}.json").read_text())
    event = refresh_signature(event, DEMO_WEBHOOK_SECRETS["demo-growsurf"])
    fn = load().functions[function_for(event)]
    # When its function is invoked with it
    result = functions.invoke(fn, event)
    # Then the answer is the one its case stands for, in the SPEC's shape
    assert result["statusCode"] == EXPECTED_STATUS[name], result["body"]
    body = json.loads(result["body"])
    if result["statusCode"] >= 400:
        assert set(body["error"]) == {"code", "message", "details"}


def test_a_webhook_whose_contact_sync_sqs_refuses_answers_503_so_the_provider_retries(local_stack, monkeypatch):
    # Given a verified GrowSurf goal, and a contact sync queue SQS does not have
    functions, sandboxes = local_stack
    monkeypatch.setenv("SYNC_CONTACT_QUEUE_URL", "https://sqs.us-east-1.amazonaws.com/000000000000/gone")
    event = refresh_signature(
        json.loads((EVENTS / "api_webhook_growsurf_goal.json").read_text()), DEMO_WEBHOOK_SECRETS["demo-growsurf"]
    )
    # When it is delivered
    result = functions.invoke(load().functions["WebhookFunction"], event)
    # Then it is 503 QUEUE_ERROR (the provider delivers it again), naming no queue
    assert result["statusCode"] == 503, result["body"]
    error = json.loads(result["body"])["error"]
    assert error["code"] == "QUEUE_ERROR"
    assert "gone" not in error["message"]
    # And no Loops event went out for it
    assert sandboxes.loops.requests_to("/events/send", "POST") == []
