"""The local run's AWS behaves as AWS does where the hub relies on it: DynamoDB transactions are all
or nothing, conditional writes from concurrent callers are atomic, and a deep queue still takes
messages."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from local.aws import LocalAws


@pytest.fixture
def dynamodb(aws: LocalAws) -> Any:
    return boto3.client("dynamodb", endpoint_url=aws.endpoint)


def put(pk: str, sk: str, **attributes: Any) -> dict[str, Any]:
    return {"Put": {"TableName": "JobsTable", "Item": {"pk": {"S": pk}, "sk": {"S": sk}, **attributes}}}


def test_a_transaction_whose_condition_fails_writes_nothing(dynamodb):
    # Given an item that exists
    dynamodb.put_item(TableName="JobsTable", Item={"pk": {"S": "T1"}, "sk": {"S": "A"}, "n": {"N": "1"}})
    # When a transaction writes a new item and a conditional put on the existing one
    conditional = put("T1", "A", n={"N": "2"})
    conditional["Put"]["ConditionExpression"] = "attribute_not_exists(pk)"
    with pytest.raises(ClientError) as raised:
        dynamodb.transact_write_items(TransactItems=[put("T1", "B", n={"N": "9"}), conditional])
    # Then it is cancelled, the new item is not there and the existing one is unchanged
    assert raised.value.response["Error"]["Code"] == "TransactionCanceledException"
    assert "Item" not in dynamodb.get_item(TableName="JobsTable", Key={"pk": {"S": "T1"}, "sk": {"S": "B"}})
    item = dynamodb.get_item(TableName="JobsTable", Key={"pk": {"S": "T1"}, "sk": {"S": "A"}})["Item"]
    assert item["n"] == {"N": "1"}


def test_concurrent_conditional_transactions_each_count_once(dynamodb):
    # Given a counter and 40 row markers, each claimed twice by concurrent transactions
    dynamodb.put_item(TableName="JobsTable", Item={"pk": {"S": "T2"}, "sk": {"S": "JOB"}, "done": {"N": "0"}})

    def claim(row: int) -> bool:
        marker = put("T2", f"ROW#{row:03d}")
        marker["Put"]["ConditionExpression"] = "attribute_not_exists(pk)"
        counter = {
            "Update": {
                "TableName": "JobsTable",
                "Key": {"pk": {"S": "T2"}, "sk": {"S": "JOB"}},
                "UpdateExpression": "ADD done :one",
                "ExpressionAttributeValues": {":one": {"N": "1"}},
            }
        }
        try:
            dynamodb.transact_write_items(TransactItems=[marker, counter])
            return True
        except ClientError:
            return False

    # When all 80 claims run on 8 threads at once
    with ThreadPoolExecutor(max_workers=8) as pool:
        claimed = list(pool.map(claim, [row for row in range(40) for _ in range(2)]))
    # Then each row was claimed exactly once and the counter says 40
    assert sum(claimed) == 40
    job = dynamodb.get_item(TableName="JobsTable", Key={"pk": {"S": "T2"}, "sk": {"S": "JOB"}})["Item"]
    assert job["done"] == {"N": "40"}


def test_a_deep_queue_takes_and_gives_back_every_message(aws):
    # Given one of the template's queues holding 3,000 messages sent in batches
    sqs = boto3.client("sqs", endpoint_url=aws.endpoint)
    url = aws.physical["FlagDeadLetterQueue"]
    for batch in range(300):
        sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(n), "MessageBody": f"{batch}-{n}"} for n in range(10)])
    # When its depth is read
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    # Then every message is there
    assert attributes["Attributes"]["ApproximateNumberOfMessages"] == "3000"
