"""The local run's event sources behave as Lambda's SQS pollers and S3 notifications do, with the
settings of the template: batch size, concurrency, partial batch responses, redrive to the dead-letter
queue, timeouts, S3 key filters. AWS is moto in server mode (``LocalAws``), the template a small one
written for these tests, its functions tiny modules that record what they were handed."""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests

from local.aws import LocalAws
from local.events import EventSources
from local.gateway import Functions
from local.template import Template, load, parse_parameter_overrides

TEMPLATE = """
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Parameters:
  ConsumerTimeoutSeconds: {Type: Number, Default: 60}
  QueueVisibilitySeconds: {Type: Number, Default: 360}
  MaxReceiveCount: {Type: Number, Default: 5}
  ConsumerConcurrency: {Type: Number, Default: 5}
Globals:
  Function:
    Runtime: python3.13
    Timeout: 10
Resources:
  BatchQueue:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: 30
  BatchFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: code/
      Handler: batch.handler
      Events:
        Queue:
          Type: SQS
          Properties:
            Queue: !GetAtt BatchQueue.Arn
            BatchSize: 3
            MaximumBatchingWindowInSeconds: 1
            ScalingConfig:
              MaximumConcurrency: !Ref ConsumerConcurrency
  PartialQueue:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: !Ref QueueVisibilitySeconds
      RedrivePolicy:
        deadLetterTargetArn: !GetAtt PartialDeadLetterQueue.Arn
        maxReceiveCount: !Ref MaxReceiveCount
  PartialDeadLetterQueue:
    Type: AWS::SQS::Queue
    Properties:
      MessageRetentionPeriod: 1209600
  PartialFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: code/
      Handler: partial.handler
      Events:
        Queue:
          Type: SQS
          Properties:
            Queue: !GetAtt PartialQueue.Arn
            BatchSize: 10
            FunctionResponseTypes: [ReportBatchItemFailures]
            ScalingConfig:
              MaximumConcurrency: !Ref ConsumerConcurrency
  SlowQueue:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: 3
      RedrivePolicy:
        deadLetterTargetArn: !GetAtt SlowDeadLetterQueue.Arn
        maxReceiveCount: 3
  SlowDeadLetterQueue:
    Type: AWS::SQS::Queue
  SlowFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: code/
      Handler: slow.handler
      Timeout: !Ref ConsumerTimeoutSeconds
      Environment:
        Variables:
          SLOW_QUEUE_URL: !Ref SlowQueue
          UPLOAD_BUCKET: !Ref UploadBucket
      Events:
        Queue:
          Type: SQS
          Properties:
            Queue: !GetAtt SlowQueue.Arn
            BatchSize: 1
  UploadBucket:
    Type: AWS::S3::Bucket
  SplitFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: code/
      Handler: split.handler
      Events:
        Uploaded:
          Type: S3
          Properties:
            Bucket: !Ref UploadBucket
            Events: s3:ObjectCreated:*
            Filter:
              S3Key:
                Rules:
                  - Name: prefix
                    Value: uploads/
"""

OVERRIDES = "ConsumerTimeoutSeconds=1 QueueVisibilitySeconds=1 MaxReceiveCount=2 ConsumerConcurrency=2"

# Each function appends what it was handed to <module>.jsonl next to its code.
RECORDER = """
import json
import threading
import time
from pathlib import Path

_lock = threading.Lock()
_in_flight = 0


def record(**fields):
    with _lock, Path(__file__).with_suffix(".jsonl").open("a") as out:
        out.write(json.dumps(fields) + "\\n")
"""

