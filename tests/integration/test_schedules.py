"""The scheduled tasks in-process, with AWS in moto and the providers in their sandboxes: a provider
failing for one campaign, a contact Loops refuses, a run out of time. The syncContact queue is drained
by invoking its consumer function with the SQS events Lambda would hand it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

import boto3
import pytest
from moto import mock_aws

from local.aws import create_queues, create_tables
from local.events import sqs_record
from local.gateway import Functions
from local.run import Sandboxes
from local.template import load

from .test_events import forget_clients


@dataclass
class Stack:
    functions: Functions
    sandboxes: Sandboxes
    queue_url: str
    queue_arn: str

    def run(self, function: str, event_id: str) -> dict:
        """Run a scheduled function with a scheduled event."""
        event = {"id": event_id, "detail-type": "Scheduled Event", "source": "aws.events", "detail": {}}
        return self.functions.invoke(load().functions[function], event)

    def drain(self) -> None:
        """Hand every queued row to the syncContact consumer, as Lambda's poller would, until none is left."""
        sqs = boto3.client("sqs")
        consumer = load().functions["SyncContactConsumerFunction"]
        while True:
            messages = sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=10, AttributeNames=["All"], VisibilityTimeout=0
            ).get("Messages", [])
            if not messages:
                return
            answer = self.functions.invoke(consumer, {"Records": [sqs_record(m, self.queue_arn) for m in messages]})
            assert answer == {"batchItemFailures": []}
            for message in messages:
                sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])

    def queued_emails(self) -> list[str]:
        attributes = boto3.client("sqs").get_queue_attributes(
            QueueUrl=self.queue_url, AttributeNames=["ApproximateNumberOfMessages"]
        )
        count = int(attributes["Attributes"]["ApproximateNumberOfMessages"])
        messages = boto3.client("sqs").receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10)
        assert len(messages.get("Messages", [])) == count
        return sorted(json.loads(m["Body"])["data"]["email"] for m in messages.get("Messages", []))


@pytest.fixture
def stack(monkeypatch, tmp_path) -> Iterator[Stack]:
    sandboxes = Sandboxes()
    for name, value in sandboxes.start().items():
        monkeypatch.setenv(name, value)
    path = tmp_path / "hub.toml"
    path.write_text(sandboxes.config())
    monkeypatch.setenv("HUB_CONFIG", str(path))
    monkeypatch.setenv("HUB_HTTP_ATTEMPTS", "1")  # a provider failing fails at once
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


def test_a_provider_failing_for_one_campaign_does_not_stop_the_others(stack: Stack):
    # Given a participant in GrowSurf and one in SparkLoop, and GrowSurf failing with 500s
    stack.sandboxes.growsurf.seed_participant("ada@example.com")
    stack.sandboxes.sparkloop.seed_subscriber("linus@example.com")
    stack.sandboxes.growsurf.inject(500, times=100)
    # When the stats sync runs
    result = stack.run("SyncReferralStatsFunction", "run-1")
    # Then the GrowSurf campaign reports the provider's failure, and SparkLoop's contact is queued
    campaigns = {c["campaign"]: c for c in result["campaigns"]}
    assert campaigns["demo-growsurf"]["error"]["code"] == "PROVIDER_ERROR"
    assert campaigns["demo-sparkloop"]["queued"] == 1
    assert result["totals"]["errors"] == 1
    assert stack.queued_emails() == ["linus@example.com"]


def test_a_contact_loops_refuses_is_queued_again_by_the_next_run(stack: Stack):
    # Given one participant, whose first upsert Loops refuses (a 400 is not retried: the row fails)
    stack.sandboxes.growsurf.seed_participant("ada@example.com")
    stack.sandboxes.loops.inject(400, path="/contacts/update", body={"success": False, "message": "Invalid"})
    first = stack.run("SyncReferralStatsFunction", "run-1")
    stack.drain()
    assert first["totals"]["queued"] == 1
    # When the sync runs again, with nothing changed at GrowSurf
    second = stack.run("SyncReferralStatsFunction", "run-2")
    stack.drain()
    # Then the contact is queued again and reaches Loops this time; a third run has nothing to do
    assert second["totals"]["queued"] == 1
    statuses = [r.status for r in stack.sandboxes.loops.requests_to("/contacts/update", "PUT")]
    assert statuses == [400, 200]
    assert stack.run("SyncReferralStatsFunction", "run-3")["totals"]["queued"] == 0


def test_a_run_short_of_time_stops_before_queueing_and_says_so(stack: Stack):
    # Given a participant in each listable campaign, and a run with 30 seconds left of its time
    stack.sandboxes.growsurf.seed_participant("ada@example.com")
    stack.sandboxes.sparkloop.seed_subscriber("linus@example.com")

    class ShortContext:
        def get_remaining_time_in_millis(self) -> int:
            return 30_000

    # When the stats sync runs (imported here: Powertools reads its settings from the stack's environment)
    from hub.flows.schedules import sync_referral_stats

    result = sync_referral_stats({"id": "short"}, ShortContext())
    # Then it queued nothing and names the campaign it stopped in and those it did not reach
    errors = {c["campaign"]: c.get("error", {}).get("code") for c in result["campaigns"]}
    assert errors == {
        "demo-growsurf": "OUT_OF_TIME",
        "demo-sparkloop": "NOT_REACHED",
        "demo-viral-loops": "NOT_REACHED",
    }
    assert result["jobId"] is None
    assert stack.queued_emails() == []
