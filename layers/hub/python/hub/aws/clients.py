"""The low-level boto3 clients of the layer's AWS modules: one per service per process, made on first use.

A Lambda's warm invocations reuse the client and its connections, and importing a module costs nothing.
A client is kept per endpoint the environment names (region, endpoint URLs): the local run and the
tests point boto3 at an AWS of their own by setting these, and a client made before must not go on
calling the endpoint it was made for.
"""

from __future__ import annotations

import os
import threading
from typing import Any, Literal

import boto3

#: The services the layer calls.
Service = Literal["dynamodb", "s3", "sqs"]

_clients: dict[tuple[str | None, ...], Any] = {}
# Making a client on boto3's default session is not thread-safe (the local run invokes functions on
# several threads at once).
_lock = threading.Lock()


def client(service: Service) -> Any:
    """The process's low-level boto3 client of ``service``."""
    key = (
        service,
        os.environ.get("AWS_DEFAULT_REGION"),
        os.environ.get("AWS_ENDPOINT_URL"),
        os.environ.get(f"AWS_ENDPOINT_URL_{service.upper()}"),
    )
    with _lock:
        made = _clients.get(key)
        if made is None:
            made = _clients[key] = boto3.client(service)
        return made