HANDLERS = {
    "batch": RECORDER
    + """

def handler(event, context):
    global _in_flight
    with _lock:
        _in_flight += 1
        in_flight = _in_flight
    record(bodies=[r["body"] for r in event["Records"]], in_flight=in_flight)
    time.sleep(0.5)
    with _lock:
        _in_flight -= 1
""",
    "partial": RECORDER
    + """

def handler(event, context):
    first = []
    for r in event["Records"]:
        record(body=r["body"], id=r["messageId"], count=r["attributes"]["ApproximateReceiveCount"], record=r)
        first.append(r["attributes"]["ApproximateReceiveCount"] == "1")
    if any(r["body"].startswith("boom") and once for r, once in zip(event["Records"], first)):
        raise RuntimeError("boom")
    return {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in event["Records"] if "fail" in r["body"]]}
""",
    "slow": RECORDER
    + """

def handler(event, context):
    for r in event["Records"]:
        record(body=r["body"], count=r["attributes"]["ApproximateReceiveCount"])
        if r["body"].startswith("slow") and r["attributes"]["ApproximateReceiveCount"] == "1":
            time.sleep(2)
""",
    "split": RECORDER
    + """

def handler(event, context):
    for r in event["Records"]:
        record(record=r)
        if "broken" in r["s3"]["object"]["key"]:
            raise RuntimeError("cannot split this file")
""",
}


@dataclass
class Stack:
    template: Template
    aws: LocalAws
    functions: Functions
    code: Path
    sqs: Any
    s3: Any

    def calls(self, module: str) -> list[dict[str, Any]]:
        path = self.code / f"{module}.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

    def send(self, queue: str, *bodies: str) -> None:
        for start in range(0, len(bodies), 10):
            entries = [{"Id": str(i), "MessageBody": body} for i, body in enumerate(bodies[start : start + 10])]
            self.sqs.send_message_batch(QueueUrl=self.aws.physical[queue], Entries=entries)

    def depth(self, queue: str) -> tuple[int, int]:
        """Messages waiting in a queue, and messages received but neither deleted nor visible again."""
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.aws.physical[queue],
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]), int(attributes["ApproximateNumberOfMessagesNotVisible"])


