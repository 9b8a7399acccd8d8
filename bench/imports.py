"""`make bench` (imports part): throughput of a bulk import as a fraction of the provider's limit at
several consumer concurrencies, the 429s the provider answered, and the splitter's peak memory.

Writes a Markdown section on stdout; `bench/run.py` collects the sections into docs/benchmarks.md.
"""

from __future__ import annotations

import io
import os
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "layers/hub/python"), str(ROOT)]

from hub.flows.bulk import OPERATIONS  # noqa: E402
from hub.flows.imports import csv_rows  # noqa: E402
from local.run import Sandboxes, spawn, stop_spawned  # noqa: E402
from local.sandbox.base import SandboxRate  # noqa: E402

API_KEY = "bench-api-key"
# Requests per second, at the sandbox and in the hub's configuration: Loops' own documented limit.
# The local run emulates SQS, DynamoDB and Lambda in one Python process, which on a 2-core machine
# sustains about 15 to 25 rows/s; a limit above that would measure the emulation, not the hub.
LIMIT = int(os.environ.get("BENCH_IMPORT_LIMIT", "10"))
ROWS = int(os.environ.get("BENCH_IMPORT_ROWS", "5000"))
CONCURRENCIES = [int(c) for c in os.environ.get("BENCH_CONCURRENCIES", "2 5 10").split()]
SPLIT_ROWS = 100_000


def run_import(concurrency: int) -> dict[str, float]:
    sandboxes = Sandboxes()
    sandboxes.start()
    sandboxes.loops.set_rate_limit(SandboxRate(LIMIT, 1.0))
    with tempfile.TemporaryDirectory() as workdir:
        config = Path(workdir) / "hub.toml"
        config.write_text(
            sandboxes.config() + f"[providers.loops]\nrate_limit = {{ requests = {LIMIT}, per_seconds = 1 }}\n"
        )
        env = {
            "HUB_CONFIG": str(config),
            **sandboxes.environment(),
            "POWERTOOLS_LOG_LEVEL": "WARNING",
            "POWERTOOLS_METRICS_DISABLED": "true",
            "HUB_PARAMETER_OVERRIDES": f"ImportConsumerConcurrency={concurrency}",
        }
        process, url = spawn(env, Path(workdir) / "hub.log", API_KEY)
        try:
            headers = {"x-api-key": API_KEY}
            rows = [{"email": f"bench-{n}@example.com", "properties": {"plan": "pro"}} for n in range(ROWS)]
            started = time.monotonic()
            job_id = requests.post(
                f"{url}/imports", json={"operation": "syncContact", "rows": rows}, headers=headers, timeout=120
            ).json()["jobId"]
            while True:
                job = requests.get(f"{url}/imports/{job_id}", headers=headers, timeout=30).json()
                if job["status"] in ("completed", "completedWithErrors"):
                    break
                time.sleep(0.5)
            elapsed = time.monotonic() - started
        finally:
            stop_spawned(process)
            sandboxes.stop()
    calls = len(sandboxes.loops.received)
    return {
        "elapsed": elapsed,
        "succeeded": job["succeeded"],
        "failed": job["failed"],
        "rate": job["succeeded"] / elapsed,
        "calls": calls,
        "throttled": sandboxes.loops.throttled,
    }


class GeneratedCsv(io.RawIOBase):
    """A CSV of ``rows`` rows made on the fly, never held whole in memory."""

    def __init__(self, rows: int):
        self._lines = (
            "email,first_name,plan\n" if n < 0 else f"user-{n}@example.com,User {n},pro\n" for n in range(-1, rows)
        )
        self._buffer = b""

    def readable(self) -> bool:
        return True

    def readinto(self, target) -> int:  # type: ignore[no-untyped-def]
        while len(self._buffer) < len(target):
            line = next(self._lines, None)
            if line is None:
                break
            self._buffer += line.encode()
        count = min(len(target), len(self._buffer))
        target[:count] = self._buffer[:count]
        self._buffer = self._buffer[count:]
        return count


def split_peak(rows: int) -> float:
    """Peak traced memory (MiB) of reading, checking and folding ``rows`` CSV rows as the splitter does."""
    operation = OPERATIONS["addParticipant"]
    tracemalloc.start()
    for _row, data in csv_rows(io.BufferedReader(GeneratedCsv(rows)), operation):
        operation.model.model_validate(data)
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def main() -> None:
    lines = [
        "## Bulk imports",
        "",
        f"A {ROWS}-row `syncContact` import into the Loops sandbox, whose rate limit (sliding window) and the",
        f"hub's configured limit are both {LIMIT} requests per second; one Loops call per row. Throughput is",
        "rows completed per second from `POST /imports` to the job's completion, as a fraction of the limit.",
        "The limit is Loops' own. The local run emulates SQS, DynamoDB and Lambda in one Python process",
        "(moto), which sustains about 15 to 25 rows/s on a 2-core machine: a higher limit measures the",
        "emulation rather than the hub's pacing.",
        "",
        "| maximum concurrency | rows | elapsed (s) | rows/s | fraction of limit | provider calls | 429s answered |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for concurrency in CONCURRENCIES:
        r = run_import(concurrency)
        lines.append(
            f"| {concurrency} | {r['succeeded']:.0f} ok, {r['failed']:.0f} failed | {r['elapsed']:.1f} "
            f"| {r['rate']:.1f} | {r['rate'] / LIMIT:.2f} | {r['calls']} | {r['throttled']} |"
        )
    small, large = split_peak(1_000), split_peak(SPLIT_ROWS)
    lines += [
        "",
        "Splitter memory: peak traced memory (tracemalloc) of streaming, checking and folding CSV rows the way",
        "the split does (queueing holds ten rows at a time on top of this):",
        "",
        "| rows | peak (MiB) |",
        "| ---: | ---: |",
        f"| 1,000 | {small:.2f} |",
        f"| {SPLIT_ROWS:,} | {large:.2f} |",
        "",
    ]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
