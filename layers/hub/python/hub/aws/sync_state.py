"""What the scheduled tasks remember between runs, in the DynamoDB table named by ``SYNC_STATE_TABLE``.

One item per thing remembered, keyed by ``pk`` alone (so a campaign's items spread over partitions):

- ``stats#<campaign>#<email>``: the fingerprint of the referral stats last queued for that contact
  (:func:`hub.flows.schedules.fingerprint`). The stats sync writes it just before queueing the contact's
  upsert, and the syncContact consumer deletes it if the upsert fails for good, so the next run queues
  the contact again. It expires after :data:`FINGERPRINT_TTL_SECONDS`, so every contact is rewritten
  at least that often even if nothing changed (a contact edited in Loops by hand is put right).
- ``reward#<campaign>#<reward id>``: the reward was announced to Loops. The syncContact consumer
  writes it (only if absent, keeping the first ``at``) once Loops accepted the event; it never expires.
- ``webhook#<provider>#<campaign>#<kind>#<identity...>``: the webhook event was sent to Loops (the
  ingress's dedup key, :meth:`hub.flows.deliveries.events.WebhookEvent.dedup_key`). Written like a
  reward's mark; it expires after :data:`WEBHOOK_MARK_TTL_SECONDS`, the ingress's dedup window.

The syncContact consumer reads a row's mark (:meth:`SyncState.marked`, a consistent read) before it
runs the row: a row whose mark is there was done already, whatever window has passed since.

Reads are batched (BatchGetItem, 100 keys a call) and fingerprint writes too (BatchWriteItem, 25 a
call); what DynamoDB leaves unprocessed is sent again with a short backoff.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from hub.aws import clients
from hub.domain.errors import SyncStateUnavailable
from hub.settings import env

#: A contact whose stats did not change is rewritten after this long anyway.
FINGERPRINT_TTL_SECONDS = 30 * 24 * 3600
#: A webhook event's mark is kept as long as the ingress remembers the event (providers retry for days).
WEBHOOK_MARK_TTL_SECONDS = 7 * 24 * 3600
#: DynamoDB's limits per BatchGetItem and per BatchWriteItem.
BATCH_GET = 100
BATCH_WRITE = 25
#: Rounds of resending what DynamoDB left unprocessed before giving up.
UNPROCESSED_ROUNDS = 8


def stats_key(campaign: str, email: str) -> str:
    """The item holding the fingerprint of a contact's referral stats in a campaign."""
    return f"stats#{campaign}#{email.strip().lower()}"


def reward_key(campaign: str, reward_id: str) -> str:
    """The item marking a campaign's reward as announced."""
    return f"reward#{campaign}#{reward_id}"


def _expiry(key: str) -> str | None:
    """When the mark ``key`` expires (epoch seconds), or None for a mark kept forever."""
    if key.startswith("webhook#"):
        return str(int(time.time()) + WEBHOOK_MARK_TTL_SECONDS)
    return None


def _chunks(items: list[Any], size: int) -> Iterable[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class SyncState:
    """Reads and writes the scheduled tasks' state items."""

    def __init__(self, table_name: str | None = None, client: Any = None):
        name = table_name or env.required("SYNC_STATE_TABLE")
        self.table_name = name
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = clients.client("dynamodb")
        return self._client

    def fingerprints(self, keys: Iterable[str]) -> dict[str, str]:
        """The fingerprint stored under each of ``keys`` that has one and has not expired."""
        now = int(time.time())
        found = {}
        for key, item in self._get_many(keys).items():
            expires = int(item.get("expiresAt", {}).get("N", "0"))
            if "fingerprint" in item and (not expires or expires > now):
                found[key] = item["fingerprint"]["S"]
        return found

    def existing(self, keys: Iterable[str]) -> set[str]:
        """Those of ``keys`` that have an item."""
        return set(self._get_many(keys))

    def save_fingerprints(self, fingerprints: Mapping[str, str]) -> None:
        """Store each key's fingerprint (replacing what was there), with its expiry."""
        at = datetime.now(UTC).isoformat(timespec="seconds")
        expires = str(int(time.time()) + FINGERPRINT_TTL_SECONDS)
        self._write_many(
            [
                {
                    "PutRequest": {
                        "Item": {
                            "pk": {"S": key},
                            "fingerprint": {"S": value},
                            "at": {"S": at},
                            "expiresAt": {"N": expires},
                        }
                    }
                }
                for key, value in fingerprints.items()
            ]
        )

    def forget_many(self, keys: Iterable[str]) -> None:
        """Delete the items of ``keys`` (those that exist)."""
        self._write_many([{"DeleteRequest": {"Key": {"pk": {"S": key}}}} for key in keys])

    def forget(self, key: str) -> None:
        """Delete the item ``key``, if there is one."""
        self.client.delete_item(TableName=self.table_name, Key={"pk": {"S": key}})

    def marked(self, key: str) -> bool:
        """Whether ``key`` is marked done (an unexpired item; read consistently, so a mark written by
        another consumer a moment ago is seen)."""
        answer = self.client.get_item(TableName=self.table_name, Key={"pk": {"S": key}}, ConsistentRead=True)
        item = answer.get("Item")
        if item is None:
            return False
        expires = int(item.get("expiresAt", {}).get("N", "0"))
        return not expires or expires > int(time.time())

    def remember(self, key: str) -> bool:
        """Mark ``key`` as done, unless it is already (the first mark keeps its time); True if new."""
        item: dict[str, Any] = {"pk": {"S": key}, "at": {"S": datetime.now(UTC).isoformat(timespec="seconds")}}
        expires = _expiry(key)
        if expires is not None:
            item["expiresAt"] = {"N": expires}
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item=item,
                ConditionExpression="attribute_not_exists(pk)",
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True

    # -- batching ---------------------------------------------------------------------------------

    def _get_many(self, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
        unique = list(dict.fromkeys(keys))
        found: dict[str, dict[str, Any]] = {}
        for chunk in _chunks(unique, BATCH_GET):
            request: dict[str, Any] = {self.table_name: {"Keys": [{"pk": {"S": key}} for key in chunk]}}
            for attempt in range(UNPROCESSED_ROUNDS):
                answer = self.client.batch_get_item(RequestItems=request)
                for item in answer.get("Responses", {}).get(self.table_name, []):
                    found[item["pk"]["S"]] = item
                request = answer.get("UnprocessedKeys") or {}
                if not request:
                    break
                time.sleep(min(1.0, 0.05 * 2**attempt))
            else:
                raise SyncStateUnavailable("DynamoDB kept the sync state's reads unprocessed")
        return found

    def _write_many(self, requests: list[dict[str, Any]]) -> None:
        for chunk in _chunks(requests, BATCH_WRITE):
            pending: dict[str, Any] = {self.table_name: chunk}
            for attempt in range(UNPROCESSED_ROUNDS):
                answer = self.client.batch_write_item(RequestItems=pending)
                pending = answer.get("UnprocessedItems") or {}
                if not pending:
                    break
                time.sleep(min(1.0, 0.05 * 2**attempt))
            else:
                raise SyncStateUnavailable("DynamoDB kept the sync state's writes unprocessed")
