"""``hub erase``: a person's participant and Loops contact deleted, for a handful of people one request
each, for many one bulk job.

A few emails are deleted one by one (``DELETE /campaigns/{campaign}/participants/{email}?contact=true``),
each with its own ``Idempotency-Key``, and each answer says what was deleted where. More than
:data:`ONE_BY_ONE_MAX` emails, or a file of them, go as one ``deleteParticipant`` import whose rows all
have ``contact`` true, through the same path as ``hub import``; the job gives the count of rows that
succeeded and each failed row, which is mapped back to its email here.
"""

from __future__ import annotations

import csv
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .client import CliError, HubClient, new_idempotency_key, path_segment

#: Up to this many emails are deleted one request each; more go as one bulk job.
ONE_BY_ONE_MAX = 10
#: Errors that no other email would escape (the campaign, its provider, the API key, a hub that cannot
#: be reached): the command stops at once when the first email meets one.
_STOPPING_CODES = ("CAMPAIGN_NOT_FOUND", "UNSUPPORTED_OPERATION", "UNAUTHORIZED", "HUB_UNAVAILABLE")


@dataclass
class Erasure:
    """What an erasure did: the hub's answer for each email deleted, and each email that failed."""

    campaign: str
    total: int
    job: dict[str, Any] | None = None
    results: list[dict[str, Any]] = field(default_factory=list)
    failures: list[dict[str, Any]] = field(default_factory=list)

    @property
    def failed(self) -> int:
        return int(self.job.get("failed", 0)) if self.job is not None else len(self.failures)

    @property
    def succeeded(self) -> int:
        return int(self.job.get("succeeded", 0)) if self.job is not None else len(self.results)

    def document(self) -> dict[str, Any]:
        """The erasure as ``--json`` prints it."""
        job = self.job or {}
        return {
            "campaign": self.campaign,
            "jobId": job.get("jobId"),
            "total": self.total,
            "succeeded": self.succeeded,
            "failed": self.failed,
            "results": self.results,
            "failures": self.failures,
        }


def unique(emails: list[str]) -> list[str]:
    """``emails`` stripped, without blanks and repeats (emails compare case-insensitively), in order."""
    seen: dict[str, str] = {}
    for email in emails:
        seen.setdefault(email.strip().lower(), email.strip())
    return [email for folded, email in seen.items() if folded]


def one_by_one(hub: HubClient, campaign: str, emails: list[str]) -> Erasure:
    """Delete each participant and its contact with a request of its own. An email that fails is
    recorded and the next one goes on; an error every email would meet, met by the first, is raised."""
    erasure = Erasure(campaign, len(emails))
    base = f"/campaigns/{path_segment(campaign)}/participants/"
    for email in emails:
        try:
            answer = hub.delete(base + path_segment(email), {"contact": "true"}, key=new_idempotency_key())
        except CliError as exc:
            if _stops_all(exc) and not (erasure.results or erasure.failures):
                raise
            erasure.failures.append({"email": email, "error": _error_of(exc), "httpStatus": exc.status})
            continue
        erasure.results.append(answer)
    return erasure


def _stops_all(exc: CliError) -> bool:
    return exc.code in _STOPPING_CODES or exc.status in (401, 403)


def _error_of(exc: CliError) -> dict[str, Any]:
    return {"code": exc.code, "message": exc.message, "details": exc.details}


def sheet(emails: list[str], directory: str | None = None) -> Path:
    """A CSV file of ``deleteParticipant`` rows, one per email, each with ``contact`` true; the email
    of the record on line ``n`` is ``emails[n - 2]`` (the header is line 1)."""
    with tempfile.NamedTemporaryFile(
        "w", suffix=".csv", encoding="utf-8", newline="", delete=False, dir=directory
    ) as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["email", "contact"])
        writer.writerows([email, "true"] for email in emails)
    return Path(out.name)


def of_job(campaign: str, emails: list[str], job: dict[str, Any], failures: list[dict[str, Any]]) -> Erasure:
    """The erasure a finished ``deleteParticipant`` job of :func:`sheet`'s file did, its failed rows
    named by their email (None for a failure of the file itself)."""
    named = [
        {
            "email": _email_on_line(emails, int(failure.get("row", 0))),
            "row": failure.get("row"),
            "error": failure.get("error"),
        }
        for failure in failures
    ]
    return Erasure(campaign, len(emails), job=job, failures=named)


def _email_on_line(emails: list[str], row: int) -> str | None:
    return emails[row - 2] if 2 <= row < len(emails) + 2 else None
