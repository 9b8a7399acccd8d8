"""Event sources for the local run: what Lambda's SQS pollers and S3's notifications do in AWS, with
the template's own settings.

- Each ``SQS`` event of a function is an event source mapping: ``MaximumConcurrency`` pollers each
  gather up to ``BatchSize`` messages within ``MaximumBatchingWindowInSeconds``, invoke the function
  with the SQS batch event and delete the messages that succeeded (with ``ReportBatchItemFailures``,
  all but those the function names). The others become visible again after the queue's visibility
  timeout, and the queue's redrive policy moves a message to its dead-letter queue after
  ``maxReceiveCount`` receives (moto does that on receive, as SQS does).
- Each ``S3`` event of a function is a bucket notification: new objects matching the event's key
  filter invoke the function asynchronously with the S3 event, retried twice on error as Lambda does.

An invocation that outlives the function's timeout counts as failed, as if Lambda had stopped it: its
messages are left for redelivery and its eventual result is ignored. Python cannot stop a thread, so
the handler itself runs on in the background until it returns.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote_plus

import boto3
from botocore.config import Config

from .aws import LOCAL_REGION, LocalAws
from .gateway import Functions
from .template import Function, Template

log = logging.getLogger("local.events")

# Without ScalingConfig, Lambda starts polling a queue with five concurrent batches.
DEFAULT_CONCURRENCY = 5
MAX_PAYLOAD_BYTES = 6 * 1024 * 1024  # Lambda invokes early once a batch reaches its payload limit
S3_POLL_SECONDS = 0.5
ASYNC_RETRIES = 2  # Lambda retries a failed asynchronous invocation twice...
ASYNC_RETRY_DELAYS = (1.0, 2.0)  # ...after about 1 and 2 minutes; seconds are enough locally
STOP_GRACE_SECONDS = 1.5

# The system attributes of a message that Lambda puts in an SQS record.
LAMBDA_ATTRIBUTES = (
    "ApproximateReceiveCount",
    "AWSTraceHeader",
    "SentTimestamp",
    "SenderId",
    "ApproximateFirstReceiveTimestamp",
    "SequenceNumber",
    "MessageGroupId",
    "MessageDeduplicationId",
)


class Stop:
    """Asks the event sources to stop, and lets invocations still running after a grace period be
    abandoned."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._abandon_at = float("inf")

    def set(self, grace: float) -> None:
        self._abandon_at = time.monotonic() + grace
        self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()

    def wait(self, seconds: float) -> bool:
        return self._event.wait(seconds)

    def abandon(self) -> bool:
        return time.monotonic() >= self._abandon_at


@dataclass(frozen=True)
class Invocation:
    """How an invocation ended: with a result, an error, or not within the function's timeout."""

    result: Any = None
    error: BaseException | None = None
    timed_out: bool = False

    @property
    def failed(self) -> bool:
        return self.error is not None or self.timed_out


def invoke(functions: Functions, fn: Function, event: dict[str, Any], stop: Stop) -> Invocation:
    """Invoke ``fn`` in its own thread and wait at most its timeout, counted from the end of its cold
    start (Lambda does not count the init phase against the timeout)."""
    box: dict[str, Any] = {}
    done = threading.Event()

    def run() -> None:
        try:
            functions.handler(fn)
            box["started"] = time.monotonic()
            result = functions.invoke(fn, event)
            # Lambda hands the caller the result serialized: one that is not JSON is an error.
            box["result"] = json.loads(json.dumps(result))
        except BaseException as error:
            box["error"] = error
        finally:
            done.set()

    threading.Thread(target=run, name=f"lambda-{fn.logical_id}", daemon=True).start()
    while not done.wait(0.05):
        started = box.get("started")
        if started is not None and time.monotonic() >= started + fn.timeout:
            log.warning("%s timed out after %s s", fn.logical_id, fn.timeout)
            return Invocation(timed_out=True)
        if stop.abandon():
            log.warning("%s still running at stop: abandoned", fn.logical_id)
            return Invocation(timed_out=True)
    if "error" in box:
        log.error("%s failed", fn.logical_id, exc_info=box["error"])
        return Invocation(error=box["error"])
    return Invocation(result=box.get("result"))


