"""AWS for the local run: moto in server mode on loopback, with the template's own tables.

boto3 in every function finds it through ``AWS_ENDPOINT_URL``, as it would find the real services
through their default endpoints; dummy credentials keep a real account out of reach.
"""

from __future__ import annotations

import os
from typing import Any

import boto3
from moto.server import ThreadedMotoServer

from .template import Template

LOCAL_REGION = "us-east-1"


class LocalAws:
    """A moto server with the tables of the template created in it."""

    def __init__(self, template: Template, port: int = 0):
        self.template = template
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        self.endpoint = ""

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
        return self.endpoint

    def stop(self) -> None:
        self._server.stop()

    def create_tables(self) -> None:
        create_tables(self.template, boto3.client("dynamodb", endpoint_url=self.endpoint))


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
