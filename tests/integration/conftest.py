"""What the integration tests share: the local run's AWS (moto on loopback, with the template's tables,
queues and buckets) for one test module."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from local.aws import LocalAws
from local.template import load


@pytest.fixture(scope="module")
def aws() -> Iterator[LocalAws]:
    # The local run points this process's AWS clients at its emulator (AWS_ENDPOINT_URL and dummy
    # credentials): the environment is put back for the modules that run after.
    saved = dict(os.environ)
    local = LocalAws(load())
    local.start()
    yield local
    local.stop()
    os.environ.clear()
    os.environ.update(saved)