# moto answers ReceiveMessage without holding a lock on the queue, so two receives at the same time
# can hand out the same message (or both move it to the dead-letter queue); SQS does not. The pollers
# of one queue therefore receive one at a time (each receive returns as soon as messages arrive).
_receive_locks: dict[str, threading.Lock] = {}
_receive_locks_guard = threading.Lock()


def _receive_lock(queue_url: str) -> threading.Lock:
    with _receive_locks_guard:
        return _receive_locks.setdefault(queue_url, threading.Lock())


class QueuePoller:
    """One SQS event source mapping: ``MaximumConcurrency`` pollers of one queue for one function."""

    def __init__(
        self,
        functions: Functions,
        fn: Function,
        properties: dict[str, Any],
        *,
        queue_url: str,
        queue_arn: str,
        resolve: Callable[[Any], Any],
        stop: Stop,
        endpoint: str,
    ):
        self.functions = functions
        self.fn = fn
        self.queue_url = queue_url
        self.queue_arn = queue_arn
        self.batch_size = int(resolve(properties.get("BatchSize", 10)))
        self.window = float(resolve(properties.get("MaximumBatchingWindowInSeconds", 0)))
        self.report_failures = "ReportBatchItemFailures" in (properties.get("FunctionResponseTypes") or [])
        scaling = properties.get("ScalingConfig") or {}
        self.concurrency = int(resolve(scaling.get("MaximumConcurrency", DEFAULT_CONCURRENCY)))
        self._stop = stop
        self._lock = _receive_lock(queue_url)
        self._sqs = boto3.session.Session().client(
            "sqs",
            endpoint_url=endpoint,
            region_name=LOCAL_REGION,
            config=Config(max_pool_connections=self.concurrency + 2, retries={"mode": "standard"}),
        )
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for index in range(self.concurrency):
            thread = threading.Thread(target=self._poll, name=f"sqs-{self.fn.logical_id}-{index}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def join(self, deadline: float) -> None:
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def _poll(self) -> None:
        while not self._stop.is_set():
            try:
                batch = self._gather()
                if batch and self._stop.is_set():
                    self._release(batch)
                elif batch:
                    self._process(batch)
            except Exception:
                # A poller keeps polling, as Lambda's does, whatever one attempt ran into.
                if not self._stop.is_set():
                    log.exception("polling %s for %s failed", self.queue_url, self.fn.logical_id)
                    self._stop.wait(1)

    def _gather(self) -> list[dict[str, Any]]:
        """Up to ``BatchSize`` messages: long-poll until the first arrive, then keep receiving until
        the batching window has passed, the batch is full or it reaches the payload limit."""
        batch: list[dict[str, Any]] = []
        window_ends: float | None = None
        size = 0
        while self._takes_more(batch, size):
            remaining = 1.0 if window_ends is None else window_ends - time.monotonic()
            if remaining <= 0:
                break
            received = self._receive(
                min(10, self.batch_size - len(batch)), wait=1 if remaining >= 1 else 0, deadline=window_ends
            )
            if received:
                batch += received
                size += _body_bytes(received)
                if window_ends is None:
                    window_ends = time.monotonic() + self.window
            elif remaining < 1:
                self._stop.wait(min(0.1, remaining))
        return batch

    def _takes_more(self, batch: list[dict[str, Any]], size: int) -> bool:
        """Whether a batch being gathered of ``size`` bytes of bodies takes more messages: it is not
        full, is under the payload limit, and the pollers are not stopping."""
        return not self._stop.is_set() and len(batch) < self.batch_size and size < MAX_PAYLOAD_BYTES

    def _receive(self, count: int, wait: int, deadline: float | None = None) -> list[dict[str, Any]]:
        """Up to ``count`` messages. With a ``deadline`` (a batch being gathered), waiting for the
        queue's receive lock ends with it: the lock is not fair, and the other pollers' long polls
        would otherwise keep a batch that is ready from being invoked."""
        while not self._lock.acquire(
            timeout=0.5 if deadline is None else min(0.5, max(0.0, deadline - time.monotonic()))
        ):
            if self._stop.is_set() or (deadline is not None and time.monotonic() >= deadline):
                return []
        try:
            answer = self._sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=count,
                WaitTimeSeconds=wait,
                AttributeNames=["All"],
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
        finally:
            self._lock.release()
        return [dict(message) for message in answer.get("Messages", [])]

    def _process(self, messages: list[dict[str, Any]]) -> None:
        event = {"Records": [sqs_record(message, self.queue_arn) for message in messages]}
        outcome = invoke(self.functions, self.fn, event, self._stop)
        succeeded = self.succeeded(messages, outcome)
        log.debug("%s: batch of %d, %d succeeded", self.fn.logical_id, len(messages), len(succeeded))
        self._delete(succeeded)

    def succeeded(self, messages: list[dict[str, Any]], outcome: Invocation) -> list[dict[str, Any]]:
        """The messages of a batch that Lambda deletes after ``outcome``: all of them after a success;
        with ``ReportBatchItemFailures``, all but those the response names (none when the response
        is malformed or names a message not in the batch); none after an error or a timeout."""
        if outcome.failed:
            return []
        if not self.report_failures or outcome.result is None:
            return messages
        failed = self._reported_failures(outcome.result, messages)
        if failed is None:
            return []
        return [message for message in messages if message["MessageId"] not in failed]

    def _reported_failures(self, response: Any, messages: list[dict[str, Any]]) -> set[str] | None:
        """The ids of the messages a partial batch response names as failed; ``None`` when the
        response is malformed or names a message not in the batch (the whole batch failed)."""
        if not isinstance(response, dict):
            log.warning("%s: a partial batch response must be an object, not %r", self.fn.logical_id, response)
            return None
        ids = {message["MessageId"] for message in messages}
        failed = set()
        for failure in response.get("batchItemFailures") or []:
            identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
            if not isinstance(identifier, str) or identifier not in ids:
                log.warning("%s: invalid batchItemFailures entry %r: the batch failed", self.fn.logical_id, failure)
                return None
            failed.add(identifier)
        return failed

    def _delete(self, messages: list[dict[str, Any]]) -> None:
        for start in range(0, len(messages), 10):
            chunk = messages[start : start + 10]
            answer = self._sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"]} for index, message in enumerate(chunk)
                ],
            )
            for failure in answer.get("Failed", []):
                log.warning("%s: could not delete a message: %s", self.fn.logical_id, failure.get("Message"))

    def _release(self, messages: list[dict[str, Any]]) -> None:
        """Make the messages of a batch that will not be processed visible again at once."""
        self._sqs.change_message_visibility_batch(
            QueueUrl=self.queue_url,
            Entries=[
                {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"], "VisibilityTimeout": 0}
                for index, message in enumerate(messages)
            ],
        )


def _body_bytes(messages: list[dict[str, Any]]) -> int:
    """The size of the messages' bodies, as the payload limit counts it."""
    return sum(len(message.get("Body", "").encode()) for message in messages)


def sqs_record(message: dict[str, Any], queue_arn: str) -> dict[str, Any]:
    """A received message as a record of the SQS event Lambda hands a function."""
    attributes = message.get("Attributes", {})
    record = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message.get("Body", ""),
        "attributes": {name: attributes[name] for name in LAMBDA_ATTRIBUTES if name in attributes},
        "messageAttributes": {
            name: lambda_message_attribute(value) for name, value in message.get("MessageAttributes", {}).items()
        },
        "md5OfBody": message.get("MD5OfBody"),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": LOCAL_REGION,
    }
    if "MD5OfMessageAttributes" in message:
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    return record


