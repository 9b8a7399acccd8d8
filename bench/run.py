"""`make bench`: runs each benchmark and writes docs/benchmarks.md, with the command and the machine."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ["bench.api", "bench.imports"]


def main() -> None:
    sections = []
    for module in BENCHMARKS:
        print(f"running {module} ...", flush=True)
        result = subprocess.run(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", module], cwd=ROOT, capture_output=True, text=True, check=True, env=os.environ
        )
        sections.append(result.stdout.strip())
    header = [
        "# Benchmarks",
        "",
        "Produced by `make bench` (which runs `python -m bench.run`); every figure below comes from that",
        "command on the machine named here. Figures move with the machine: compare runs of one machine.",
        "",
        f"- date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"- machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "",
    ]
    out = ROOT / "docs" / "benchmarks.md"
    out.write_text("\n".join(header + sections) + "\n")
    print(out.read_text())


if __name__ == "__main__":
    main()
