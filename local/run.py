"""``make run``: the whole hub on one machine, no Docker, no AWS account.

- AWS is moto in server mode, with the template's tables, queues and buckets;
- the queues' event source mappings and the bucket's notifications invoke their functions with the
  template's settings (batch size, batching window, concurrency, partial batch responses, timeouts);
- ``HUB_PARAMETER_OVERRIDES`` sets template parameters as sam's ``--parameter-overrides`` does
  (``ImportConsumerTimeoutSeconds=2 ImportQueueVisibilitySeconds=12``);
- the API is the template's routes on ``http://127.0.0.1:3000`` (``HUB_PORT``), each request handed to
  its function's real handler;
- the template's EventBridge schedules fire on their own expression (when enabled), and a control
  endpoint on ``HUB_CONTROL_PORT`` (default: the API's port plus one) runs any scheduled task on
  demand (``python -m local.invoke SyncReferralStatsFunction``);
- with no ``HUB_CONFIG``, the four sandbox providers run on loopback and a configuration naming one
  demo campaign per referral provider is generated, so every route can be tried at once; with
  ``HUB_CONFIG``, the hub talks to whatever that file configures (the real providers).

The API key is ``HUB_API_KEY`` when set, else a new one printed at start.
"""

from __future__ import annotations

import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

from .aws import LocalAws
from .events import EventSources
from .gateway import Functions, Gateway
from .sandbox.growsurf import GrowSurfSandbox
from .sandbox.loops import LoopsSandbox
from .sandbox.sparkloop import SparkLoopSandbox
from .sandbox.viral_loops import ViralLoopsSandbox
from .schedules import Control, Scheduler
from .template import ROOT, Template, load, parse_parameter_overrides
from .webhook import DEMO_WEBHOOK_SECRETS

DEMO_CAMPAIGNS = {
    "demo-growsurf": "growsurf",
    "demo-viral-loops": "viral_loops",
    "demo-sparkloop": "sparkloop",
}


class Sandboxes:
    """The four sandbox providers, started on free loopback ports."""

    def __init__(self) -> None:
        self.growsurf = GrowSurfSandbox()
        self.viral_loops = ViralLoopsSandbox()
        self.sparkloop = SparkLoopSandbox()
        self.loops = LoopsSandbox()
        self.all = {
            "growsurf": self.growsurf,
            "viral_loops": self.viral_loops,
            "sparkloop": self.sparkloop,
            "loops": self.loops,
        }

    def start(self) -> dict[str, str]:
        """Start them; return the base-URL environment variables that point the clients at them."""
        for sandbox in self.all.values():
            sandbox.start()
        return self.environment()

    def environment(self) -> dict[str, str]:
        """The base-URL environment variables that point the provider clients at the running sandboxes."""
        return {
            "GROWSURF_API_URL": self.growsurf.base_url,
            "VIRAL_LOOPS_API_URL": self.viral_loops.base_url,
            # Viral Loops documents its reward endpoints on another host: the sandbox serves them apart.
            "VIRAL_LOOPS_REWARDS_API_URL": self.viral_loops.rewards_base_url,
            "SPARKLOOP_API_URL": self.sparkloop.base_url,
            "LOOPS_API_URL": self.loops.base_url,
        }

    def stop(self) -> None:
        for sandbox in self.all.values():
            sandbox.stop()

    def config(self) -> str:
        """A configuration document naming one demo campaign per sandbox, keys and webhook secrets inline."""
        lines = []
        for name, provider in DEMO_CAMPAIGNS.items():
            sandbox = self.all[provider]
            lines += [
                f"[campaigns.{name}]",
                f'provider = "{provider}"',
                f'campaign_id = "{sandbox.campaign_id}"',  # type: ignore[attr-defined]
                f'key = {{ value = "{sandbox.api_key}" }}',
                f'webhook_secret = {{ value = "{DEMO_WEBHOOK_SECRETS[name]}" }}',
                "",
            ]
        lines += ["[contacts]", 'provider = "loops"', f'key = {{ value = "{self.loops.api_key}" }}', ""]
        return "\n".join(lines)