def lambda_message_attribute(value: dict[str, Any]) -> dict[str, Any]:
    """A message attribute as SQS's API gives it, in the shape of Lambda's SQS event."""
    attribute: dict[str, Any] = {
        "stringListValues": list(value.get("StringListValues", [])),
        "binaryListValues": [base64.b64encode(item).decode("ascii") for item in value.get("BinaryListValues", [])],
        "dataType": value["DataType"],
    }
    if "StringValue" in value:
        attribute["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        attribute["binaryValue"] = base64.b64encode(value["BinaryValue"]).decode("ascii")
    return attribute


class S3Notifier:
    """One S3 event of a function: new objects of a bucket that match the key filter invoke it."""

    def __init__(
        self,
        functions: Functions,
        fn: Function,
        properties: dict[str, Any],
        *,
        bucket: str,
        stop: Stop,
        endpoint: str,
        retries: int = ASYNC_RETRIES,
    ):
        self.functions = functions
        self.fn = fn
        self.bucket = bucket
        rules = ((properties.get("Filter") or {}).get("S3Key") or {}).get("Rules") or []
        self.filters = {str(rule["Name"]).lower(): str(rule["Value"]) for rule in rules}
        events = properties.get("Events") or []
        self.events = [events] if isinstance(events, str) else list(events)
        self.retries = retries
        self._stop = stop
        self._s3 = boto3.session.Session().client("s3", endpoint_url=endpoint, region_name=LOCAL_REGION)
        self._seen: dict[str, dict[str, Any]] = {}
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        if not any(event.startswith(("s3:ObjectCreated:", "s3:*")) for event in self.events):
            log.warning("%s: only s3:ObjectCreated events are emulated, not %s", self.fn.logical_id, self.events)
            return
        # Notifications are for what is created from now on.
        self._seen = self._objects()
        thread = threading.Thread(target=self._watch, name=f"s3-{self.fn.logical_id}", daemon=True)
        thread.start()
        self._threads.append(thread)

    def join(self, deadline: float) -> None:
        for thread in list(self._threads):
            thread.join(max(0.0, deadline - time.monotonic()))

    def _objects(self) -> dict[str, dict[str, Any]]:
        """The objects of the bucket that match the key filter, by key."""
        objects = {}
        pages = self._s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self.filters.get("prefix", "")
        )
        for page in pages:
            for item in page.get("Contents", []):
                if item["Key"].endswith(self.filters.get("suffix", "")):
                    objects[item["Key"]] = dict(item)
        return objects

    def _watch(self) -> None:
        while not self._stop.wait(S3_POLL_SECONDS):
            try:
                current = self._objects()
            except Exception:
                if not self._stop.is_set():
                    log.exception("listing bucket %s for %s failed", self.bucket, self.fn.logical_id)
                continue
            # A new key, or a key written again (a new ETag or modification time), is a new object.
            created = [item for key, item in current.items() if _version(self._seen.get(key)) != _version(item)]
            self._seen = current
            for item in created:
                self._notify(item)

    def _notify(self, item: dict[str, Any]) -> None:
        event = {"Records": [s3_record(self.bucket, item["Key"], item["Size"], item["ETag"], item["LastModified"])]}
        # An asynchronous invocation: the bucket does not wait for the function.
        thread = threading.Thread(
            target=self._invoke, args=(event,), name=f"s3-{self.fn.logical_id}-invoke", daemon=True
        )
        thread.start()
        self._threads = [t for t in self._threads if t.is_alive()] + [thread]

    def _invoke(self, event: dict[str, Any]) -> None:
        for attempt in range(self.retries + 1):
            if attempt:
                delay = ASYNC_RETRY_DELAYS[min(attempt, len(ASYNC_RETRY_DELAYS)) - 1]
                if self._stop.wait(delay):
                    return
                log.warning("%s: retrying the S3 event (attempt %d)", self.fn.logical_id, attempt + 1)
            if not invoke(self.functions, self.fn, event, self._stop).failed:
                return
        log.error("%s: the S3 event failed %d times; dropped", self.fn.logical_id, self.retries + 1)


