"""The SQS operations of the flows: sending rows to a queue, and reading and clearing a dead-letter queue.

Messages are SQS's own dicts (``MessageId``, ``Body``, ``ReceiptHandle``, ``Attributes``,
``MessageAttributes``). A send SQS does not take at all (the call fails) raises
:class:`~hub.domain.errors.QueueUnavailable`, the original error as its cause; entries of a batch that
SQS refuses one by one are answered, not raised (:class:`BatchSent`), for the caller to retry or fail.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from hub.aws import clients
from hub.domain.errors import QueueUnavailable


@dataclass(frozen=True)
class BatchSent:
    """What SQS did with a batch: the ids of the entries it took, and of those it refused, each with
    whether the refusal was the sender's fault (the same entry sent again would be refused again)."""

    accepted: frozenset[str]
    refused: Mapping[str, bool]


@contextmanager
def _sending() -> Iterator[None]:
    try:
        yield
    except (BotoCoreError, ClientError) as exc:
        raise QueueUnavailable("SQS did not take the message") from exc


class Queues:
    """SQS for the flows, on the process's SQS client, or on ``client`` when one is given."""

    def __init__(self, client: Any = None):
        self._client = client

    @property
    def client(self) -> Any:
        return self._client if self._client is not None else clients.client("sqs")

    def send_batch(self, url: str, entries: Sequence[tuple[str, str]]) -> BatchSent:
        """One SendMessageBatch of ``entries`` (batch id, body), at most ten."""
        with _sending():
            answer = self.client.send_message_batch(
                QueueUrl=url, Entries=[{"Id": entry_id, "MessageBody": body} for entry_id, body in entries]
            )
        return BatchSent(
            accepted=frozenset(entry["Id"] for entry in answer.get("Successful", [])),
            refused={entry["Id"]: bool(entry.get("SenderFault")) for entry in answer.get("Failed", [])},
        )

    def send(self, url: str, body: str, *, delay_seconds: int = 0, attributes: Mapping[str, str] | None = None) -> None:
        """Send one message, visible after ``delay_seconds``, with string message ``attributes``."""
        request: dict[str, Any] = {"QueueUrl": url, "MessageBody": body}
        if delay_seconds:
            request["DelaySeconds"] = delay_seconds
        if attributes:
            request["MessageAttributes"] = {
                name: {"DataType": "String", "StringValue": value} for name, value in attributes.items()
            }
        with _sending():
            self.client.send_message(**request)

    def depth(self, url: str) -> tuple[int, int]:
        """(visible, in flight) messages of a queue: SQS's approximate counts."""
        attributes = self.client.get_queue_attributes(
            QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]), int(attributes["ApproximateNumberOfMessagesNotVisible"])

    def peek(self, url: str, max_messages: int) -> list[dict[str, Any]]:
        """Up to ``max_messages`` messages (at most ten) with their attributes, left visible where they
        are (a zero visibility timeout), from a short poll."""
        answer = self.client.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=max_messages,
            VisibilityTimeout=0,
            WaitTimeSeconds=0,
            MessageAttributeNames=["All"],
            MessageSystemAttributeNames=["SentTimestamp", "ApproximateReceiveCount"],
        )
        messages: list[dict[str, Any]] = answer.get("Messages", [])
        return messages

    def receive(
        self, url: str, max_messages: int, *, visibility_seconds: int, wait_seconds: int
    ) -> list[dict[str, Any]]:
        """Up to ``max_messages`` messages (at most ten), hidden for ``visibility_seconds``; a long poll
        of ``wait_seconds`` (none: the queue is empty)."""
        answer = self.client.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=max_messages,
            VisibilityTimeout=visibility_seconds,
            WaitTimeSeconds=wait_seconds,
        )
        messages: list[dict[str, Any]] = answer.get("Messages", [])
        return messages

    def delete_batch(self, url: str, entries: Sequence[tuple[str, str]]) -> None:
        """One DeleteMessageBatch of ``entries`` (batch id, receipt handle), at most ten."""
        self.client.delete_message_batch(
            QueueUrl=url, Entries=[{"Id": entry_id, "ReceiptHandle": receipt} for entry_id, receipt in entries]
        )
