"""What the commands print for people (``--json`` prints the hub's documents instead)."""

from __future__ import annotations

from typing import Any

from .csvfiles import error_text


def table(headers: list[str], rows: list[list[str]]) -> str:
    """Columns aligned on the widest cell; the last column is not padded."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=False)]
    lines = []
    for cells in [headers, *rows]:
        padded = [str(cell).ljust(width) for cell, width in zip(cells[:-1], widths, strict=False)]
        lines.append("  ".join([*padded, str(cells[-1])]).rstrip())
    return "\n".join(lines)


def counts(job: dict[str, Any]) -> str:
    return f"{job.get('total', 0):,} rows: {job.get('succeeded', 0):,} succeeded, {job.get('failed', 0):,} failed"


def job_summary(job: dict[str, Any]) -> str:
    where = f"{job.get('operation')} on {job.get('campaign')}" if job.get("campaign") else str(job.get("operation"))
    return f"Job {job.get('jobId')} ({where}, created {job.get('createdAt')}): {job.get('status')}\n  {counts(job)}"


def failures(items: list[dict[str, Any]], *, shown: int, total: int | None = None) -> str:
    """The first ``shown`` failed rows, one a line, and how many more there are."""
    if not items:
        return ""
    lines = ["Failed rows:"]
    for failure in items[:shown]:
        row = failure.get("row")
        label = "the file" if row == 0 else f"row {row}"
        lines.append(f"  {label}: {error_text(failure.get('error') or {})}")
    more = (total if total is not None else len(items)) - min(shown, len(items))
    if more > 0:
        lines.append(f"  ... and {more:,} more (--failed-csv PATH writes them all to a file)")
    return "\n".join(lines)


def jobs_table(page: dict[str, Any]) -> str:
    items = page.get("items") or []
    if not items:
        return "No import jobs."
    rows = [
        [
            str(job.get("jobId")),
            str(job.get("createdAt", ""))[:19].replace("T", " "),
            str(job.get("campaign") or "-"),
            str(job.get("operation")),
            str(job.get("status")),
            f"{int(job.get('succeeded', 0)) + int(job.get('failed', 0)):,}/{int(job.get('total', 0)):,}",
            f"{int(job.get('failed', 0)):,}",
        ]
        for job in items
    ]
    text = table(["JOB", "CREATED (UTC)", "CAMPAIGN", "OPERATION", "STATUS", "DONE/TOTAL", "FAILED"], rows)
    if page.get("nextCursor"):
        text += f"\nMore: hub jobs --cursor {page['nextCursor']}"
    return text


def participant(p: dict[str, Any]) -> str:
    rank = p.get("rank")
    fields = [
        ["name", _shown(" ".join(part for part in (p.get("firstName"), p.get("lastName")) if part))],
        ["id", _shown(p.get("id"))],
        ["referral code", _shown(p.get("referralCode"))],
        ["share URL", _shown(p.get("shareUrl"))],
        ["referrals", str(p.get("referralCount", "-"))],
        ["rank", str(rank if rank is not None else "-")],
        ["referred by", _referred_by(p.get("referrer") or {})],
        ["flagged", "yes" if p.get("flagged") else "no"],
        ["created", _shown(p.get("createdAt"))],
    ]
    head = f"{p.get('email')} ({p.get('campaign')}, {p.get('provider')})"
    return head + "\n" + "\n".join(f"  {label.ljust(14)}{value}" for label, value in fields)


def _referred_by(referrer: dict[str, Any]) -> str:
    """The referrer as a participant's card shows it: email and ``(referral code)``, those it has."""
    code = f"({referrer['referralCode']})" if referrer.get("referralCode") else None
    return _shown(" ".join(part for part in (referrer.get("email"), code) if part))


def _shown(value: Any) -> Any:
    """A field as a card shows it: ``-`` when it is missing or empty."""
    return value or "-"


