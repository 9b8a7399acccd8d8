"""Run a scheduled task of a running local run (``make run``) now, as its schedule would.

    python -m local.invoke SyncReferralStatsFunction     # runs it and prints what it answered
    python -m local.invoke --list                        # the schedules, and when each fires next

It asks the local run's control endpoint (``local/schedules.py``), so the task runs inside the local
run, against the same emulated AWS and providers. The endpoint is ``--url``, else ``HUB_CONTROL_URL``,
else ``http://127.0.0.1:<HUB_CONTROL_PORT>`` (default: ``HUB_PORT`` plus one, so 3001).

Exit status: 0 when the task ran, 1 when it failed or could not run, 2 when the local run cannot be
reached.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import requests

#: Scheduled tasks may run up to 15 minutes (Lambda's limit); the command waits a little longer.
WAIT_SECONDS = 960


def control_url() -> str:
    if os.environ.get("HUB_CONTROL_URL"):
        return os.environ["HUB_CONTROL_URL"].rstrip("/")
    port = os.environ.get("HUB_CONTROL_PORT") or str(int(os.environ.get("HUB_PORT", "3000")) + 1)
    return f"http://127.0.0.1:{port}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.invoke", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "function", nargs="?", help="the logical id of a scheduled function, e.g. PendingRewardsFunction"
    )
    parser.add_argument("--list", action="store_true", help="list the schedules instead")
    parser.add_argument("--url", default=None, help="the local run's control endpoint")
    args = parser.parse_args(argv)
    if not args.list and not args.function:
        parser.error("name a scheduled function, or give --list")
    url = (args.url or control_url()).rstrip("/")
    try:
        if args.list:
            answer = requests.get(f"{url}/schedules", timeout=10)
        else:
            answer = requests.post(f"{url}/schedules/{args.function}", timeout=WAIT_SECONDS)
    except requests.RequestException as exc:
        print(
            f"the local run's control endpoint {url} cannot be reached ({type(exc).__name__}): is `make run` up?",
            file=sys.stderr,
        )
        return 2
    try:
        body = answer.json()
    except ValueError:
        body = {"error": {"message": answer.text}}
    print(json.dumps(body, indent=2))
    return 0 if answer.ok else 1


if __name__ == "__main__":
    sys.exit(main())