def eventually(check: Callable[[], bool], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "the condition did not come true in time"
        time.sleep(0.1)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The test template in moto server mode, its event sources running."""
    root = tmp_path_factory.mktemp("stack")
    (root / "template.yaml").write_text(TEMPLATE)
    code = root / "code"
    code.mkdir()
    for module, source in HANDLERS.items():
        (code / f"{module}.py").write_text(source)
    template = load(root / "template.yaml").with_overrides(parse_parameter_overrides(OVERRIDES))
    saved_environment = dict(os.environ)
    aws = LocalAws(template)
    aws.start()
    functions = Functions(template)
    sources = EventSources(template, functions, aws)
    sources.start()
    try:
        yield Stack(
            template,
            aws,
            functions,
            code,
            boto3.client("sqs", endpoint_url=aws.endpoint),
            boto3.client("s3", endpoint_url=aws.endpoint),
        )
    finally:
        sources.stop()
        # The server's state lives in this process's moto backends: leave them empty for other tests.
        requests.post(f"{aws.endpoint}/moto-api/reset", timeout=5)
        aws.stop()
        os.environ.clear()
        os.environ.update(saved_environment)


def test_parameter_overrides_are_read_as_sam_writes_them():
    # Given overrides written as sam's --parameter-overrides takes them
    text = "ImportConsumerTimeoutSeconds=2 ParameterKey=Stage,ParameterValue=dev Name='a b'"
    # When they are parsed
    overrides = parse_parameter_overrides(text)
    # Then each parameter has its value
    assert overrides == {"ImportConsumerTimeoutSeconds": "2", "Stage": "dev", "Name": "a b"}


def test_overrides_set_the_timeouts_and_the_queues_settings(stack):
    # Given the test template deployed with overrides
    # When its function timeout and queue attributes are read
    attributes = stack.sqs.get_queue_attributes(QueueUrl=stack.aws.physical["PartialQueue"], AttributeNames=["All"])
    redrive = json.loads(attributes["Attributes"]["RedrivePolicy"])
    # Then they follow the overrides, not the defaults
    assert stack.template.functions["SlowFunction"].timeout == 1
    assert stack.template.functions["BatchFunction"].timeout == 10
    assert attributes["Attributes"]["VisibilityTimeout"] == "1"
    assert redrive == {"deadLetterTargetArn": stack.aws.arn("PartialDeadLetterQueue"), "maxReceiveCount": 2}


def test_the_environment_names_the_local_queue_and_bucket(stack):
    # Given the resources created in moto
    # When the functions' environment is resolved with their physical names
    environment = stack.template.environment(stack.aws.physical)
    # Then a Ref to a queue is its URL and a Ref to a bucket its local name
    assert environment["SLOW_QUEUE_URL"] == stack.aws.physical["SlowQueue"]
    assert environment["SLOW_QUEUE_URL"].startswith(stack.aws.endpoint)
    assert environment["UPLOAD_BUCKET"] == "uploadbucket"


def test_batches_respect_the_batch_size_and_the_maximum_concurrency(stack):
    # Given twelve messages in a queue polled with BatchSize 3 and MaximumConcurrency 2
    bodies = [unique("row") for _ in range(12)]
    stack.send("BatchQueue", *bodies)
    # When they have all been handled
    eventually(lambda: sum(len(call["bodies"]) for call in stack.calls("batch")) >= 12)
    eventually(lambda: stack.depth("BatchQueue") == (0, 0))
    calls = stack.calls("batch")
    # Then each message was handed over once, in batches of at most three (full ones among them)
    assert sorted(body for call in calls for body in call["bodies"]) == sorted(bodies)
    assert max(len(call["bodies"]) for call in calls) == 3
    # And never more than two invocations ran at once, two at times
    assert max(call["in_flight"] for call in calls) == 2


def test_records_have_the_shape_lambda_gives_them(stack):
    # Given a message with a message attribute
    body = unique("shape")
    stack.sqs.send_message(
        QueueUrl=stack.aws.physical["PartialQueue"],
        MessageBody=body,
        MessageAttributes={"job": {"DataType": "String", "StringValue": "j-1"}},
    )
    # When it is handed to its function
    eventually(lambda: any(call["body"] == body for call in stack.calls("partial")))
    record = next(call["record"] for call in stack.calls("partial") if call["body"] == body)
    # Then the record is an SQS record of Lambda's event
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == stack.aws.arn("PartialQueue")
    assert record["awsRegion"] == "us-east-1"
    assert record["md5OfBody"] == hashlib.md5(body.encode()).hexdigest()  # noqa: S324 (SQS's checksum)
    assert {"ApproximateReceiveCount", "SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp"} <= set(
        record["attributes"]
    )
    assert record["messageAttributes"]["job"] == {
        "stringValue": "j-1",
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": "String",
    }


def test_partial_failures_are_redelivered_then_dead_lettered(stack):
    # Given a batch where one message succeeds and one is reported failed, maxReceiveCount 2
    ok, failing = unique("ok"), unique("fail")
    stack.send("PartialQueue", ok, failing)
    # When the queue has been drained
    eventually(lambda: stack.depth("PartialDeadLetterQueue")[0] == 1)
    eventually(lambda: stack.depth("PartialQueue") == (0, 0))
    calls = stack.calls("partial")
    # Then the successful message was handled once and deleted
    assert [call["count"] for call in calls if call["body"] == ok] == ["1"]
    # And the failed one was handed over twice, then moved to the dead-letter queue
    assert [call["count"] for call in calls if call["body"] == failing] == ["1", "2"]
    dead = stack.sqs.receive_message(QueueUrl=stack.aws.physical["PartialDeadLetterQueue"], WaitTimeSeconds=1)
    assert [message["Body"] for message in dead["Messages"]] == [failing]


def test_a_batch_whose_handler_raised_is_redelivered_whole(stack):
    # Given a batch of two messages whose handler raises on first delivery
    ok, boom = unique("fine"), unique("boom")
    stack.send("PartialQueue", ok, boom)
    # When the queue has been drained
    eventually(lambda: len([call for call in stack.calls("partial") if call["body"] in (ok, boom)]) >= 4)
    eventually(lambda: stack.depth("PartialQueue") == (0, 0))
    calls = stack.calls("partial")
    # Then neither message was deleted after the failure: both came back once and then succeeded
    assert [call["count"] for call in calls if call["body"] == ok] == ["1", "2"]
    assert [call["count"] for call in calls if call["body"] == boom] == ["1", "2"]


def test_a_timed_out_invocation_leaves_its_messages_for_redelivery(stack):
    # Given a function whose Timeout (overridden to 1 s) is shorter than its first run for "slow" (2 s
    # of success), and a queue that hides a message for 3 s
    body = unique("slow")
    stack.send("SlowQueue", body)
    # When the queue has been drained
    eventually(lambda: len([call for call in stack.calls("slow") if call["body"] == body]) >= 2)
    eventually(lambda: stack.depth("SlowQueue") == (0, 0))
    # Then the message was not deleted when the first invocation timed out, nor when it returned late:
    # it was handed over again
    assert [call["count"] for call in stack.calls("slow") if call["body"] == body] == ["1", "2"]
    assert stack.depth("SlowDeadLetterQueue") == (0, 0)


def test_an_uploaded_object_triggers_its_function_once(stack):
    # Given an object uploaded under the event's prefix, and one elsewhere
    key, content = f"uploads/{unique('rows')} 1.csv", b"email\nada@example.com\n"
    stack.s3.put_object(Bucket="uploadbucket", Key=key, Body=content)
    stack.s3.put_object(Bucket="uploadbucket", Key="elsewhere/rows.csv", Body=content)
    # When the notification has been delivered (and a few more polls of the bucket have passed)
    eventually(lambda: len(split_records(stack, key)) >= 1)
    time.sleep(1.5)
    records = split_records(stack, key)
    # Then the function was invoked once, for the object under the prefix, with the S3 event record
    assert len(records) == 1
    record = records[0]
    assert record["eventSource"] == "aws:s3"
    assert record["eventName"] == "ObjectCreated:Put"
    assert record["s3"]["bucket"] == {
        "name": "uploadbucket",
        "ownerIdentity": {"principalId": "LOCAL"},
        "arn": "arn:aws:s3:::uploadbucket",
    }
    assert record["s3"]["object"]["key"] == key.replace(" ", "+")
    assert record["s3"]["object"]["size"] == len(content)
    assert record["s3"]["object"]["eTag"] == hashlib.md5(content).hexdigest()  # noqa: S324 (S3's ETag)
    assert not [call for call in stack.calls("split") if "elsewhere/" in call["record"]["s3"]["object"]["key"]]


def test_a_failing_s3_invocation_is_retried_twice(stack):
    # Given an uploaded object whose function always fails
    key = f"uploads/{unique('broken')}.csv"
    stack.s3.put_object(Bucket="uploadbucket", Key=key, Body=b"email\n")
    # When the retries are over (the next would come 2 s after the third attempt)
    eventually(lambda: len(split_records(stack, key)) >= 3)
    time.sleep(3)
    # Then the function was invoked three times in all, as Lambda does for an asynchronous event
    assert len(split_records(stack, key)) == 3


def split_records(stack: Stack, key: str) -> list[dict[str, Any]]:
    encoded = key.replace(" ", "+")
    return [call["record"] for call in stack.calls("split") if call["record"]["s3"]["object"]["key"] == encoded]


def test_stopping_ends_every_poller(stack):
    # Given a second set of event sources on the same resources, started
    before = set(threading.enumerate())
    sources = EventSources(stack.template, stack.functions, stack.aws)
    sources.start()
    started = pollers(set(threading.enumerate()) - before)
    # When they are stopped
    sources.stop()
    # Then none of their threads is left
    assert {name.split("-")[0] for name in started} == {"sqs", "s3"}
    assert not pollers(set(threading.enumerate()) - before)


def pollers(threads: set[threading.Thread]) -> list[str]:
    return [thread.name for thread in threads if thread.is_alive() and thread.name.startswith(("sqs-", "s3-"))]
