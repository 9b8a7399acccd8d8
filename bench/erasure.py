"""`make bench` (erasure part): a bulk erasure of 1,000 people (``deleteParticipant`` with ``contact``
true) from a GrowSurf campaign and from Loops, through ``POST /imports`` on the local run: wall time,
the calls each provider received, and the rows lost or done twice, read from the providers' state.

Both sandboxes enforce their documented limits (GrowSurf 30 requests per 5 s, Loops 10 per second)
and the hub is configured with the same. A row is one GrowSurf delete, then one Loops find and one
Loops delete (the hub reads the contact first: Loops' delete does not say whether anyone was there).

Writes a Markdown section on stdout; `bench/run.py` collects the sections into docs/benchmarks.md.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "layers/hub/python"), str(ROOT)]

from local.run import Sandboxes, spawn, stop_spawned  # noqa: E402
from local.sandbox.base import SandboxRate  # noqa: E402

API_KEY = "bench-api-key"
ROWS = int(os.environ.get("BENCH_ERASURE_ROWS", "1000"))
CONCURRENCY = int(os.environ.get("BENCH_ERASURE_CONCURRENCY", "5"))
CAMPAIGN = "demo-growsurf"


def erase(url: str, people: list[str]) -> tuple[dict[str, Any], float]:
    """Erase ``people`` by one import; the finished job and the seconds it took."""
    headers = {"x-api-key": API_KEY}
    rows = [{"email": address, "contact": True} for address in people]
    started = time.monotonic()
    answer = requests.post(
        f"{url}/imports",
        json={"campaign": CAMPAIGN, "operation": "deleteParticipant", "rows": rows},
        headers=headers,
        timeout=120,
    )
    answer.raise_for_status()
    job_id = answer.json()["jobId"]
    while True:
        job = requests.get(f"{url}/imports/{job_id}", headers=headers, timeout=30).json()
        if job["status"] in ("completed", "completedWithErrors"):
            return job, time.monotonic() - started
        time.sleep(0.5)


def seeded(people: list[str]) -> Sandboxes:
    """Started sandboxes at their documented limits, each person a GrowSurf participant and a Loops contact."""
    sandboxes = Sandboxes()
    sandboxes.start()
    sandboxes.growsurf.set_rate_limit(SandboxRate(30, 5.0))
    sandboxes.loops.set_rate_limit(SandboxRate(10, 1.0))
    sandboxes.growsurf.seed_participants({"email": address} for address in people)
    for address in people:
        sandboxes.loops.seed_contact(address, firstName="Erased")
    return sandboxes


def erased_by_the_hub(sandboxes: Sandboxes, people: list[str]) -> tuple[dict[str, Any], float]:
    """``people`` erased by one import on a local run configured with the documented limits."""
    with tempfile.TemporaryDirectory() as workdir:
        config = Path(workdir) / "hub.toml"
        config.write_text(
            sandboxes.config()
            + "[providers.growsurf]\nrate_limit = { requests = 30, per_seconds = 5 }\n"
            + "[providers.loops]\nrate_limit = { requests = 10, per_seconds = 1 }\n"
        )
        env = {
            "HUB_CONFIG": str(config),
            **sandboxes.environment(),
            "POWERTOOLS_LOG_LEVEL": "WARNING",
            "POWERTOOLS_METRICS_DISABLED": "true",
            "HUB_PARAMETER_OVERRIDES": f"ImportConsumerConcurrency={CONCURRENCY}",
        }
        process, url = spawn(env, Path(workdir) / "hub.log", API_KEY)
        try:
            return erase(url, people)
        finally:
            stop_spawned(process)


def run() -> dict[str, Any]:
    people = [f"erase-{n}@example.com" for n in range(ROWS)]
    sandboxes = seeded(people)
    try:
        job, elapsed = erased_by_the_hub(sandboxes, people)
    finally:
        sandboxes.stop()
    growsurf_deletes = [r.path.rsplit("/", 1)[-1] for r in sandboxes.growsurf.received if r.method == "DELETE"]
    loops_deletes = [r.json["email"] for r in sandboxes.loops.requests_to("/contacts/delete", "POST")]
    remaining = sum(_has_participant(sandboxes, address) for address in people) + sum(
        sandboxes.loops.contact(address) is not None for address in people
    )
    return {
        "elapsed": elapsed,
        "succeeded": job["succeeded"],
        "failed": job["failed"],
        "growsurf_calls": len(sandboxes.growsurf.received),
        "growsurf_deletes": len(growsurf_deletes),
        "loops_calls": len(sandboxes.loops.received),
        "loops_deletes": len(loops_deletes),
        "twice": _repeats(growsurf_deletes) + _repeats(loops_deletes),
        "lost": max(ROWS - job["succeeded"] - job["failed"], 0) + remaining,
        "throttled": sandboxes.growsurf.throttled + sandboxes.loops.throttled,
    }


def _repeats(names: list[str]) -> int:
    return len(names) - len(set(names))


def _has_participant(sandboxes: Sandboxes, address: str) -> bool:
    try:
        sandboxes.growsurf.participant(address)
    except KeyError:
        return False
    return True


def main() -> None:
    r = run()
    binding = ROWS * 2 / 10  # two Loops calls a row at 10 per second bind before GrowSurf's 6 per second
    lines = [
        "## Bulk erasure",
        "",
        f"A {ROWS}-row `deleteParticipant` import with `contact: true` (erase each person from a GrowSurf",
        "campaign and from Loops) through `POST /imports` on the local run, at maximum consumer concurrency",
        f"{CONCURRENCY}. The sandboxes enforce GrowSurf's 30 requests per 5 s and Loops' 10 per second, and the",
        "hub is configured with the same. A row is one GrowSurf delete, one Loops find and one Loops delete, so",
        f"Loops binds: {binding:.0f} s is the least the import can take. Rows lost counts rows neither succeeded",
        "nor failed plus people still held by either provider afterwards; deleted twice counts second deletes",
        "of one person at one provider.",
        "",
        "| rows | elapsed (s) | rows/s | GrowSurf calls (deletes) | Loops calls (deletes) | 429s answered"
        " | rows lost | deleted twice |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        f"| {r['succeeded']} ok, {r['failed']} failed | {r['elapsed']:.1f} | {r['succeeded'] / r['elapsed']:.1f}"
        f" | {r['growsurf_calls']} ({r['growsurf_deletes']}) | {r['loops_calls']} ({r['loops_deletes']})"
        f" | {r['throttled']} | {r['lost']} | {r['twice']} |",
        "",
    ]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
