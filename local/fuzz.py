"""``make fuzz``: Schemathesis against the local run, so the OpenAPI document says exactly what the hub
accepts and answers.

The local run (``python -m local.run``) is started in its own process against sandbox providers this
process owns, Schemathesis reads ``/openapi.json`` from it and sends every operation schema-valid and
schema-invalid requests with all of its checks on (a 500, a status or header the document does not
list, a schema-valid request refused, a schema-invalid one accepted, a known path answering another
method with anything but 405...). The run is made repeatable: a fixed seed, a fixed number of examples
per operation, no example database carried between runs, and a time budget with a wall-clock cap
around it. The exit status is Schemathesis' own.

Settings (environment): ``FUZZ_MAX_TIME`` (seconds, default 120), ``FUZZ_MAX_EXAMPLES`` (per
operation, default 40), ``FUZZ_SEED`` (default 20260314), ``FUZZ_WORKERS`` (default 1), and
``FUZZ_REPORT_DIR`` (where the JUnit report and the local run's log go; default a temporary directory).
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from .run import Sandboxes, free_port, spawn, stop_spawned

API_KEY = "fuzz-hub-api-key"
#: What the command line cannot say: the operations whose opaque cursors answer 422 to a stranger.
CONFIG = Path(__file__).with_name("schemathesis.toml")
PROVIDERS = ("growsurf", "viral_loops", "sparkloop", "loops")

MAX_TIME = int(os.environ.get("FUZZ_MAX_TIME", "120"))
MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "40"))
SEED = int(os.environ.get("FUZZ_SEED", "20260314"))
# One worker: Hypothesis parses lambda sources with ``ast.parse``, which Python 3.11 and 3.12 do not make
# safe across threads ("AST constructor recursion depth mismatch"); one worker also keeps runs repeatable.
WORKERS = int(os.environ.get("FUZZ_WORKERS", "1"))
# Schemathesis stops itself at its budget; past this margin it is stopped, so CI never hangs on it.
WALL_CLOCK_MARGIN_SECONDS = 120


def hub_environment(sandboxes: Sandboxes, config: Path) -> dict[str, str]:
    """The local run's settings: the sandboxes, provider limits the fuzzer cannot exhaust, quick
    provider budgets, and no scheduled task firing in the middle of the run."""
    config.write_text(
        sandboxes.config()
        + "".join(f"\n[providers.{name}]\nrate_limit = {{ requests = 1000, per_seconds = 1 }}\n" for name in PROVIDERS)
    )
    return {
        "HUB_CONFIG": str(config),
        **sandboxes.environment(),
        "HUB_HTTP_READ_TIMEOUT_SECONDS": "2",
        "HUB_HTTP_BUDGET_SECONDS": "5",
        "HUB_AWS_PORT": str(free_port()),
        "HUB_PARAMETER_OVERRIDES": "StatsSyncState=DISABLED PendingRewardsState=DISABLED",
    }


def schemathesis_command(url: str, report_dir: Path) -> list[str]:
    """The Schemathesis run: every check, the API key, and the settings that make it repeatable."""
    executable = shutil.which("schemathesis", path=str(Path(sys.executable).parent)) or "schemathesis"
    return [
        executable,
        "--config-file",
        str(CONFIG),
        "run",
        f"{url}/openapi.json",
        "--url",
        url,
        "--checks",
        "all",
        "--header",
        f"x-api-key: {API_KEY}",
        "--seed",
        str(SEED),
        "--max-examples",
        str(MAX_EXAMPLES),
        "--max-time",
        str(MAX_TIME),
        "--workers",
        str(WORKERS),
        "--generation-database",
        "none",
        # Each provider call crosses loopback to a sandbox: slower than Hypothesis' default budget.
        "--suppress-health-check",
        "too_slow",
        "--request-timeout",
        "30",
        "--report",
        "junit",
        "--report-dir",
        str(report_dir),
        "--no-color",
    ]


def main() -> int:
    report_dir = Path(os.environ.get("FUZZ_REPORT_DIR") or tempfile.mkdtemp(prefix="referral-hub-fuzz-")).resolve()
    report_dir.mkdir(parents=True, exist_ok=True)
    log_path = report_dir / "hub.log"
    # The sandboxes serve in this process: their access lines would bury Schemathesis' report.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    sandboxes = Sandboxes()
    sandboxes.start()
    try:
        process, url = spawn(hub_environment(sandboxes, report_dir / "hub.toml"), log_path, API_KEY)
        try:
            command = schemathesis_command(url, report_dir)
            print(" ".join(command).replace(API_KEY, "$API_KEY"), flush=True)
            try:
                # Schemathesis keeps a cache of the failures it found in its working directory: not the tree.
                status = subprocess.run(  # noqa: S603 - the virtualenv's own schemathesis
                    command, cwd=report_dir, timeout=MAX_TIME + WALL_CLOCK_MARGIN_SECONDS, check=False
                ).returncode
            except subprocess.TimeoutExpired:
                print(f"schemathesis did not end within {MAX_TIME + WALL_CLOCK_MARGIN_SECONDS} s", flush=True)
                status = 1
        finally:
            stop_spawned(process)
    finally:
        sandboxes.stop()
    print(f"report and the local run's log: {report_dir}", flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
