"""Rows that name one action whatever job queued them (a webhook event, a pending reward) reach Loops
once: a webhook delivery retried after its rows were queued, and a pending-reward row delivered after
its mark was written and every 24-hour window had passed. In-process, with AWS in moto and the
providers in their sandboxes; the syncContact queue is handed to its consumer function as Lambda would."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from hub.aws.jobs import JobStore
from local.aws import create_queues, create_tables
from local.events import sqs_record
from local.gateway import Functions
from local.run import Sandboxes
from local.template import ROOT, load
from local.webhook import DEMO_WEBHOOK_SECRETS, refresh_signature, with_webhook_secrets

from .test_events import forget_clients
from .test_schedules import Stack

GOAL = ROOT / "events" / "api_webhook_growsurf_goal.json"
DAY = 24 * 3600


@pytest.fixture
def stack(monkeypatch, tmp_path) -> Iterator[Stack]:
    sandboxes = Sandboxes()
    for name, value in sandboxes.start().items():
        monkeypatch.setenv(name, value)
    path = tmp_path / "hub.toml"
    path.write_text(with_webhook_secrets(sandboxes.config(), DEMO_WEBHOOK_SECRETS))
    monkeypatch.setenv("HUB_CONFIG", str(path))
    monkeypatch.setenv("HUB_HTTP_ATTEMPTS", "1")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    template = load()
    forget_clients()
    with mock_aws():
        create_tables(template, boto3.client("dynamodb"))
        queues = create_queues(template, boto3.client("sqs"))
        physical = {name: name for name in template.tables()} | {name: url for name, (url, _) in queues.items()}
        for name, value in template.environment(physical).items():
            monkeypatch.setenv(name, value)
        url, arn = queues["SyncContactQueue"]
        yield Stack(Functions(template), sandboxes, url, arn)
    sandboxes.stop()
    forget_clients()


def deliver_goal(stack: Stack) -> dict:
    """GrowSurf delivers its sample goal (a double-sided reward Ada earned by referring Grace), signed now."""
    event = refresh_signature(json.loads(GOAL.read_text()), DEMO_WEBHOOK_SECRETS["demo-growsurf"])
    return stack.functions.invoke(load().functions["WebhookFunction"], event)


def queued(stack: Stack) -> list[dict]:
    """The messages in the syncContact queue (left there, visible again at once). One receive each
    time: every receive counts toward the redrive to the dead-letter queue."""
    answer = boto3.client("sqs").receive_message(
        QueueUrl=stack.queue_url, MaxNumberOfMessages=10, AttributeNames=["All"], VisibilityTimeout=0
    )
    return answer.get("Messages", [])


def consume(stack: Stack, messages: list[dict]) -> None:
    """Hand ``messages`` to the syncContact consumer as one batch, and delete them as Lambda would."""
    consumer = load().functions["SyncContactConsumerFunction"]
    answer = stack.functions.invoke(consumer, {"Records": [sqs_record(m, stack.queue_arn) for m in messages]})
    assert answer == {"batchItemFailures": []}
    for message in messages:
        boto3.client("sqs").delete_message(QueueUrl=stack.queue_url, ReceiptHandle=message["ReceiptHandle"])


def pass_the_windows(stack: Stack) -> None:
    """More than a day goes by: the hub's idempotency records are gone (the webhook's dedup record with
    them, as if it had been lost), and Loops no longer knows the events' keys."""
    dynamodb = boto3.client("dynamodb")
    for item in dynamodb.scan(TableName="IdempotencyTable").get("Items", []):
        dynamodb.delete_item(TableName="IdempotencyTable", Key={"id": item["id"]})
    stack.sandboxes.loops.clock = lambda: time.time() + DAY + 3600


