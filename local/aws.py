"""AWS for the local run: moto in server mode on loopback, with the template's own tables, queues
(dead-letter queues and redrive policies included) and buckets.

boto3 in every function finds it through ``AWS_ENDPOINT_URL``, as it would find the real services
through their default endpoints; dummy credentials keep a real account out of reach.
"""

from __future__ import annotations

import copy
import json
import os
import threading
from collections.abc import Iterator, Mapping
from typing import Any

import boto3
import requests
from moto.server import ThreadedMotoServer

from .template import Template

LOCAL_REGION = "us-east-1"


class LocalAws:
    """A moto server with the tables, queues and buckets of the template created in it."""

    def __init__(self, template: Template, port: int = 0):
        _lazy_queue_attributes()
        _atomic_dynamodb()
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
        # moto's state is the process's, not the server's: reset it, so that another LocalAws of this
        # process (a later test module) starts from an empty account as this one did.
        try:
            requests.post(f"{self.endpoint}/moto-api/reset", timeout=10)
        finally:
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
            attributes = _queue_attributes(template, pending.pop(name), created)
            created[name] = _create_queue(sqs, name, attributes)
    return created


def _queue_attributes(template: Template, props: dict[str, Any], created: dict[str, tuple[str, str]]) -> dict[str, str]:
    """A queue's SQS attributes from its properties; a redrive policy names its dead-letter queue by
    the ARN that queue was ``created`` with."""
    attributes = {key: _attribute(template.resolve(props[key])) for key in QUEUE_ATTRIBUTES if key in props}
    policy = props.get("RedrivePolicy")
    if policy:
        target = _dead_letter_target(props)
        dead_letter_arn = created[target][1] if target else template.resolve(policy["deadLetterTargetArn"])
        max_receive_count = int(template.resolve(policy["maxReceiveCount"]))
        attributes["RedrivePolicy"] = json.dumps(
            {"deadLetterTargetArn": dead_letter_arn, "maxReceiveCount": max_receive_count}
        )
    return attributes


def _create_queue(sqs: Any, name: str, attributes: dict[str, str]) -> tuple[str, str]:
    """Create the queue of logical id ``name``; its URL and ARN."""
    queue_name = f"{name}.fifo" if attributes.get("FifoQueue") == "true" else name
    url = sqs.create_queue(QueueName=queue_name, Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


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
    """A moto queue's attributes, each computed when it is read.

    moto builds every attribute of a queue, counting all its messages, each time it reads one: on
    every SendMessage (``ContentBasedDeduplication``) and, on ReceiveMessage, once per message looked
    at (``MessageRetentionPeriod``). That makes a send cost as much as the queue is deep and a
    receive cost its square: a 5,000-row import would crawl. The names and values are moto's own
    (the same rules as ``Queue.attributes``); only the message counts wait until they are asked for.
    """

    def __init__(self, queue: Any):
        self._queue = queue

    def _names(self) -> list[str]:
        queue = self._queue
        names = list(queue.BASE_ATTRIBUTES)
        if queue.fifo_queue:
            names += queue.FIFO_ATTRIBUTES
        if queue.kms_master_key_id:
            names += queue.KMS_ATTRIBUTES
        if queue.policy:
            names.append("Policy")
        if queue.redrive_policy:
            names.append("RedrivePolicy")
        return names

    def __getitem__(self, key: str) -> Any:
        if key not in self._names():
            raise KeyError(key)
        from moto.core.utils import camelcase_to_underscores

        if key == "Policy":
            return self._queue.policy
        if key == "RedrivePolicy":
            return json.dumps(self._queue.redrive_policy)
        value = getattr(self._queue, camelcase_to_underscores(key))
        return _attribute(value) if isinstance(value, bool) else value

    def __contains__(self, key: object) -> bool:
        return key in self._names()

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())

    def __len__(self) -> int:
        return len(self._names())


def _lazy_queue_attributes() -> None:
    from moto.sqs.models import Queue

    if getattr(Queue.attributes.fget, "lazy", False):  # type: ignore[attr-defined]
        return

    def attributes(queue: Any) -> _QueueAttributes:
        return _QueueAttributes(queue)

    attributes.lazy = True  # type: ignore[attr-defined]
    Queue.attributes = property(attributes)  # type: ignore[method-assign,assignment]


_dynamodb_lock = threading.RLock()
_in_transaction = threading.local()


def _atomic_dynamodb() -> None:
    """Make moto's DynamoDB writes behave as DynamoDB's do when the local run's threads race.

    - Each write (and each transaction) is atomic: moto server serves requests on many threads and
      evaluates a condition and applies the update as separate steps, so two conditional updates of
      one item (the shared rate limiter's schedule, a job's row marker) could both pass. One lock
      around writes makes them atomic, as a DynamoDB item write is.
    - A transaction snapshots only the items it writes: moto deep-copies every table a transaction
      touches to be able to roll back, which makes each row's outcome cost as much as the whole jobs
      table and a bulk import quadratic.
    """
    from moto.dynamodb import models

    backend = models.DynamoDBBackend
    if getattr(backend.transact_write_items, "atomic", False):
        return

    class _ItemLevelCopy:
        """``copy`` as the transaction code sees it: the live table instead of a deep copy of it
        (the rollback below restores the items the transaction wrote)."""

        @staticmethod
        def deepcopy(value: Any, memo: Any = None) -> Any:
            if getattr(_in_transaction, "active", False) and isinstance(value, models.Table):
                return value
            return copy.deepcopy(value, memo)

    models.copy = _ItemLevelCopy  # type: ignore[assignment]

    def locked(method: Any) -> Any:
        def write(self: Any, *args: Any, **kwargs: Any) -> Any:
            with _dynamodb_lock:
                return method(self, *args, **kwargs)

        return write

    for name in ("put_item", "update_item", "delete_item"):
        setattr(backend, name, locked(getattr(backend, name)))

    transact = backend.transact_write_items

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        with _dynamodb_lock:
            before = []
            for entry in transact_items:
                _, op = next(iter(entry.items()))
                table = self.get_table(op["TableName"])
                key = op.get("Key")
                if key is None:
                    names = [table.hash_key_attr, *([table.range_key_attr] if table.range_key_attr else [])]
                    key = {name: op["Item"][name] for name in names}
                old = self.get_item(op["TableName"], key)
                before.append((op["TableName"], key, None if old is None else old.to_json()["Attributes"]))
            _in_transaction.active = True
            try:
                transact(self, transact_items)
            except Exception:
                for table_name, key, attributes in before:
                    if attributes is None:
                        self.delete_item(table_name, key)
                    else:
                        self.put_item(table_name, attributes)
                raise
            finally:
                _in_transaction.active = False

    transact_write_items.atomic = True  # type: ignore[attr-defined]
    backend.transact_write_items = transact_write_items  # type: ignore[method-assign]