def _version(item: dict[str, Any] | None) -> tuple[Any, Any] | None:
    return None if item is None else (item.get("ETag"), item.get("LastModified"))


def s3_record(bucket: str, key: str, size: int, etag: str, modified: datetime) -> dict[str, Any]:
    """The record of an object creation in the S3 event Lambda hands a function."""
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": LOCAL_REGION,
        "eventTime": modified.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "eventName": "ObjectCreated:Put",
        "userIdentity": {"principalId": "AWS:LOCAL"},
        "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {"x-amz-request-id": uuid.uuid4().hex[:16].upper(), "x-amz-id-2": uuid.uuid4().hex},
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "local",
            "bucket": {"name": bucket, "ownerIdentity": {"principalId": "LOCAL"}, "arn": f"arn:aws:s3:::{bucket}"},
            # S3 URL-encodes the key in events, a space as "+", the slashes as they are.
            "object": {
                "key": quote_plus(key, safe="/"),
                "size": size,
                "eTag": etag.strip('"'),
                "sequencer": f"{time.time_ns():X}",
            },
        },
    }


class EventSources:
    """Every SQS event source mapping and S3 notification of the template, running locally."""

    def __init__(self, template: Template, functions: Functions, aws: LocalAws):
        self._stop = Stop()
        self.pollers: list[QueuePoller] = []
        self.notifiers: list[S3Notifier] = []
        self._template = template
        self._functions = functions
        self._aws = aws
        self._queues = [name for name, res in template.resources.items() if res.get("Type") == "AWS::SQS::Queue"]
        self._queues_by_arn = {aws.arn(name): name for name in self._queues}
        # The event types that are event sources, and what adds a source of each.
        add_source: dict[str, Callable[[Function, str, dict[str, Any]], None]] = {
            "SQS": self._add_poller,
            "S3": self._add_notifier,
        }
        for fn in template.functions.values():
            for name, event in fn.events.items():
                properties = dict(event.get("Properties") or {})
                if not self._enabled(properties):
                    continue
                add = add_source.get(str(event.get("Type")))
                if add is not None:
                    add(fn, name, properties)

    def _resolve(self, value: Any) -> Any:
        """A template value as the local run sees it, a resource as its local name or URL."""
        return self._template.resolve(value, self._aws.physical)

    def _enabled(self, properties: dict[str, Any]) -> bool:
        """Whether an event source is on: ``Enabled`` is true unless it says false."""
        return str(self._resolve(properties.get("Enabled", True))).lower() != "false"

    def _add_poller(self, fn: Function, name: str, properties: dict[str, Any]) -> None:
        """The event source mapping of the ``SQS`` event ``name`` of ``fn``."""
        queue = _logical_id(properties.get("Queue"), self._queues_by_arn)
        if queue not in self._queues:
            log.warning("%s.%s: queue %r is not in the template", fn.logical_id, name, queue)
            return
        if "FilterCriteria" in properties:
            log.warning("%s.%s: FilterCriteria is not emulated", fn.logical_id, name)
        self.pollers.append(
            QueuePoller(
                self._functions,
                fn,
                properties,
                queue_url=self._aws.physical[queue],
                queue_arn=self._aws.arn(queue),
                resolve=self._resolve,
                stop=self._stop,
                endpoint=self._aws.endpoint,
            )
        )

    def _add_notifier(self, fn: Function, name: str, properties: dict[str, Any]) -> None:
        """The bucket notification of the ``S3`` event ``name`` of ``fn``."""
        bucket = _logical_id(properties.get("Bucket"), {})
        if bucket not in self._aws.physical:
            log.warning("%s.%s: bucket %r is not in the template", fn.logical_id, name, bucket)
            return
        retries = (self._template.resources[fn.logical_id]["Properties"].get("EventInvokeConfig") or {}).get(
            "MaximumRetryAttempts", ASYNC_RETRIES
        )
        self.notifiers.append(
            S3Notifier(
                self._functions,
                fn,
                properties,
                bucket=self._aws.physical[bucket],
                stop=self._stop,
                endpoint=self._aws.endpoint,
                retries=int(self._resolve(retries)),
            )
        )

    @property
    def sources(self) -> list[QueuePoller | S3Notifier]:
        return [*self.pollers, *self.notifiers]

    def start(self) -> None:
        for source in self.sources:
            source.start()

    def stop(self, grace: float = STOP_GRACE_SECONDS) -> None:
        """Stop polling; an invocation still running after ``grace`` seconds is abandoned."""
        self._stop.set(grace)
        deadline = time.monotonic() + grace + 0.5
        for source in self.sources:
            source.join(deadline)


def _logical_id(value: Any, by_arn: dict[str, str]) -> str | None:
    """The logical id a template value refers to: ``!GetAtt Name.Arn``, ``!Ref Name`` or a known ARN."""
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        attribute = value["Fn::GetAtt"]
        return str(attribute[0] if isinstance(attribute, list) else str(attribute).split(".")[0])
    if isinstance(value, dict) and "Ref" in value:
        return str(value["Ref"])
    if isinstance(value, str):
        return by_arn.get(value)
    return None
