"""The operator's routes, each through its function as API Gateway would invoke it, with AWS in moto
and the providers in their sandboxes: the list of jobs, the doctor, and the dead-letter queues with
their redrive (rows given up on by the real consumer, put back, and counted again)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws

from hub.aws.jobs import JobStore
from local.aws import create_buckets, create_queues, create_tables
from local.events import sqs_record
from local.gateway import Functions
from local.run import Sandboxes
from local.template import ROOT, load

from .test_events import forget_clients

EVENTS = ROOT / "events"
MAX_RECEIVES = 5


@dataclass
class Stack:
    functions: Functions
    sandboxes: Sandboxes
    physical: dict[str, str]
    arns: dict[str, str]

    def call(self, sample: str, *, query: dict[str, str] | None = None, body: Any = None) -> tuple[int, Any]:
        """Invoke the function of a sample API event, with its query and body replaced."""
        event = json.loads((EVENTS / f"{sample}.json").read_text())
        event["queryStringParameters"] = query
        event["multiValueQueryStringParameters"] = {k: [v] for k, v in query.items()} if query else None
        if body is not None or event["httpMethod"] == "POST":
            event["body"] = json.dumps(body) if body is not None else None
        template = load()
        fn = next(
            fn
            for route, fn in template.routes()
            if (route.method, route.path) == (event["httpMethod"], event["resource"])
        )
        answer = self.functions.invoke(fn, event)
        return answer["statusCode"], json.loads(answer["body"])

    def consume(self, queue: str, *, receive_count: int) -> dict[str, Any]:
        """Run the queue's consumer once on what the queue holds, as its event source mapping would on
        that delivery, and delete what it did not report as failed."""
        sqs = boto3.client("sqs")
        url = self.physical[queue]
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"]).get("Messages", [])
        assert messages, f"{queue} is empty"
        for message in messages:
            message["Attributes"]["ApproximateReceiveCount"] = str(receive_count)
        template = load()
        fn = next(
            fn
            for fn in template.functions.values()
            for source in fn.events.values()
            if source.get("Type") == "SQS" and source["Properties"]["Queue"]["Fn::GetAtt"][0] == queue
        )
        result = self.functions.invoke(fn, {"Records": [sqs_record(m, self.arns[queue]) for m in messages]})
        failed = {item["itemIdentifier"] for item in result["batchItemFailures"]}
        for message in messages:
            if message["MessageId"] not in failed:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return result


@pytest.fixture
def make_stack(monkeypatch, tmp_path) -> Iterator[Callable[..., Stack]]:
    """A stack whose configuration is the sandboxes' demo campaigns plus ``extra`` TOML (or what
    ``extra`` makes of the started sandboxes)."""
    started: list[Sandboxes] = []
    contexts: list[Any] = []

    def make(extra: str | Callable[[Sandboxes], str] = "") -> Stack:
        sandboxes = Sandboxes()
        started.append(sandboxes)
        for name, value in sandboxes.start().items():
            monkeypatch.setenv(name, value)
        path = tmp_path / "hub.toml"
        path.write_text(sandboxes.config() + (extra(sandboxes) if callable(extra) else extra))
        monkeypatch.setenv("HUB_CONFIG", str(path))
        monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
        # A provider that is down is given up on at once, not after the production retries.
        monkeypatch.setenv("HUB_HTTP_ATTEMPTS", "1")
        monkeypatch.setenv("HUB_HTTP_BUDGET_SECONDS", "2")
        monkeypatch.setenv("MAX_RECEIVE_COUNT", str(MAX_RECEIVES))
        forget_clients()
        context = mock_aws()
        context.start()
        contexts.append(context)
        template = load()
        create_tables(template, boto3.client("dynamodb"))
        physical = {name: name for name in template.tables()}
        queues = create_queues(template, boto3.client("sqs"))
        physical.update({name: url for name, (url, _arn) in queues.items()})
        physical.update(create_buckets(template, boto3.client("s3")))
        for name, value in template.environment(physical).items():
            monkeypatch.setenv(name, value)
        return Stack(Functions(template), sandboxes, physical, {name: arn for name, (_url, arn) in queues.items()})

    yield make
    for context in contexts:
        context.stop()
    for sandboxes in started:
        sandboxes.stop()
    forget_clients()


def queue_rows(rows: list[dict[str, Any]], campaign: str = "demo-growsurf") -> str:
    """A job of add participant rows, queued the way POST /imports queues them; its id."""
    from hub.flows import imports
    from hub.flows.bulk import OPERATIONS

    jobs = JobStore()
    job_id = imports.new_job(jobs, campaign, OPERATIONS["addParticipant"])
    imports.run_rows(jobs, job_id, campaign, OPERATIONS["addParticipant"], enumerate(rows, start=1))
    return job_id


def added_emails(sandboxes: Sandboxes) -> list[str]:
    return [
        r.json["email"]
        for r in sandboxes.growsurf.requests_to("/participant", "POST")
        if r.status is not None and r.status < 300
    ]


# -- GET /imports -----------------------------------------------------------------------------------


def test_jobs_are_listed_newest_first_one_page_at_a_time(make_stack):
    # Given three jobs created one after the other, the newest with one row failed
    stack = make_stack()
    jobs = JobStore()
    for n, created in enumerate(
        ("2026-11-20T10:00:00+00:00", "2026-11-21T10:00:00+00:00", "2026-11-22T10:00:00+00:00")
    ):
        jobs.create(f"job-{n}", campaign="demo-growsurf", operation="addParticipant", created_at=created)
    jobs.add_rows("job-2", 2, through=2, split_done=True)
    jobs.record("job-2", 1, error={"code": "VALIDATION_ERROR", "message": "bad"})
    # When the list is read two jobs at a time
    status, first = stack.call("api_list_imports_recent", query={"limit": "2"})
    _, second = stack.call("api_list_imports_recent", query={"limit": "2", "cursor": first["nextCursor"]})
    # Then the pages hold the jobs newest first, with their current counts and no failed rows
    assert status == 200
    assert [job["jobId"] for job in first["items"]] == ["job-2", "job-1"]
    assert [job["jobId"] for job in second["items"]] == ["job-0"]
    assert second["nextCursor"] is None
    newest = first["items"][0]
    assert (newest["total"], newest["failed"], newest["status"]) == (2, 1, "running")
    assert "failures" not in newest


def test_a_cursor_that_no_listing_gave_is_refused_naming_it(make_stack):
    # Given a cursor that is not the nextCursor of a page
    stack = make_stack()
    # When the list is asked from it
    status, body = stack.call("api_list_imports_recent", query={"cursor": "eyJub3QiOiJhIGN1cnNvciJ9"})
    # Then the answer names the cursor as the invalid field
    assert status == 422
    assert body["error"]["details"] == [{"field": "cursor", "reason": "must be the nextCursor of a previous page"}]


# -- GET /doctor ------------------------------------------------------------------------------------


def findings(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {finding["check"]: finding for finding in report["checks"]}


def test_doctor_finds_every_demo_campaign_and_the_contact_store_working(make_stack):
    # Given the demo campaigns and Loops, all with their right keys
    stack = make_stack()
    # When the doctor runs
    status, report = stack.call("api_doctor")
    # Then every check is ok
    assert status == 200
    assert report["ok"] is True
    checks = findings(report)
    assert {name: f["status"] for name, f in checks.items()} == {
        "configuration": "ok",
        "campaign demo-growsurf": "ok",
        "campaign demo-viral-loops": "ok",
        "campaign demo-sparkloop": "ok",
        "contacts": "ok",
    }
    assert checks["contacts"]["message"] == "Loops accepted the key (team 'Referral Hub Sandbox')"


def test_doctor_uses_each_providers_cheapest_authenticated_read(make_stack):
    # Given the demo campaigns
    stack = make_stack()
    boxes = stack.sandboxes
    # When the doctor runs
    stack.call("api_doctor")
    # Then each provider received one read: GrowSurf its campaign, SparkLoop one subscriber, Viral
    # Loops a participant no one is, and Loops its api-key check
    assert [(r.method, r.path) for r in boxes.growsurf.received] == [
        ("GET", f"/v2/campaign/{boxes.growsurf.campaign_id}")
    ]
    sparkloop = boxes.sparkloop.received
    assert [(r.method, r.query.get("per_page")) for r in sparkloop] == [("GET", "1")]
    assert [(r.method, r.query.get("email"), r.status) for r in boxes.viral_loops.received] == [
        ("GET", "referral-hub-doctor@example.invalid", 404)
    ]
    assert [(r.method, r.path) for r in boxes.loops.received] == [("GET", "/api/v1/api-key")]


def test_doctor_reports_a_key_the_provider_refuses_as_wrong_naming_where_it_lives(make_stack):
    # Given a GrowSurf campaign whose key GrowSurf does not know
    stack = make_stack(
        lambda boxes: (
            f'[campaigns.stale-key]\nprovider = "growsurf"\ncampaign_id = "{boxes.growsurf.campaign_id}"\n'
            'key = { value = "gs-key-revoked-last-week" }\n'
        )
    )
    # When the doctor runs
    status, report = stack.call("api_doctor")
    # Then that campaign is a problem whose words say the key was refused and where to put a valid one,
    # the others are fine, and the key itself is nowhere in the answer
    stale = findings(report)["campaign stale-key"]
    assert status == 200
    assert report["ok"] is False
    assert (stale["status"], stale["code"], stale["provider"]) == ("problem", "PROVIDER_AUTH_FAILED", "growsurf")
    assert stale["message"].startswith("GrowSurf refused the key (from inline value): put a GrowSurf API key there")
    assert findings(report)["campaign demo-growsurf"]["status"] == "ok"
    assert report["summary"] == {"ok": 5, "warning": 0, "problem": 1}
    assert "gs-key-revoked-last-week" not in json.dumps(report)


def test_doctor_reports_a_campaign_id_the_provider_does_not_know(make_stack):
    # Given a SparkLoop campaign with the right key and a wrong campaign id
    stack = make_stack(
        lambda boxes: (
            '[campaigns.typo]\nprovider = "sparkloop"\ncampaign_id = "MF-no-such-campaign"\n'
            f'key = {{ value = "{boxes.sparkloop.api_key}" }}\n'
        )
    )
    # When the doctor runs
    _, report = stack.call("api_doctor")
    # Then the finding names the campaign id to fix
    typo = findings(report)["campaign typo"]
    assert (typo["status"], typo["code"]) == ("problem", "CAMPAIGN_NOT_FOUND")
    assert "knows no campaign 'MF-no-such-campaign'" in typo["message"]
    assert "fix campaign_id in [campaigns.typo]" in typo["message"]


def test_doctor_reports_a_key_that_cannot_be_read_from_secrets_manager(make_stack):
    # Given a Viral Loops campaign whose key is in a secret that does not exist
    stack = make_stack(
        '[campaigns.no-secret]\nprovider = "viral_loops"\ncampaign_id = "c1"\n'
        'key = { secret = "referral-hub/viral-loops-missing" }\n'
    )
    # When the doctor runs
    _, report = stack.call("api_doctor")
    # Then the finding names the secret, and the provider was never called for that campaign
    missing = findings(report)["campaign no-secret"]
    assert (missing["status"], missing["code"]) == ("problem", "CONFIGURATION_ERROR")
    assert "secret 'referral-hub/viral-loops-missing' cannot be read: create it" in missing["message"]
    assert all(r.query.get("campaignId") != "c1" for r in stack.sandboxes.viral_loops.received)


def test_doctor_warns_of_a_rate_limit_above_the_providers_documented_one(make_stack):
    # Given a configuration allowing 100 GrowSurf calls a second (GrowSurf documents 30 per 5 s, 200 per
    # 60 s and 10,000 per 3,600 s)
    stack = make_stack("[providers.growsurf]\nrate_limit = { requests = 100, per_seconds = 1 }\n")
    # When the doctor runs
    _, report = stack.call("api_doctor")
    # Then it warns, and a warning alone does not make the hub unhealthy
    warning = findings(report)["rate limit growsurf"]
    assert warning["status"] == "warning"
    assert (
        "allows 100 requests per 1 s, above GrowSurf's documented 30 requests per 5 s, 200 per 60 s, 10,000 per 3,600 s"
        in warning["message"]
    )
    assert report["ok"] is True


def test_doctor_reports_an_invalid_configuration_as_the_one_problem(make_stack, monkeypatch, tmp_path):
    # Given a configuration document with a campaign that names no provider
    stack = make_stack()
    broken = tmp_path / "broken.toml"
    broken.write_text('[campaigns.half]\ncampaign_id = "x"\nkey = { value = "k" }\n')
    monkeypatch.setenv("HUB_CONFIG", str(broken))
    forget_clients()
    # When the doctor runs
    status, report = stack.call("api_doctor")
    # Then it answers (not a 500) with one problem naming the field
    assert status == 200
    assert [(f["check"], f["status"]) for f in report["checks"]] == [("configuration", "problem")]
    assert "campaigns.half.provider" in report["checks"][0]["message"]


# -- GET /deadletters and POST /deadletters/redrive ---------------------------------------------------


def give_up_on_rows(stack: Stack, rows: list[dict[str, Any]]) -> str:
    """Rows whose provider is down at their last delivery allowed: the consumer counts them as failed
    and puts them in the dead-letter queue. Returns their job."""
    job_id = queue_rows(rows)
    stack.sandboxes.growsurf.inject(503, times=1000)
    stack.consume("AddParticipantQueue", receive_count=MAX_RECEIVES)
    stack.sandboxes.growsurf.faults.clear()
    return job_id


def test_a_row_given_up_on_is_listed_with_its_job_row_and_error(make_stack):
    # Given a row the consumer gave up on while GrowSurf was down
    stack = make_stack()
    job_id = give_up_on_rows(stack, [{"email": "down@example.com", "firstName": "Down"}])
    # When the dead-letter queues are listed
    status, listing = stack.call("api_list_dead_letters", query={"operation": "addParticipant"})
    # Then the add participant queue holds it, with its job, row, email and the reason
    assert status == 200
    [queue] = listing["queues"]
    assert (queue["operation"], queue["count"], listing["total"]) == ("addParticipant", 1, 1)
    [message] = queue["messages"]
    assert (message["jobId"], message["row"], message["email"]) == (job_id, 1, "down@example.com")
    assert message["errorCode"] == "PROVIDER_UNAVAILABLE"
    assert message["data"] == {"email": "down@example.com", "firstName": "Down", "metadata": {}}


def test_listing_leaves_the_messages_in_their_queue(make_stack):
    # Given a row in the dead-letter queue
    stack = make_stack()
    give_up_on_rows(stack, [{"email": "stay@example.com"}])
    # When the queues are listed twice
    stack.call("api_list_dead_letters")
    _, listing = stack.call("api_list_dead_letters")
    # Then the second listing still shows it, beside every other bulk operation's empty queue
    from hub.flows.bulk import OPERATIONS

    counts = {queue["operation"]: queue["count"] for queue in listing["queues"]}
    assert counts == {name: 0 for name in OPERATIONS} | {"addParticipant": 1}


def test_redrive_reopens_the_rows_so_the_job_counts_them_again(make_stack):
    # Given a job of two rows, both given up on while GrowSurf was down
    stack = make_stack()
    job_id = give_up_on_rows(stack, [{"email": "a@example.com"}, {"email": "b@example.com"}])
    jobs = JobStore()
    assert (jobs.get(job_id).failed, jobs.get(job_id).status) == (2, "completedWithErrors")
    # When the dead letters are redriven
    status, answer = stack.call("api_redrive_dead_letters", body={})
    # Then both moved back and their failures are no longer counted: the job waits for them again
    assert status == 200
    [queue] = [q for q in answer["queues"] if q["operation"] == "addParticipant"]
    assert (answer["moved"], answer["done"], queue["reopened"], queue["remaining"]) == (2, True, 2, 0)
    job = jobs.get(job_id)
    assert (job.failed, job.succeeded, job.status, job.failures) == (0, 0, "queued", [])


def test_redriven_rows_reach_the_provider_once_each_and_complete_the_job(make_stack):
    # Given two rows given up on, then redriven while GrowSurf is back
    stack = make_stack()
    job_id = give_up_on_rows(stack, [{"email": "c@example.com"}, {"email": "d@example.com"}])
    stack.call("api_redrive_dead_letters", body={"operation": "addParticipant"})
    # When the consumer gets them from their queue again
    result = stack.consume("AddParticipantQueue", receive_count=1)
    # Then both succeed, GrowSurf added each once, and the job is complete without failures
    assert result == {"batchItemFailures": []}
    assert sorted(added_emails(stack.sandboxes)) == ["c@example.com", "d@example.com"]
    job = JobStore().get(job_id)
    assert (job.status, job.succeeded, job.failed) == ("completed", 2, 0)
    _, listing = stack.call("api_list_dead_letters")
    assert listing["total"] == 0


def test_redrive_moves_a_message_that_is_not_a_row_as_it_is(make_stack):
    # Given a dead-letter message that is no row (sent by hand, or by an older version)
    stack = make_stack()
    sqs = boto3.client("sqs")
    sqs.send_message(QueueUrl=stack.physical["FlagDeadLetterQueue"], MessageBody="not a row")
    # When the flag queue's dead letters are redriven
    _, answer = stack.call("api_redrive_dead_letters", body={"operation": "flag"})
    # Then it is on the flag queue, unchanged, with nothing reopened
    [queue] = answer["queues"]
    assert (queue["moved"], queue["reopened"]) == (1, 0)
    moved = sqs.receive_message(QueueUrl=stack.physical["FlagQueue"])["Messages"]
    assert [m["Body"] for m in moved] == ["not a row"]


def test_a_succeeded_row_cannot_be_reopened(make_stack):
    # Given a row counted as succeeded
    make_stack()
    jobs = JobStore()
    jobs.create("ok-job", campaign="demo-growsurf", operation="addParticipant", created_at="2026-11-23T00:00:00+00:00")
    jobs.add_rows("ok-job", 1, through=1, split_done=True)
    jobs.record("ok-job", 1)
    # When it is reopened (a stale copy of its message redriven)
    reopened = jobs.reopen("ok-job", 1)
    # Then nothing changes
    job = jobs.get("ok-job")
    assert reopened is False
    assert (job.status, job.succeeded, job.failed) == ("completed", 1, 0)


@pytest.mark.parametrize(
    ("function", "variables"),
    [("ListDeadLettersFunction", ("DLQ_URL",)), ("RedriveDeadLettersFunction", ("QUEUE_URL", "DLQ_URL"))],
)
def test_the_dead_letter_functions_know_the_queues_of_every_bulk_operation(function, variables):
    # Given the bulk operations of the layer and the template's environment of the function
    from hub.flows.bulk import OPERATIONS

    environment = load().functions[function].environment
    # Then each operation's queue URLs are set (a new operation without them would answer 500)
    missing = [f"{op.env}_{v}" for op in OPERATIONS.values() for v in variables if f"{op.env}_{v}" not in environment]
    assert missing == []
