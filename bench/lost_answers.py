"""`make bench` (lost answers part): a bulk ``convert`` import into GrowSurf through ``POST /imports``
on the local run, once without faults and once with 30 % of GrowSurf's trigger-referral answers lost
after the trigger was applied: rows succeeded, failed (by error code), lost and credited twice, the
GrowSurf calls, wall time.

Every count of duplicates comes from the sandbox (the requests it received and its participants'
state), not from the hub. Half of the lost answers are a 500 given instead of the sandbox's own
success, the other half the sandbox's success given later than the hub's read timeout.

Writes a Markdown section on stdout; `bench/run.py` collects the sections into docs/benchmarks.md.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "layers/hub/python"), str(ROOT)]

from local.run import Sandboxes, spawn, stop_spawned  # noqa: E402
from local.sandbox.base import Received, SandboxRate  # noqa: E402
from local.sandbox.growsurf import GrowSurfSandbox  # noqa: E402

API_KEY = "bench-api-key"
CAMPAIGN = "demo-growsurf"
ROWS = int(os.environ.get("BENCH_LOST_ROWS", "5000"))  # POST /imports takes at most 5,000 rows
# Requests per second at the sandbox and in the hub's configuration. GrowSurf's own limit is 30 per
# 5 s; at that a 5,000-row convert (three calls a row) would take at least 42 minutes a run.
LIMIT = int(os.environ.get("BENCH_LOST_LIMIT", "60"))
CONCURRENCY = int(os.environ.get("BENCH_LOST_CONCURRENCY", "5"))
REFERRERS = 5
LOST_SHARE = 0.30  # of the trigger answers, half a 500 and half late
READ_TIMEOUT = 2.0  # the hub's read timeout (HUB_HTTP_READ_TIMEOUT_SECONDS) in both runs
LATE_BY = 2.5  # a late answer comes this long after the trigger was applied
# Without progress for this long the import is given up on and its unfinished rows counted lost: longer
# than the bulk queues' visibility timeout (360 s), after which SQS delivers an unfinished row again.
STALL_SECONDS = 420.0
FINISHED = ("completed", "completedWithErrors")


@dataclass
class Outcome:
    """What the hub said of one import, and how long it took."""

    job: dict[str, Any]
    failures: list[dict[str, Any]]
    elapsed: float


def seeded() -> tuple[Sandboxes, list[str]]:
    """Started sandboxes, GrowSurf holding ``REFERRERS`` referrers and ``ROWS`` friends referred by them,
    each friend's referral pending; the friends' emails."""
    sandboxes = Sandboxes()
    sandboxes.start()
    growsurf = sandboxes.growsurf
    growsurf.set_rate_limit(SandboxRate(LIMIT, 1.0))
    # No reward unlocks: each one would make a trigger rank the whole campaign twice more in the sandbox
    # (its webhooks), which measures the sandbox; the convert does not read rewards.
    growsurf.configure(rewardEvery=10 * ROWS + 1)
    referrers = [f"referrer-{n}@example.com" for n in range(REFERRERS)]
    for referrer in referrers:
        growsurf.seed_participant(referrer, first_name="Referrer")
    friends = [f"friend-{n}@example.com" for n in range(ROWS)]
    for n, friend in enumerate(friends):
        growsurf.seed_participant(friend, referrer=referrers[n % REFERRERS], referral_status="CREDIT_PENDING")
    return sandboxes, friends


def lose_answers(growsurf: GrowSurfSandbox) -> None:
    """Lose ``LOST_SHARE`` of the trigger answers after the trigger is applied: half as a 500, half as
    the real answer given ``LATE_BY`` seconds late (past the hub's read timeout)."""
    half = LOST_SHARE / 2
    trigger: dict[str, Any] = {"path": "/ref", "method": "POST", "applied": True, "times": 10**9}
    growsurf.inject(500, probability=half, **trigger)
    # Asked only of the requests the first fault passed over: half of the share in all.
    growsurf.inject(None, probability=half / (1 - half), delay=LATE_BY, **trigger)


def converted(sandboxes: Sandboxes, friends: list[str]) -> Outcome:
    """The friends' conversions imported at once through a local run."""
    with tempfile.TemporaryDirectory() as workdir:
        config = Path(workdir) / "hub.toml"
        config.write_text(
            sandboxes.config() + f"[providers.growsurf]\nrate_limit = {{ requests = {LIMIT}, per_seconds = 1 }}\n"
        )
        env = {
            "HUB_CONFIG": str(config),
            **sandboxes.environment(),
            "POWERTOOLS_LOG_LEVEL": "WARNING",
            "POWERTOOLS_METRICS_DISABLED": "true",
            "HUB_PARAMETER_OVERRIDES": f"ImportConsumerConcurrency={CONCURRENCY}",
            "HUB_HTTP_READ_TIMEOUT_SECONDS": str(READ_TIMEOUT),
        }
        process, url = spawn(env, Path(workdir) / "hub.log", API_KEY)
        try:
            return imported(url, friends)
        finally:
            stop_spawned(process)


def imported(url: str, friends: list[str]) -> Outcome:
    headers = {"x-api-key": API_KEY}
    body = {"campaign": CAMPAIGN, "operation": "convert", "rows": [{"email": friend} for friend in friends]}
    started = time.monotonic()
    answer = requests.post(f"{url}/imports", json=body, headers=headers, timeout=120)
    answer.raise_for_status()
    job = finished(url, answer.json()["jobId"])
    elapsed = time.monotonic() - started
    return Outcome(job, all_failures(url, job["jobId"]), elapsed)


def finished(url: str, job_id: str) -> dict[str, Any]:
    """The job once it finished, or as it stands after ``STALL_SECONDS`` without a row done."""
    headers = {"x-api-key": API_KEY}
    progress, moved = -1, time.monotonic()
    while True:
        job: dict[str, Any] = requests.get(f"{url}/imports/{job_id}", headers=headers, timeout=30).json()
        done = job["succeeded"] + job["failed"]
        if job["status"] in FINISHED or (done == progress and time.monotonic() - moved > STALL_SECONDS):
            return job
        if done != progress:
            progress, moved = done, time.monotonic()
        time.sleep(1.0)


def all_failures(url: str, job_id: str) -> list[dict[str, Any]]:
    headers = {"x-api-key": API_KEY}
    failures: list[dict[str, Any]] = []
    cursor = None
    while True:
        params = {"cursor": cursor} if cursor else None
        page = requests.get(f"{url}/imports/{job_id}", headers=headers, params=params, timeout=30).json()
        failures += page["failures"]
        cursor = page["nextCursor"]
        if cursor is None:
            return failures


def _email(trigger: Received) -> str:
    return trigger.path.rsplit("/", 2)[-2]


def _applied_status(trigger: Received) -> int | None:
    """The status the sandbox's own handler gave the trigger (under a fault, the answer it replaced)."""
    return trigger.served if trigger.served is not None else trigger.status


def from_sandbox(growsurf: GrowSurfSandbox, friends: list[str]) -> dict[str, Any]:
    """What GrowSurf received and holds after the import: calls, lost answers and duplicates."""
    return {
        "calls": len(growsurf.received),
        "reads": sum(r.method == "GET" for r in growsurf.received),
        "throttled": growsurf.throttled,
        **_triggers(growsurf.requests_to("/ref", "POST")),
        **_credits(growsurf, friends),
    }


def _triggers(triggers: list[Received]) -> dict[str, Any]:
    """The trigger requests received: how many, the answers lost, the participants served twice."""
    served = Counter(_email(t) for t in triggers if (_applied_status(t) or 0) < 300)
    faulted = [t for t in triggers if t.served is not None]
    return {
        "triggers": len(triggers),
        "lost_500": sum(t.status == 500 for t in faulted),
        "lost_late": sum(t.status != 500 for t in faulted),
        "triggered_twice": sorted(email for email, count in served.items() if count > 1),
    }


def _credits(growsurf: GrowSurfSandbox, friends: list[str]) -> dict[str, Any]:
    """The friends credited twice and those left uncredited, from the sandbox's participants."""
    credits = Counter(referred for record in growsurf.participants.values() for referred, _at in record.credits)
    wanted = {friend.lower() for friend in friends}
    records = [record for record in growsurf.participants.values() if record.email.lower() in wanted]
    return {
        "credited_twice": sorted(r.email for r in records if credits[r.id] > 1),
        "uncredited": sorted(r.email for r in records if r.referral_status != "CREDIT_AWARDED"),
    }


def run(faults: bool) -> dict[str, Any]:
    sandboxes, friends = seeded()
    try:
        if faults:
            lose_answers(sandboxes.growsurf)
        outcome = converted(sandboxes, friends)
    finally:
        sandboxes.stop()
    job = outcome.job
    return {
        **from_sandbox(sandboxes.growsurf, friends),
        "elapsed": outcome.elapsed,
        "succeeded": job["succeeded"],
        "failed": job["failed"],
        "lost": ROWS - job["succeeded"] - job["failed"],
        "codes": Counter(str(f["error"].get("code")) for f in outcome.failures),
        "failed_rows": sorted(f["row"] for f in outcome.failures),
        "status": job["status"],
    }


def _codes(codes: Counter[str]) -> str:
    return ", ".join(f"{code} {count}" for code, count in codes.most_common()) or "none"


def _listed(values: list[Any], limit: int = 20) -> str:
    shown = ", ".join(str(v) for v in values[:limit])
    return shown + (f" and {len(values) - limit} more" if len(values) > limit else "")


def row_of(name: str, r: dict[str, Any]) -> str:
    return (
        f"| {name} | {r['succeeded']} | {r['failed']} ({_codes(r['codes'])}) | {r['lost']}"
        f" | {len(r['triggered_twice'])} / {len(r['credited_twice'])} | {r['lost_500']} + {r['lost_late']}"
        f" | {r['calls']} ({r['reads']} reads, {r['triggers']} triggers) | {r['calls'] / ROWS:.2f}"
        f" | {r['throttled']} | {r['elapsed']:.1f} | {ROWS / r['elapsed']:.1f} |"
    )


def findings(name: str, r: dict[str, Any]) -> list[str]:
    """Sentences naming every row lost, failed or done twice in a run (none when all is well)."""
    lines = []
    if r["failed_rows"]:
        lines.append(f"- {name}: rows failed: {_listed(r['failed_rows'])} ({_codes(r['codes'])}).")
    if r["lost"]:
        lines.append(f"- {name}: {r['lost']} rows neither succeeded nor failed (job {r['status']}).")
    if r["uncredited"]:
        lines.append(f"- {name}: referrals left uncredited at GrowSurf: {_listed(r['uncredited'])}.")
    if r["triggered_twice"]:
        lines.append(f"- {name}: triggered twice with success: {_listed(r['triggered_twice'])}.")
    if r["credited_twice"]:
        lines.append(f"- {name}: credited twice at GrowSurf: {_listed(r['credited_twice'])}.")
    return lines


def cost(clean: dict[str, Any], lossy: dict[str, Any]) -> str:
    """What the lost answers cost, the second run against the first."""
    calls, seconds = lossy["calls"] - clean["calls"], lossy["elapsed"] - clean["elapsed"]
    return (
        f"The {lossy['lost_500'] + lossy['lost_late']} lost answers cost {calls:+d} GrowSurf calls"
        f" ({calls / clean['calls']:+.0%}) and {seconds:+.1f} s ({seconds / clean['elapsed']:+.0%}) against the run"
        " without faults. Neither run reached the rate limit: on average"
        f" {clean['calls'] / clean['elapsed']:.1f} and {lossy['calls'] / lossy['elapsed']:.1f} calls per second."
    )


def section(clean: dict[str, Any], lossy: dict[str, Any]) -> str:
    """The Markdown section of the two runs."""
    lines = [
        "## Lost answers on a bulk convert",
        "",
        "`BENCH_ONLY=bench.lost_answers make bench` (also part of `make bench`).",
        f"A {ROWS}-row `convert` import into a GrowSurf campaign through `POST /imports` on the local run, at",
        f"maximum consumer concurrency {CONCURRENCY}, run twice, each time on a freshly seeded sandbox: "
        f"{ROWS} friends of {REFERRERS}",
        "referrers, each friend's referral pending. The sandbox's rate limit and the hub's configured limit",
        f"are both {LIMIT} requests per second (GrowSurf's own is 30 per 5 s: at that, with three calls a row,",
        f"one run would take at least {ROWS * 3 / 6 / 60:.0f} minutes). The hub's read timeout is "
        f"{READ_TIMEOUT:g} s in both runs (8 s by default).",
        "A row is a read, the trigger and a read back; after a lost answer, one more read.",
        "",
        f"In the second run {LOST_SHARE:.0%} of the trigger requests, drawn at random, are applied by the sandbox",
        "and their answer lost: half get a 500 instead of the sandbox's success, half get that success",
        f"{LATE_BY:g} s late, past the hub's read timeout. The campaign unlocks no reward in either run (a sandbox",
        "setting: a reward's webhooks would make each trigger cost the sandbox two more rankings of the",
        "whole campaign).",
        "",
        "From the hub: rows succeeded and failed (error codes counted), rows lost (neither, when the job",
        "ended or had stopped moving for seven minutes), and the time from `POST /imports` to the job's",
        "end. From the sandbox: triggered twice counts participants whose trigger its own handler served",
        "with success more than once; credited twice, referred participants whose referrer holds two",
        "credits for them; answers lost, the 500s and the late answers it gave; calls, every request it",
        "received, 429s included.",
        "",
        "| run | rows succeeded | rows failed (codes) | rows lost | triggered twice / credited twice"
        " | answers lost (500 + late) | GrowSurf calls | calls per row | 429s answered | elapsed (s) | rows/s |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        row_of("no faults", clean),
        row_of(f"{LOST_SHARE:.0%} of trigger answers lost", lossy),
        "",
    ]
    lines.append(cost(clean, lossy))
    lines.append("")
    found = findings("no faults", clean) + findings("answers lost", lossy)
    lines += [*found, ""] if found else ["Neither run lost a row, failed one, or triggered or credited one twice.", ""]
    return "\n".join(lines)


def main() -> None:
    print(section(run(faults=False), run(faults=True)))


if __name__ == "__main__":
    main()