def sync(result: dict[str, Any]) -> str:
    properties = result.get("properties") or {}
    contact = f" (contact {result['contactId']})" if result.get("contactId") else ""
    lines = [f"Synced {result.get('email')} to Loops{contact}: {len(properties)} properties set"]
    lines += [f"  {key} = {value}" for key, value in sorted(properties.items())]
    if result.get("eventSent"):
        lines.append(f"Event sent: {result['eventSent']}")
    return "\n".join(lines)


def doctor(report: dict[str, Any]) -> str:
    checks = report.get("checks") or []
    rows = [[str(c.get("status")), str(c.get("check")), str(c.get("message"))] for c in checks]
    summary = report.get("summary") or {}
    problems, warnings = int(summary.get("problem", 0)), int(summary.get("warning", 0))
    if problems:
        verdict = f"{problems} problem(s) to fix, {warnings} warning(s)."
    elif warnings:
        verdict = f"No problem; {warnings} warning(s) worth a look."
    else:
        verdict = "Everything checked is fine."
    return table(["STATUS", "CHECK", "FINDING"], rows) + "\n" + verdict


def dead_letters(document: dict[str, Any]) -> str:
    lines = []
    for queue in document.get("queues") or []:
        count, in_flight = int(queue.get("count", 0)), int(queue.get("inFlight", 0))
        if not count and not in_flight:
            lines.append(f"{queue.get('operation')}: empty")
            continue
        flight = f" ({in_flight} being handled)" if in_flight else ""
        lines.append(f"{queue.get('operation')}: {count:,} message(s){flight}")
        for message in queue.get("messages") or []:
            lines.append("  " + dead_letter(message))
    if document.get("total"):
        lines.append("Put them back on their queues with: hub dlq redrive")
    return "\n".join(lines)


def dead_letter(message: dict[str, Any]) -> str:
    if message.get("errorCode"):
        reason = f"{message['errorCode']}: {message.get('errorMessage') or ''}".rstrip(": ")
    else:
        reason = (
            f"no outcome after {message.get('receiveCount') or 'every'} deliveries (the consumer timed out or crashed)"
        )
    if "jobId" not in message:
        return f"message {message.get('messageId')}: {reason}"
    who = message.get("email") or "-"
    return f"job {message.get('jobId')} row {message.get('row')} {who}: {reason}"


def redrive(result: dict[str, Any]) -> str:
    moved = [f"{q['operation']} {q['moved']:,}" for q in result.get("queues") or [] if q.get("moved")]
    text = f"Moved {result.get('moved', 0):,} message(s) back to their queues" + (
        f": {', '.join(moved)}." if moved else "."
    )
    left = [q for q in result.get("queues") or [] if q.get("remaining")]
    if left:
        text += "\nStill in the dead-letter queues: " + ", ".join(f"{q['operation']} {q['remaining']:,}" for q in left)
        text += " (a message whose move failed reappears within two minutes; run hub dlq redrive again)."
    return text


def campaigns_table(listing: dict[str, Any]) -> str:
    items = listing.get("items") or []
    if not items:
        return "No campaigns configured."
    rows = [[str(c.get("name")), str(c.get("provider")), ", ".join(c.get("operations") or []) or "-"] for c in items]
    return table(["CAMPAIGN", "PROVIDER", "OPERATIONS"], rows)


def campaign(c: dict[str, Any]) -> str:
    """A campaign as its provider describes it, then its reward catalog."""
    fields = [
        ["name", _shown(c.get("name"))],
        ["status", _shown(c.get("status"))],
        ["participants", _count(c.get("participantCount"))],
        ["referrals", _count(c.get("referralCount"))],
    ]
    head = f"{c.get('campaign')} ({c.get('provider')})"
    card = head + "\n" + "\n".join(f"  {label.ljust(14)}{value}" for label, value in fields)
    rewards = c.get("rewards") or []
    if not rewards:
        return card + "\nRewards: none in the catalog."
    rows = [
        [str(r.get("id")), _shown(r.get("type")), _count(r.get("conversionsRequired")), _shown(r.get("description"))]
        for r in rewards
    ]
    catalog = table(["REWARD", "TYPE", "CONVERSIONS", "DESCRIPTION"], rows)
    return card + "\nRewards:\n" + "\n".join(f"  {line}" for line in catalog.splitlines())


