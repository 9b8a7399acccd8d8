"""The local run as users get it: ``python -m local.run`` in its own process, serving the template's
routes over HTTP, with moto for AWS, against sandbox providers that this test process owns (so each
test can assert on what a provider received).

Provider calls cross the process boundary over real HTTP on loopback. Everything the hub process
prints goes to one log file, which a test scans for secrets at the end of the session.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from local.run import Sandboxes, free_port, spawn, stop_spawned
from local.webhook import DEMO_WEBHOOK_SECRETS, with_webhook_secrets

API_KEY = "e2e-hub-api-key-5f1c"


@dataclass
class Hub:
    """A client of the running hub."""

    url: str
    api_key: str
    log_path: Path
    session: requests.Session
    aws_endpoint: str
    # The local run's control endpoint (runs a scheduled task on demand: local/schedules.py).
    control_url: str = ""

    def request(self, method: str, path: str, *, key: str | None = None, **kwargs: Any) -> requests.Response:
        headers = {"x-api-key": self.api_key if key is None else key, **kwargs.pop("headers", {})}
        return self.session.request(method, self.url + path, headers=headers, timeout=30, **kwargs)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, json=body, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)


@pytest.fixture(scope="session")
def sandboxes() -> Iterator[Sandboxes]:
    boxes = Sandboxes()
    boxes.start()
    yield boxes
    boxes.stop()


@pytest.fixture(autouse=True)
def _fresh_sandboxes(sandboxes: Sandboxes) -> None:
    for sandbox in sandboxes.all.values():
        sandbox.reset()


@pytest.fixture(scope="session")
def hub_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("hub") / "hub.log"


@pytest.fixture(scope="session")
def hub(sandboxes: Sandboxes, hub_log: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    config = tmp_path_factory.mktemp("config") / "hub.toml"
    # Provider limits high enough for the tests' bulk loads (the limiter still spaces every call).
    config.write_text(
        with_webhook_secrets(sandboxes.config(), DEMO_WEBHOOK_SECRETS)
        + "".join(
            f"[providers.{name}]\nrate_limit = {{ requests = 500, per_seconds = 1 }}\n"
            for name in ("growsurf", "viral_loops", "sparkloop", "loops")
        )
    )
    aws_port = free_port()
    control_port = free_port()
    env = {
        "HUB_CONFIG": str(config),
        **sandboxes.environment(),
        # Tight provider budgets, so that "provider down" and "provider timeout" answer quickly.
        "HUB_HTTP_READ_TIMEOUT_SECONDS": "1",
        "HUB_HTTP_BUDGET_SECONDS": "4",
        "POWERTOOLS_LOG_LEVEL": "DEBUG",
        "HUB_AWS_PORT": str(aws_port),
        "HUB_CONTROL_PORT": str(control_port),
        # Short consumer timeouts and visibility, so that redeliveries happen within a test.
        "HUB_PARAMETER_OVERRIDES": (
            "ImportConsumerTimeoutSeconds=15 ImportQueueVisibilitySeconds=18 ImportConsumerConcurrency=2"
            # Scheduled tasks run only when a test runs them, never in the middle of another test.
            " StatsSyncState=DISABLED PendingRewardsState=DISABLED"
        ),
    }
    process, url = spawn(env, hub_log, API_KEY)
    yield Hub(
        url, API_KEY, hub_log, requests.Session(), f"http://127.0.0.1:{aws_port}", f"http://127.0.0.1:{control_port}"
    )
    stop_spawned(process)
