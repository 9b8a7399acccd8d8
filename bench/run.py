"""`make bench`: runs each benchmark and writes docs/benchmarks.md, with the command and the machine.

``BENCH_ONLY="bench.imports"`` (space-separated modules) runs only those and keeps the other sections
of the existing file as they were; each section says when it was measured.
"""

from __future__ import annotations

import os
import platform
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "benchmarks.md"
BENCHMARKS = ["bench.api", "bench.imports", "bench.sync", "bench.erasure", "bench.lost_answers"]


def marker(module: str, end: bool = False) -> str:
    return f"<!-- {'/' if end else ''}{module} -->"


def existing_sections() -> dict[str, str]:
    """The sections of the current docs/benchmarks.md, by module."""
    if not OUT.exists():
        return {}
    text = OUT.read_text()
    return {
        module: match.group(1).strip()
        for module in BENCHMARKS
        if (match := re.search(re.escape(marker(module)) + r"\n(.*?)\n" + re.escape(marker(module, True)), text, re.S))
    }


def main() -> None:
    only = os.environ.get("BENCH_ONLY", "").split() or BENCHMARKS
    unknown = set(only) - set(BENCHMARKS)
    if unknown:
        sys.exit(f"BENCH_ONLY names no benchmark: {', '.join(sorted(unknown))} (there are {', '.join(BENCHMARKS)})")
    sections = existing_sections()
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    for module in only:
        print(f"running {module} ...", flush=True)
        # Handlers print their metrics to stdout (CloudWatch's embedded format), where a section goes.
        env = {**os.environ, "POWERTOOLS_METRICS_DISABLED": "true"}
        result = subprocess.run(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", module], cwd=ROOT, capture_output=True, text=True, check=True, env=env
        )
        measured = f"_Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {machine}._"
        # A handler's metric lines (embedded metric format) are not part of a section, whatever the
        # metrics setting of the code that printed them.
        body = "\n".join(line for line in result.stdout.splitlines() if not line.startswith('{"_aws"')).strip()
        heading, _, rest = body.partition("\n")
        sections[module] = f"{heading}\n\n{measured}\n{rest}"
    header = [
        "# Benchmarks",
        "",
        "Produced by `make bench` (which runs `python -m bench.run`); every figure below comes from that",
        "command, and each section says when and on what machine. `BENCH_ONLY=bench.imports make bench`",
        "re-runs one section and keeps the others. Figures move with the machine: compare runs of one machine.",
        "",
    ]
    body = [f"{marker(m)}\n{sections[m]}\n{marker(m, True)}\n" for m in BENCHMARKS if m in sections]
    OUT.write_text("\n".join(header + body))
    print(OUT.read_text())


if __name__ == "__main__":
    main()
