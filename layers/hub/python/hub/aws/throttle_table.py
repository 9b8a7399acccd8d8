"""The shared rate limiter's schedule items in DynamoDB (:mod:`hub.providers.ratelimit.shared`).

One item per provider, ``{"id": <provider>, "tat": <epoch seconds, ms precision>}``, in the table
named by ``THROTTLE_TABLE`` (partition key ``id``, a string). Times cross this module as epoch
milliseconds (ints); the item holds seconds with three decimals.

Each write is one conditional ``UpdateItem``. A write whose condition fails asks DynamoDB for the item
as the condition saw it (``ReturnValuesOnConditionCheckFailure=ALL_OLD``) and raises
:class:`ConditionFailed` with its time, so the limiter needs no read to know why.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from hub.aws import clients

_ADVANCE = "SET tat = tat + :interval"
_ADVANCE_CONDITION = "tat BETWEEN :now AND :horizon"
_RESTART = "SET tat = :next"
_RESTART_CONDITION = "attribute_not_exists(tat) OR tat < :now"


class ConditionFailed(Exception):
    """The item did not meet the write's condition, and nothing was written; ``tat`` is its time
    (epoch ms) as the condition saw it, None when there is no item or it has no time."""

    def __init__(self, tat: int | None):
        super().__init__(f"the schedule's time is {tat}")
        self.tat = tat


class ScheduleItem:
    """The schedule item ``key`` of ``table_name``, on the process's DynamoDB client or on ``client``."""

    def __init__(self, table_name: str, key: str, client: Any = None):
        self.table_name = table_name
        self.key = key
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = clients.client("dynamodb")
        return self._client

    def advance(self, *, interval: int, now: int, horizon: int) -> int:
        """Move the time ``interval`` on if it lies within [``now``, ``horizon``]; the new time."""
        answer = self._update(_ADVANCE, _ADVANCE_CONDITION, interval=interval, now=now, horizon=horizon)
        tat = _tat(answer.get("Attributes"))
        assert tat is not None, "the update sets tat, so its answer holds it"
        return tat

    def restart(self, *, now: int, tat: int) -> None:
        """Set the time to ``tat`` if the schedule is idle: no time yet, or one before ``now``."""
        self._update(_RESTART, _RESTART_CONDITION, now=now, next=tat)

    def _update(self, expression: str, condition: str, **values: int) -> dict[str, Any]:
        try:
            answer: dict[str, Any] = self.client.update_item(
                TableName=self.table_name,
                Key={"id": {"S": self.key}},
                UpdateExpression=expression,
                ConditionExpression=condition,
                ExpressionAttributeValues={f":{name}": {"N": _number(ms)} for name, ms in values.items()},
                ReturnValues="UPDATED_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            item = exc.response.get("Item")
            raise ConditionFailed(_tat(item if isinstance(item, dict) else None)) from None
        return answer


def _number(ms: int) -> str:
    return format(Decimal(ms) / 1000, "f")


def _tat(item: dict[str, Any] | None) -> int | None:
    if not item or "tat" not in item:
        return None
    return math.ceil(Decimal(item["tat"]["N"]) * 1000)
