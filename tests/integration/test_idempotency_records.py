"""Idempotency records on the local run's DynamoDB: they belong to the stack, not to the function that
wrote them, so a replaced function (renamed, or its logical id changed) still replays their answers."""

from __future__ import annotations

import os
from collections.abc import Iterator

import boto3
import pytest

from hub.aws import idempotency
from local.aws import LocalAws


@pytest.fixture(scope="module", autouse=True)
def _table(aws: LocalAws) -> Iterator[None]:
    os.environ["IDEMPOTENCY_TABLE"] = "IdempotencyTable"
    yield
    idempotency._runner.cache_clear()


def as_function(name: str) -> None:
    """This process as a cold start of the function ``name`` (Powertools reads the name from here)."""
    os.environ["AWS_LAMBDA_FUNCTION_NAME"] = name
    idempotency._runner.cache_clear()


def test_an_answer_stored_by_one_function_is_replayed_by_its_replacement(aws):
    # Given a write run once by a function
    runs: list[str] = []

    def action(who: str):
        return lambda: (runs.append(who), idempotency.Outcome(200, {"by": who}))[1]

    as_function("referral-hub-prod-ConvertFunction-AAAA")
    first = idempotency.run_once("convert#c#key#k-1", {"email": "ada@example.com"}, action("old"))
    # When the function is replaced (a new physical name) and the same write comes again
    as_function("referral-hub-prod-ConvertFunction-BBBB")
    again = idempotency.run_once("convert#c#key#k-1", {"email": "ada@example.com"}, action("new"))
    # Then the replacement answers the stored answer, and the write ran once
    assert (first.replayed, again.replayed) == (False, True)
    assert again.body == {"by": "old"}
    assert runs == ["old"]
    # And the record's key names the stack's prefix, not a function
    items = boto3.client("dynamodb", endpoint_url=aws.endpoint).scan(TableName="IdempotencyTable")["Items"]
    assert items and all(item["id"]["S"].startswith(f"{idempotency.KEY_PREFIX}#") for item in items)