def test_a_retried_delivery_whose_rows_were_queued_reaches_loops_once_per_event(stack: Stack, monkeypatch):
    # Given a GrowSurf goal whose first delivery fails after its rows were queued (the job's count
    # cannot be written: DynamoDB throttles), so the hub answers an error and GrowSurf delivers it again
    settle = JobStore.add_rows
    calls = {"n": 0}

    def throttled_once(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            error = {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}}
            raise ClientError(error, "UpdateItem")
        return settle(self, *args, **kwargs)

    monkeypatch.setattr(JobStore, "add_rows", throttled_once)
    first = deliver_goal(stack)
    assert first["statusCode"] >= 500, first["body"]
    assert len(queued(stack)) == 1
    # When GrowSurf delivers it again, queued under a new job, and the queue is consumed
    second = deliver_goal(stack)
    assert second["statusCode"] == 200, second["body"]
    messages = queued(stack)
    assert len({json.loads(m["Body"])["jobId"] for m in messages}) == 2
    consume(stack, messages)
    # Then Loops received each of the delivery's events once
    assert len(stack.sandboxes.loops.events_named("referralRewardEarned")) == 1
    assert len(stack.sandboxes.loops.events_named("referralConverted")) == 1


def test_a_retried_delivery_after_the_first_was_sent_and_the_windows_passed_is_not_sent_again(stack: Stack):
    # Given a GrowSurf goal whose rows reached Loops
    assert deliver_goal(stack)["statusCode"] == 200
    consume(stack, queued(stack))
    assert len(stack.sandboxes.loops.events_named("referralRewardEarned")) == 1
    # When, past every window (the delivery's dedup record lost with them), GrowSurf delivers it again
    pass_the_windows(stack)
    assert deliver_goal(stack)["statusCode"] == 200
    consume(stack, queued(stack))
    # Then Loops received no second event: the rows' marks say they were sent
    assert len(stack.sandboxes.loops.events_named("referralRewardEarned")) == 1
    assert len(stack.sandboxes.loops.events_named("referralConverted")) == 1


def test_a_pending_reward_row_delivered_after_its_mark_was_written_sends_no_second_event(stack: Stack):
    # Given Ada's pending reward, queued by two runs of the pending rewards task (a backlog: the second
    # ran before the first run's rows were consumed)
    growsurf = stack.sandboxes.growsurf
    growsurf.seed_participant("ada@example.com", first_name="Ada")
    growsurf.seed_participant("grace@example.com", referrer="ada@example.com", referral_status="CREDIT_PENDING")
    growsurf.trigger("grace@example.com")
    first = stack.run("PendingRewardsFunction", "run-1")
    second = stack.run("PendingRewardsFunction", "run-2")
    assert first["totals"]["queued"] == second["totals"]["queued"] == 2
    by_job: dict[str, list[dict]] = {}
    for message in queued(stack):
        by_job.setdefault(json.loads(message["Body"])["jobId"], []).append(message)
    # When the first run's rows are consumed, then, past every 24-hour window, the second run's
    consume(stack, by_job.pop(first["jobId"]))
    pass_the_windows(stack)
    consume(stack, by_job.pop(second["jobId"]))
    # Then Loops received each reward's event once, and the second run's rows count as succeeded
    events = stack.sandboxes.loops.events_named("referralRewardPending")
    assert sorted(e.email for e in events) == ["ada@example.com", "grace@example.com"]
    job = JobStore().get(second["jobId"])
    assert (job.succeeded, job.failed) == (2, 0)


def test_a_webhook_events_mark_expires_with_the_dedup_window_and_a_rewards_never(stack: Stack):
    # Given a GrowSurf goal and a pending reward, each sent to Loops
    assert deliver_goal(stack)["statusCode"] == 200
    stack.sandboxes.growsurf.seed_participant("ada@example.com")
    stack.sandboxes.growsurf.seed_participant(
        "grace@example.com", referrer="ada@example.com", referral_status="CREDIT_PENDING"
    )
    stack.sandboxes.growsurf.trigger("grace@example.com")
    stack.run("PendingRewardsFunction", "run-1")
    # When their rows are consumed
    consume(stack, queued(stack))
    # Then each event's mark is written: the webhook events' expire after the ingress's dedup window
    items = boto3.client("dynamodb").scan(TableName="SyncStateTable")["Items"]
    assert {item["pk"]["S"].split("#")[0] for item in items} == {"webhook", "reward"}
    webhook = [int(item["expiresAt"]["N"]) for item in items if item["pk"]["S"].startswith("webhook#")]
    assert len(webhook) == 2
    assert all(abs(at - (time.time() + 7 * DAY)) < 60 for at in webhook)
    assert all("expiresAt" not in item for item in items if item["pk"]["S"].startswith("reward#"))
