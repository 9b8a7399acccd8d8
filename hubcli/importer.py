"""``hub import`` and ``hub job --wait``: send a CSV file, follow its job to the end, collect its failed
rows.

A small file goes in the request itself (``POST /imports`` with a ``text/csv`` body). A larger one is
uploaded: ``POST /imports/uploads`` answers a presigned S3 URL, the file is PUT there as it is read
from disk, and the hub streams it row by row. The limit for the request is far below API Gateway's
10 MB: the hub validates and queues every row of a request before it answers, within API Gateway's
29 seconds, so it takes at most 5,000 rows and 5 MB in one (docs/imports.md), while an upload is read
by a function that has 15 minutes. A small file of more rows than that is refused with a 413
(``IMPORT_TOO_LARGE``, nothing started), and is then uploaded.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

import requests

from .client import CliError, Exit, HubClient, path_segment, unavailable
from .progress import Progress, is_done

#: Files up to this size go in the request; larger ones are uploaded.
DIRECT_LIMIT_BYTES = 256 * 1024
UPLOAD_ATTEMPTS = 3


def start(
    hub: HubClient, source: Path, *, campaign: str | None, operation: str, upload: str, say: Callable[[str], None]
) -> dict[str, Any]:
    """Start the import of ``source``; the hub's answer (``jobId`` first of all)."""
    size = source.stat().st_size
    if upload == "never" or (upload == "auto" and size <= DIRECT_LIMIT_BYTES):
        try:
            return hub.request(
                "POST",
                "/imports",
                params={k: v for k, v in (("campaign", campaign), ("operation", operation)) if v},
                data=source.read_bytes(),
                headers={"Content-Type": "text/csv; charset=utf-8"},
            )
        except CliError as exc:
            # Too large for a request after all (nothing was started): the upload takes any size.
            if upload == "never" or exc.status != 413:
                raise
    return _upload(hub, source, size, campaign=campaign, operation=operation, say=say)


def _upload(
    hub: HubClient, source: Path, size: int, *, campaign: str | None, operation: str, say: Callable[[str], None]
) -> dict[str, Any]:
    body = {"operation": operation, **({"campaign": campaign} if campaign else {})}
    answer = hub.post("/imports/uploads", body)
    say(f"Uploading {source.name} ({size / 1_000_000:,.1f} MB) for job {answer['jobId']}...")
    headers = dict(answer.get("headers") or {})
    method = str(answer.get("method") or "PUT")
    for attempt in range(1, UPLOAD_ATTEMPTS + 1):
        if _put_file(source, method, answer["uploadUrl"], headers, last=attempt == UPLOAD_ATTEMPTS):
            return {**answer, "total": None}
        time.sleep(attempt)
    raise AssertionError("unreachable")


def _put_file(source: Path, method: str, url: str, headers: dict[str, str], *, last: bool) -> bool:
    """One attempt at sending ``source`` to its upload URL: True once it is stored, False when another
    attempt may succeed (a connection failure or a 5xx), a :class:`CliError` when it failed for good
    or was the ``last`` attempt."""
    # A fresh handle each attempt: a retried upload sends the file from its start. A plain request,
    # not the hub's session: the hub's API key must never go to another host.
    try:
        with source.open("rb") as handle:
            response = requests.request(method, url, data=handle, headers=headers, timeout=(10, 300))
    except requests.RequestException as exc:
        if last:
            raise unavailable(f"the upload of {source.name} failed: {type(exc).__name__}") from None
        return False
    if response.ok:
        return True
    if response.status_code < 500 or last:
        raise CliError(
            f"the upload of {source.name} was refused with HTTP {response.status_code}"
            " (an upload URL is valid for an hour: start the import again)",
            exit_code=Exit.UNAVAILABLE if response.status_code >= 500 else Exit.REFUSED,
            code="UPLOAD_FAILED",
            status=response.status_code,
        )
    return False


def follow(hub: HubClient, job_id: str, *, progress: Progress | None, poll: float) -> dict[str, Any]:
    """Poll the job until it is complete, showing its progress; the last state."""
    path = f"/imports/{path_segment(job_id)}"
    try:
        while True:
            job = hub.get(path)
            if progress is not None:
                progress.update(job)
            if is_done(job):
                return job
            time.sleep(poll)
    finally:
        if progress is not None:
            progress.close()


def all_failures(hub: HubClient, job: dict[str, Any]) -> list[dict[str, Any]]:
    """Every failed row of ``job``: its first page, then the others by ``nextCursor``."""
    failures = list(job.get("failures") or [])
    cursor = job.get("nextCursor")
    path = f"/imports/{path_segment(str(job['jobId']))}"
    while cursor:
        page = hub.get(path, params={"cursor": cursor})
        failures += page.get("failures") or []
        cursor = page.get("nextCursor")
    return failures


def progress_for(stream: TextIO, *, quiet: bool, every: float) -> Progress | None:
    return None if quiet else Progress(stream, every=every)