class LocalRun:
    """Everything ``make run`` starts, also used in-process by the integration tests."""

    def __init__(self, *, port: int = 3000, api_key: str | None = None, config_path: str | None = None):
        # Read before the queues are created: their visibility timeouts and redrive policies follow them.
        overrides = parse_parameter_overrides(os.environ.get("HUB_PARAMETER_OVERRIDES", ""))
        self.template: Template = load().with_overrides(overrides)
        self.port = port
        self.api_key = api_key or f"local-{secrets.token_urlsafe(16)}"
        self.config_path = config_path
        self.sandboxes: Sandboxes | None = None
        self.aws = LocalAws(self.template, port=int(os.environ.get("HUB_AWS_PORT", "0")))
        self.gateway: Gateway | None = None
        self.events: EventSources | None = None
        self.scheduler: Scheduler | None = None
        self.control: Control | None = None
        self.url = ""
        self.control_url = ""
        self._workdir = tempfile.TemporaryDirectory(prefix="referral-hub-")

    def start(self) -> str:
        env: dict[str, str] = {
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_DEV": os.environ.get("POWERTOOLS_DEV", "false"),
            # Metrics go to stdout as EMF lines in Lambda; on a terminal they drown the access log, so
            # they are off unless asked for (POWERTOOLS_METRICS_DISABLED=false).
            "POWERTOOLS_METRICS_DISABLED": os.environ.get("POWERTOOLS_METRICS_DISABLED", "true"),
        }
        if self.config_path is None:
            self.sandboxes = Sandboxes()
            env.update(self.sandboxes.start())
            path = Path(self._workdir.name) / "sandbox.toml"
            path.write_text(self.sandboxes.config())
            self.config_path = str(path)
        self.aws.start()
        # Once AWS is up, a Ref to a queue or bucket in the environment is its local URL or name.
        environment = self.template.environment(self.aws.physical)
        # The machine's own environment wins over the template's values, as with `sam local`.
        env.update({key: value for key, value in environment.items() if key not in env and key not in os.environ})
        env["HUB_CONFIG"] = self.config_path
        os.environ.update(env)
        functions = Functions(self.template)
        self.events = EventSources(self.template, functions, self.aws)
        self.events.start()
        self.scheduler = Scheduler(self.template, functions)
        self.scheduler.start()
        self.control = Control(self.scheduler)
        self.control_url = self.control.start(port=control_port(self.port))
        # The API last: once it answers, the queues, the schedules and the control endpoint are up too.
        self.gateway = Gateway(self.template, functions, self.api_key)
        self.url = self.gateway.start(port=self.port)
        return self.url

    def stop(self) -> None:
        if self.control is not None:
            self.control.stop()
        if self.scheduler is not None:
            self.scheduler.stop()
        if self.events is not None:
            self.events.stop()
        if self.gateway is not None:
            self.gateway.stop()
        self.aws.stop()
        if self.sandboxes is not None:
            self.sandboxes.stop()
        self._workdir.cleanup()


def control_port(api_port: int) -> int:
    """The control endpoint's port: ``HUB_CONTROL_PORT``, else the API's port plus one (any free one
    when the API's port is chosen by the system)."""
    if os.environ.get("HUB_CONTROL_PORT"):
        return int(os.environ["HUB_CONTROL_PORT"])
    return api_port + 1 if api_port else 0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def spawn(env: dict[str, str], log_path: Path, api_key: str) -> tuple[subprocess.Popen[bytes], str]:
    """Start ``python -m local.run`` in its own process on a free port, its output in ``log_path``;
    return the process and the hub's URL once it answers (for tests and benchmarks)."""
    port = free_port()
    full_env = {**os.environ, **env, "HUB_PORT": str(port), "HUB_API_KEY": api_key, "PYTHONUNBUFFERED": "1"}
    # The API's port plus one may be taken: the control endpoint gets a free port of its own.
    full_env.setdefault("HUB_CONTROL_PORT", str(free_port()))
    full_env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "layers/hub/python"), str(ROOT)])
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        full_env.pop(name, None)
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "local.run"], cwd=ROOT, env=full_env, stdout=log, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the local run exited: {log_path.read_text()[-3000:]}")
        try:
            if requests.get(f"{url}/openapi.json", headers={"x-api-key": api_key}, timeout=5).status_code == 200:
                return process, url
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    process.kill()
    raise RuntimeError("the local run did not come up within 60 s")


def stop_spawned(process: subprocess.Popen[bytes]) -> None:
    """Stop a local run started by :func:`spawn`: as Ctrl-C would, or killed if it does not end."""
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")
    # One access line per API request (the gateway's), not one per request of every emulated service.
    logging.getLogger("local.gateway").setLevel(logging.INFO)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    port = int(os.environ.get("HUB_PORT", "3000"))
    run = LocalRun(port=port, api_key=os.environ.get("HUB_API_KEY"), config_path=os.environ.get("HUB_CONFIG"))
    url = run.start()
    print(f"Referral Hub is serving {len(run.template.routes())} routes on {url}")
    shown_key = "$HUB_API_KEY" if os.environ.get("HUB_API_KEY") else run.api_key
    print(f"API key (send it as x-api-key): {shown_key}")
    enabled = [s.fn.logical_id for s in run.scheduler.schedules if s.enabled] if run.scheduler else []
    print(
        f"Schedules: {', '.join(enabled) or 'none enabled'}; run one now with "
        f"`python -m local.invoke <function>` (control endpoint {run.control_url})"
    )
    if run.sandboxes is not None:
        print("Providers: built-in sandboxes; campaigns: " + ", ".join(DEMO_CAMPAIGNS))
        print(
            f"Try: curl -s -H 'x-api-key: {shown_key}' -H 'content-type: application/json' "
            f'-d \'{{"email": "ada@example.com"}}\' {url}/campaigns/demo-growsurf/participants'
        )
    else:
        print(f"Configuration: {run.config_path}")
    print("Stop with Ctrl-C.", flush=True)
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    try:
        stopped.wait()
    except KeyboardInterrupt:
        pass
    finally:
        run.stop()
        sys.exit(0)


if __name__ == "__main__":
    main()