def _count(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) else "-"


def participants_table(page: dict[str, Any], campaign_name: str) -> str:
    items = page.get("items") or []
    if not items:
        return "No participants."
    rows = [
        [
            str(p.get("email")),
            _shown(" ".join(part for part in (p.get("firstName"), p.get("lastName")) if part)),
            _shown(p.get("referralCode")),
            _count(p.get("referralCount")),
            _count(p.get("rank")),
            str(p.get("createdAt") or "-")[:19].replace("T", " "),
        ]
        for p in items
    ]
    text = table(["EMAIL", "NAME", "REFERRAL CODE", "REFERRALS", "RANK", "CREATED (UTC)"], rows)
    if page.get("nextCursor"):
        text += f"\nMore: hub participants {campaign_name} --cursor {page['nextCursor']}"
    return text


def contact(c: dict[str, Any]) -> str:
    """A Loops contact: its fields, then each property."""
    fields = [
        ["name", _shown(" ".join(part for part in (c.get("firstName"), c.get("lastName")) if part))],
        ["user id", _shown(c.get("userId"))],
        ["contact id", _shown(c.get("id"))],
    ]
    properties = c.get("properties") or {}
    lines = [f"{c.get('email')} (Loops contact)", *(f"  {label.ljust(14)}{value}" for label, value in fields)]
    lines.append(f"  properties    {len(properties)}" if properties else "  properties    none")
    lines += [f"    {key} = {value}" for key, value in sorted(properties.items())]
    return "\n".join(lines)


def contact_deleted(answer: dict[str, Any]) -> str:
    return f"Deleted the Loops contact {answer.get('email')}."


_CONTACT_OUTCOMES = {
    True: "Loops contact deleted",
    False: "no Loops contact to delete",
    None: "Loops contact not asked for",
}


def deletion(answer: dict[str, Any]) -> str:
    """What one erasure deleted where: the participant at its provider, the contact in Loops."""
    where = answer.get("campaign")
    participant = (
        f"participant deleted from {where}"
        if answer.get("deleted")
        else f"no participant in {where} (deleted before, or never there)"
    )
    return f"{answer.get('email')}: {participant}; {_CONTACT_OUTCOMES.get(answer.get('contactDeleted'))}"


def erasure(document: dict[str, Any], *, shown: int) -> str:
    """An erasure's outcome: each email's (one by one) or the job's counts, then each failed email."""
    lines = [deletion(answer) for answer in document.get("results") or []]
    lines += [f"{_who(f)}: failed: {_failure_text(f)}" for f in (document.get("failures") or [])[:shown]]
    more = len(document.get("failures") or []) - shown
    if more > 0:
        lines.append(f"... and {more:,} more failed (--json lists them all)")
    total, failed = int(document.get("total", 0)), int(document.get("failed", 0))
    verdict = f"Erased {int(document.get('succeeded', 0)):,} of {total:,} in {document.get('campaign')}"
    if failed:
        verdict += f"; {failed:,} failed (erasing them again finishes what a failure left undone)."
    return "\n".join([*lines, verdict + ("" if failed else ".")])


def _who(failure: dict[str, Any]) -> str:
    """The email of a failed erasure; a failure of no row of its job is the file's."""
    return str(failure.get("email") or ("the file" if failure.get("row") == 0 else f"row {failure.get('row')}"))


def _failure_text(failure: dict[str, Any]) -> str:
    text = error_text(failure.get("error") or {})
    status = failure.get("httpStatus")
    return f"{text} (HTTP {status})" if status else text
