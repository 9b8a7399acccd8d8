"""The progress of a running job on stderr: on a terminal, one bar redrawn in place; elsewhere (a log,
a pipe, CI), one plain line every few seconds. Either way the last line gives the final counts.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import Any, TextIO

DONE_STATUSES = ("completed", "completedWithErrors")
BAR_WIDTH = 24
#: Seconds of history the rate is measured over: recent enough to follow a change of pace.
RATE_WINDOW_SECONDS = 15.0


def is_done(job: dict[str, Any]) -> bool:
    return job.get("status") in DONE_STATUSES


def duration(seconds: float) -> str:
    """``seconds`` as ``45s``, ``3m05s`` or ``2h03m``."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


class Progress:
    """Shows a job's progress from its successive states (the answers of ``GET /imports/{jobId}``)."""

    def __init__(
        self,
        stream: TextIO,
        *,
        interactive: bool | None = None,
        every: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.stream = stream
        self.interactive = stream.isatty() if interactive is None else interactive
        self.every = every
        self.clock = clock
        self._samples: deque[tuple[float, int]] = deque()
        self._last_line_at: float | None = None
        self._first_at = 0.0
        self._drawn = False

    def rate(self) -> float | None:
        """Rows done per second over the last ``RATE_WINDOW_SECONDS``; None until measurable."""
        if len(self._samples) < 2:
            return None
        (start, done_then), (end, done_now) = self._samples[0], self._samples[-1]
        if end - start <= 0:
            return None
        return max(0.0, (done_now - done_then) / (end - start))

    def line(self, job: dict[str, Any]) -> str:
        """The progress of ``job`` in words: rows done of total, succeeded, failed, rate and ETA."""
        total, succeeded, failed = int(job.get("total", 0)), int(job.get("succeeded", 0)), int(job.get("failed", 0))
        done = succeeded + failed
        percent = f"{100 * done // total}%" if total else "0%"
        parts = [f"{done:,}/{total:,} rows {percent}", f"{succeeded:,} succeeded", f"{failed:,} failed"]
        rate = self.rate()
        if rate is not None:
            parts.append(f"{rate:,.1f} rows/s")
            if not is_done(job) and rate > 0 and total > done:
                parts.append(f"ETA {duration((total - done) / rate)}")
        if is_done(job) and self._samples:
            parts.append(f"in {duration(self._samples[-1][0] - self._first_at)}")
        text = ", ".join(parts)
        if self.interactive:
            filled = BAR_WIDTH * done // total if total else 0
            return f"[{'#' * filled}{'-' * (BAR_WIDTH - filled)}] {job.get('status', '')}: {text}"
        return f"job {job.get('jobId', '')} {job.get('status', '')}: {text}"

    def update(self, job: dict[str, Any]) -> None:
        """Take the job's latest state; draw it (a terminal) or write a line if one is due."""
        now = self.clock()
        if not self._samples:
            self._first_at = now
        done = int(job.get("succeeded", 0)) + int(job.get("failed", 0))
        self._samples.append((now, done))
        while len(self._samples) > 2 and now - self._samples[1][0] >= RATE_WINDOW_SECONDS:
            self._samples.popleft()
        if self.interactive:
            # Clear to the end of the line: the new text may be shorter than the last.
            self.stream.write(f"\r{self.line(job)}\x1b[K")
            self._drawn = True
        elif is_done(job) or self._last_line_at is None or now - self._last_line_at >= self.every:
            self.stream.write(self.line(job) + "\n")
            self._last_line_at = now
        self.stream.flush()

    def close(self) -> None:
        """End the redrawn line, so what follows starts on its own."""
        if self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False
