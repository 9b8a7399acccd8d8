"""Fixtures shared by every test: sandbox providers on loopback and a fast retry policy."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TypeVar

import pytest

from hub.providers.http import RetryPolicy
from local.sandbox.base import Sandbox

S = TypeVar("S", bound=Sandbox)


@pytest.fixture(autouse=True)
def _fresh_parameter_providers() -> None:
    """Powertools keeps one Secrets Manager / SSM provider per process, with the boto3 client (and so
    the region and the emulated AWS) of the test that first read a key: start each test without it."""
    from aws_lambda_powertools.utilities import parameters

    parameters.clear_caches()


@pytest.fixture
def fast_policy() -> RetryPolicy:
    """Retries as in production, but with waits short enough for a test run."""
    return RetryPolicy(
        attempts=4, backoff_base=0.01, backoff_max=0.05, max_retry_after=2.0, budget=8.0, read_timeout=0.5
    )


@pytest.fixture
def start_sandbox() -> Iterator[Callable[[S], S]]:
    """Start a sandbox provider on a free loopback port for one test; it is stopped afterwards."""
    started: list[Sandbox] = []

    def start(sandbox: S) -> S:
        sandbox.start()
        started.append(sandbox)
        return sandbox

    yield start
    for sandbox in started:
        sandbox.stop()
