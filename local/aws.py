"""AWS for the local run: moto in server mode on loopback, with the template's own tables, queues
(dead-letter queues and redrive policies included) and buckets.

boto3 in every function finds it through ``AWS_ENDPOINT_URL``, as it would find the real services
through their default endpoints; dummy credentials keep a real account out of reach.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from typing import Any

import boto3
from moto.server import ThreadedMotoServer

from .template import Template

LOCAL_REGION = "us-east-1"


class LocalAws:
    """A moto server with the tables, queues and buckets of the template created in it."""

    def __init__(self, template: Template, port: int = 0):
        _lazy_queue_attributes()
        self.template = template
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        self.endpoint = ""
        # Logical id -> what a Ref to it gives locally: table name, queue URL, bucket name.
        self.physical: dict[str, str] = {}
        self._queue_arns: dict[str, str] = {}

    def start(self) -> str:
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"
        os.environ.update(
            {
                "AWS_ENDPOINT_URL": self.endpoint,
                "AWS_ACCESS_KEY_ID": "local",
                "AWS_SECRET_ACCESS_KEY": "local",
                "AWS_DEFAULT_REGION": LOCAL_REGION,
                "AWS_REGION": LOCAL_REGION,
            }
        )
        os.environ.pop("AWS_PROFILE", None)
        self.create_tables()
        self.create_queues()
        self.create_buckets()
        return self.endpoint

    def stop(self) -> None:
        self._server.stop()

    def create_tables(self) -> None:
        create_tables(self.template, boto3.client("dynamodb", endpoint_url=self.endpoint))
        self.physical.update({name: name for name in self.template.tables()})

    def create_queues(self) -> None:
        queues = create_queues(self.template, boto3.client("sqs", endpoint_url=self.endpoint))
        for name, (url, arn) in queues.items():
            self.physical[name] = url
            self._queue_arns[name] = arn

    def create_buckets(self) -> None:
        self.physical.update(create_buckets(self.template, boto3.client("s3", endpoint_url=self.endpoint)))

    def arn(self, logical_id: str) -> str:
        """The ARN of one of the template's queues, as created locally."""
        return self._queue_arns[logical_id]


def create_tables(template: Template, dynamodb: Any) -> None:
    """Create each ``AWS::DynamoDB::Table`` of the template, named by its logical id."""
    for name, props in template.tables().items():
        dynamodb.create_table(**table_arguments(name, props))
        ttl = props.get("TimeToLiveSpecification")
        if ttl:
            dynamodb.update_time_to_live(TableName=name, TimeToLiveSpecification=dict(ttl))


def table_arguments(name: str, props: dict[str, Any]) -> dict[str, Any]:
    """``create_table`` arguments from a table's CloudFormation properties."""
    args: dict[str, Any] = {
        "TableName": name,
        "AttributeDefinitions": [dict(a) for a in props["AttributeDefinitions"]],
        "KeySchema": [dict(k) for k in props["KeySchema"]],
        "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
    }
    indexes = props.get("GlobalSecondaryIndexes")
    if indexes:
        args["GlobalSecondaryIndexes"] = [
            {
                "IndexName": i["IndexName"],
                "KeySchema": [dict(k) for k in i["KeySchema"]],
                "Projection": dict(i["Projection"]),
            }
            for i in indexes
        ]
    return args


# Queue properties that are SQS attributes of the same name and meaning.
QUEUE_ATTRIBUTES = (
    "VisibilityTimeout",
    "MessageRetentionPeriod",
    "DelaySeconds",
    "MaximumMessageSize",
    "ReceiveMessageWaitTimeSeconds",
    "FifoQueue",
    "ContentBasedDeduplication",
)


