"""The local run as users get it: ``python -m local.run`` in its own process, serving the template's
routes over HTTP, with moto for AWS, against sandbox providers that this test process owns (so each
test can assert on what a provider received).

Provider calls cross the process boundary over real HTTP on loopback. Everything the hub process
prints goes to one log file, which a test scans for secrets at the end of the session.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from local.run import Sandboxes
from local.template import ROOT

API_KEY = "e2e-hub-api-key-5f1c"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Hub:
    """A client of the running hub."""

    url: str
    api_key: str
    log_path: Path
    session: requests.Session

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


def start_hub(env: dict[str, str], log_path: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    full_env = {**os.environ, **env, "HUB_PORT": str(port), "HUB_API_KEY": API_KEY, "PYTHONUNBUFFERED": "1"}
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        full_env.pop(name, None)
    with log_path.open("ab") as log:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "local.run"], cwd=ROOT, env=full_env, stdout=log, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the local run exited: {log_path.read_text()[-3000:]}")
        try:
            if requests.get(f"{url}/openapi.json", headers={"x-api-key": API_KEY}, timeout=5).status_code == 200:
                return process, url
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    process.kill()
    raise RuntimeError("the local run did not come up within 60 s")


@pytest.fixture(scope="session")
def hub_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("hub") / "hub.log"


@pytest.fixture(scope="session")
def hub(sandboxes: Sandboxes, hub_log: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    config = tmp_path_factory.mktemp("config") / "hub.toml"
    config.write_text(sandboxes.config())
    env = {
        "HUB_CONFIG": str(config),
        "GROWSURF_API_URL": sandboxes.growsurf.base_url,
        "VIRAL_LOOPS_API_URL": sandboxes.viral_loops.base_url,
        "SPARKLOOP_API_URL": sandboxes.sparkloop.base_url,
        "LOOPS_API_URL": sandboxes.loops.base_url,
        # Tight provider budgets, so that "provider down" and "provider timeout" answer quickly.
        "HUB_HTTP_READ_TIMEOUT_SECONDS": "1",
        "HUB_HTTP_BUDGET_SECONDS": "4",
        "POWERTOOLS_LOG_LEVEL": "DEBUG",
    }
    process, url = start_hub(env, hub_log)
    yield Hub(url, API_KEY, hub_log, requests.Session())
    process.terminate()
    process.wait(timeout=10)