def create_queues(template: Template, sqs: Any) -> dict[str, tuple[str, str]]:
    """Create each ``AWS::SQS::Queue`` of the template, named by its logical id (``.fifo`` added for
    a FIFO queue), each dead-letter queue before the queues that redrive to it; return each queue's
    URL and ARN by logical id."""
    pending = {
        name: resource.get("Properties", {})
        for name, resource in template.resources.items()
        if resource.get("Type") == "AWS::SQS::Queue"
    }
    created: dict[str, tuple[str, str]] = {}
    while pending:
        ready = [name for name, props in pending.items() if _dead_letter_target(props) in (None, *created)]
        if not ready:
            raise RuntimeError(f"the dead-letter queues of {sorted(pending)} are not queues of the template")
        for name in ready:
            props = pending.pop(name)
            attributes = {key: _attribute(template.resolve(props[key])) for key in QUEUE_ATTRIBUTES if key in props}
            policy = props.get("RedrivePolicy")
            if policy:
                target = _dead_letter_target(props)
                dead_letter_arn = created[target][1] if target else template.resolve(policy["deadLetterTargetArn"])
                max_receive_count = int(template.resolve(policy["maxReceiveCount"]))
                attributes["RedrivePolicy"] = json.dumps(
                    {"deadLetterTargetArn": dead_letter_arn, "maxReceiveCount": max_receive_count}
                )
            queue_name = f"{name}.fifo" if attributes.get("FifoQueue") == "true" else name
            url = sqs.create_queue(QueueName=queue_name, Attributes=attributes)["QueueUrl"]
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            created[name] = (url, arn)
    return created


def _dead_letter_target(props: dict[str, Any]) -> str | None:
    """The logical id of the queue a queue's redrive policy names (``!GetAtt Queue.Arn``), if any."""
    target = (props.get("RedrivePolicy") or {}).get("deadLetterTargetArn")
    if isinstance(target, dict) and "Fn::GetAtt" in target:
        attribute = target["Fn::GetAtt"]
        return str(attribute[0] if isinstance(attribute, list) else attribute.split(".")[0])
    return None


def _attribute(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def create_buckets(template: Template, s3: Any) -> dict[str, str]:
    """Create each ``AWS::S3::Bucket`` of the template, named by its logical id in lower case (a
    valid bucket name, where the deployed name depends on account and stage); return the names by
    logical id."""
    names = {
        logical_id: logical_id.lower()
        for logical_id, resource in template.resources.items()
        if resource.get("Type") == "AWS::S3::Bucket"
    }
    for name in names.values():
        s3.create_bucket(Bucket=name)
    return names


class _QueueAttributes(Mapping[str, Any]):
    """A moto queue's attributes, computed only when more than its deduplication setting is read.

    moto builds every attribute of a queue, counting all its messages, each time it reads one on
    SendMessage (``ContentBasedDeduplication``), which makes a send cost as much as the queue is deep
    and a 5,000-row import quadratic. The answers are the same; only that hot read skips the count.
    """

    def __init__(self, queue: Any, compute: Any):
        self._queue = queue
        self._compute = compute
        self._all: dict[str, Any] | None = None

    def _full(self) -> dict[str, Any]:
        if self._all is None:
            self._all = self._compute(self._queue)
        return self._all

    def get(self, key: str, default: Any = None) -> Any:
        if key == "ContentBasedDeduplication" and self._all is None:
            # As moto answers it: a FIFO queue's setting, which a standard queue does not have.
            if not self._queue.fifo_queue:
                return default
            return _attribute(self._queue.content_based_deduplication)
        return self._full().get(key, default)

    def __getitem__(self, key: str) -> Any:
        return self._full()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._full())

    def __len__(self) -> int:
        return len(self._full())


def _lazy_queue_attributes() -> None:
    from moto.sqs.models import Queue

    compute = Queue.attributes.fget  # type: ignore[attr-defined]
    if getattr(compute, "lazy", False):
        return

    def attributes(queue: Any) -> _QueueAttributes:
        return _QueueAttributes(queue, compute)

    attributes.lazy = True  # type: ignore[attr-defined]
    Queue.attributes = property(attributes)  # type: ignore[method-assign,assignment]
