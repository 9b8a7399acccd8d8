"""``hub``: the command line. Parses the arguments, runs one command against the hub's API, prints
words (or one JSON document with ``--json``) and exits with a code scripts can rely on (:class:`Exit`).

Results go to stdout; progress, notes and errors to stderr, so ``hub jobs --json | jq`` works.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from . import __version__, erase, importer, render
from .client import (
    DEFAULT_URL,
    CliError,
    Exit,
    HubClient,
    new_idempotency_key,
    path_segment,
    resolve_target,
    unavailable,
    usage_error,
)
from .csvfiles import ERROR_COLUMN, emails_in, without_error_column, write_failed_rows

#: The bulk operations, as the hub's operation registry has them (a test holds the two together: this
#: package is a client of the API and ships without the layer).
OPERATIONS = (
    "addParticipant",
    "updateParticipant",
    "deleteParticipant",
    "convert",
    "redeem",
    "flag",
    "syncContact",
    "deleteContact",
)
SHOWN_FAILURES = 20

Command = Callable[[HubClient, argparse.Namespace, "Output"], Exit]


class Output:
    """Where a command's results and notes go, and in which form."""

    def __init__(self, as_json: bool, stdout: Any = None, stderr: Any = None):
        self.as_json = as_json
        self.stdout = stdout or sys.stdout
        self.stderr = stderr or sys.stderr

    def result(self, document: Any, words: str) -> None:
        """The command's result: the document with ``--json``, else the words."""
        if self.as_json:
            self.stdout.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
        elif words:
            self.stdout.write(words + "\n")
        self.stdout.flush()

    def note(self, text: str) -> None:
        self.stderr.write(text + "\n")
        self.stderr.flush()


# -- commands ---------------------------------------------------------------------------------------


def cmd_import(hub: HubClient, args: argparse.Namespace, out: Output) -> Exit:
    source = Path(args.file)
    if not source.is_file():
        raise usage_error(f"{args.file} is not a file")
    if source.stat().st_size == 0:
        raise usage_error(f"{args.file} is empty: a CSV import needs a header naming the columns, then rows")
    if args.failed_csv and Path(args.failed_csv).resolve() == source.resolve():
        raise usage_error("--failed-csv must not be the file being imported")
    stripped = without_error_column(source)
    sent = stripped or source
    try:
        if stripped is not None:
            out.note(f"Leaving out the {ERROR_COLUMN} column of {source.name} (the reasons of an earlier import).")
        answer = importer.start(
            hub, sent, campaign=args.campaign, operation=args.operation, upload=args.upload, say=out.note
        )
        job_id = str(answer["jobId"])
        if args.no_wait:
            out.result(answer, f"Started job {job_id}; follow it with: hub job {job_id} --wait")
            return Exit.OK
        out.note(f"Job {job_id} started; Ctrl-C stops watching, not the job.")
        return _finish(hub, job_id, args, out, source=sent)
    finally:
        if stripped is not None:
            stripped.unlink(missing_ok=True)


def _finish(hub: HubClient, job_id: str, args: argparse.Namespace, out: Output, *, source: Path | None) -> Exit:
    """Follow the job to its end, then report it with every failed row (and write them if asked)."""
    return _report(hub, _follow(hub, job_id, args, out), args, out, source=source)


def _follow(hub: HubClient, job_id: str, args: argparse.Namespace, out: Output) -> dict[str, Any]:
    """The job once it has ended, its progress shown on the way."""
    try:
        return importer.follow(
            hub, job_id, progress=importer.progress_for(out.stderr, quiet=args.quiet, every=args.every), poll=args.poll
        )
    except KeyboardInterrupt:
        out.note(f"\nStopped watching. The job goes on in the hub: hub job {job_id} --wait")
        raise


def _report(hub: HubClient, job: dict[str, Any], args: argparse.Namespace, out: Output, *, source: Path | None) -> Exit:
    failures = importer.all_failures(hub, job) if job.get("failed") or job.get("nextCursor") else job["failures"]
    document = {**job, "failures": failures, "nextCursor": None}
    words = [render.job_summary(job)]
    if failures:
        words.append(render.failures(failures, shown=args.show))
    if args.failed_csv and failures:
        assert source is not None, "cmd_job refuses --failed-csv without --source"
        written = write_failed_rows(source, failures, Path(args.failed_csv))
        document["failedCsv"] = {"path": args.failed_csv, "rows": written.written, "missing": written.missing}
        words.append(
            f"Wrote {written.written:,} failed row(s) to {args.failed_csv}: fix them and import that file again"
            " (its hub_error column is left out)."
        )
        if written.missing:
            shown = ", ".join(str(row) for row in written.missing[:10])
            words.append(f"Rows not found in the file (see their errors above): {shown}")
    out.result(document, "\n".join(words))
    return Exit.INCOMPLETE if job.get("status") == "completedWithErrors" else Exit.OK


def cmd_jobs(hub: HubClient, args: argparse.Namespace, out: Output) -> Exit:
    params = {"limit": args.limit, **({"cursor": args.cursor} if args.cursor else {})}
    page = hub.get("/imports", params=params)
    out.result(page, render.jobs_table(page))
    return Exit.OK


def cmd_job(hub: HubClient, args: argparse.Namespace, out: Output) -> Exit:
    source = _job_source(args)
    # The rows were numbered in the file as it was sent: without its hub_error column, if it had one.
    stripped = without_error_column(source) if source is not None else None
    try:
        if args.wait:
            return _finish(hub, args.job_id, args, out, source=stripped or source)
        job = hub.get(f"/imports/{path_segment(args.job_id)}")
        return _report(hub, job, args, out, source=stripped or source)
    finally:
        if stripped is not None:
            stripped.unlink(missing_ok=True)


def _job_source(args: argparse.Namespace) -> Path | None:
    """The file the job imported (``--source``), checked with what asks for it (``--failed-csv``)."""
    source = Path(args.source) if args.source else None
    if source is not None and not source.is_file():
        raise usage_error(f"{args.source} is not a file")
    if args.failed_csv and source is None:
        raise usage_error("--failed-csv needs --source FILE: the file the job imported")
    return source


def cmd_participant(hub: HubClient, args: argparse.Namespace, out: Output) -> Exit:
    found = hub.get(f"/campaigns/{path_segment(args.campaign)}/participants/{path_segment(args.email)}")
    out.result(found, render.participant(found))
    return Exit.OK


def cmd_campaigns(hub: HubClient, args: argparse.Namespace, out: Output) -> Exit:
    if args.name is None:
        listing = hub.get("/campaigns")
        out.result(listing, render.campaigns_table(listing))
    else:
        found = hub.get(f"/campaigns/{path_segment(args.name)}")
        out.result(found, render.campaign(found))
    return Exit.OK


def cmd_participants(hub: HubClient, args: argparse.Namespace, out: Output) -> Exit:
    path = f"/campaigns/{path_segment(args.campaign)}/participants"
    page = _every_page(hub, path, args) if args.all else hub.get(path, params=_page_params(args.limit, args.cursor))
    out.result(page, render.participants_table(page, args.campaign))
    return Exit.OK


def _page_params(limit: int | None, cursor: str | None) -> dict[str, Any]:
    return {"limit": limit or 20, **({"cursor": cursor} if cursor else {})}


def _every_page(hub: HubClient, path: str, args: argparse.Namespace) -> dict[str, Any]:
    """Every page from ``--cursor`` (or the first) on, following ``nextCursor``: their items joined."""
    items: list[Any] = []
    cursor, seen = args.cursor, set()
    while True:
        page = hub.get(path, params=_page_params(args.limit or 100, cursor))
        items += page.get("items") or []
        cursor = page.get("nextCursor")
        if not cursor:
            return {"items": items, "nextCursor": None}
        if cursor in seen:
            raise unavailable(f"the hub answered the cursor {cursor} twice: the listing does not advance")
        seen.add(cursor)


def cmd_erase(hub: HubClient, args: argparse.Namespace, out: Output) -> Exit:
    emails = _erased_emails(args, out)
    if args.file or len(emails) > erase.ONE_BY_ONE_MAX:
        return _erase_by_import(hub, emails, args, out)
    erasure = erase.one_by_one(hub, args.campaign, emails)
    document = erasure.document()
    out.result(document, render.erasure(document, shown=args.show))
    return Exit.INCOMPLETE if erasure.failed else Exit.OK


def _erased_emails(args: argparse.Namespace, out: Output) -> list[str]:
    """The emails to erase: those given, then those of ``--file``, each once."""
    given = list(args.emails)
    if args.file:
        source = Path(args.file)
        if not source.is_file():
            raise usage_error(f"{args.file} is not a file")
        given += emails_in(source)
    emails = erase.unique(given)
    if not emails:
        raise usage_error("nobody to erase: give one EMAIL or more, or --file FILE listing them")
    if len(emails) < len(given):
        out.note(f"Leaving out {len(given) - len(emails):,} repeated or blank email(s).")
    return emails


def _erase_by_import(hub: HubClient, emails: list[str], args: argparse.Namespace, out: Output) -> Exit:
    """The erasure of many people as one ``deleteParticipant`` job, each row with ``contact`` true."""
    sheet = erase.sheet(emails)
    try:
        answer = importer.start(
            hub, sheet, campaign=args.campaign, operation="deleteParticipant", upload="auto", say=out.note
        )
    finally:
        sheet.unlink(missing_ok=True)
    job_id = str(answer["jobId"])
    out.note(f"Job {job_id} erases {len(emails):,} people; Ctrl-C stops watching, not the job.")
    job = _follow(hub, job_id, args, out)
    failures = importer.all_failures(hub, job) if job.get("failed") or job.get("nextCursor") else job["failures"]
    document = erase.of_job(args.campaign, emails, job, failures).document()
    out.result(document, render.job_summary(job) + "\n" + render.erasure(document, shown=args.show))
    return Exit.INCOMPLETE if document["failed"] else Exit.OK


def cmd_contact(hub: HubClient, args: argparse.Namespace, out: Output) -> Exit:
    path = f"/contacts/{path_segment(args.email)}"
    if args.delete:
        answer = hub.delete(path)
        out.result(answer, render.contact_deleted(answer))
    else:
        found = hub.get(path)
        out.result(found, render.contact(found))
    return Exit.OK


def cmd_sync(hub: HubClient, args: argparse.Namespace, out: Output) -> Exit:
    body: dict[str, Any] = {"email": args.email}
    for field, value in (
        ("campaign", args.campaign),
        ("firstName", args.first_name),
        ("lastName", args.last_name),
        ("userId", args.user_id),
    ):
        if value is not None:
            body[field] = value
    if args.property:
        body["properties"] = dict(args.property)
    if args.event:
        body["event"] = {"name": args.event, "properties": dict(args.event_property or [])}
    elif args.event_property:
        raise usage_error("--event-property needs --event NAME")
    result = hub.post("/contacts/sync", body)
    out.result(result, render.sync(result))
    return Exit.OK


def cmd_doctor(hub: HubClient, args: argparse.Namespace, out: Output) -> Exit:
    report = hub.get("/doctor")
    out.result(report, render.doctor(report))
    return Exit.OK if report.get("ok") else Exit.INCOMPLETE


def cmd_dlq(hub: HubClient, args: argparse.Namespace, out: Output) -> Exit:
    params = {"limit": args.limit, **({"operation": args.operation} if args.operation else {})}
    document = hub.get("/deadletters", params=params)
    out.result(document, render.dead_letters(document))
    return Exit.OK


def cmd_redrive(hub: HubClient, args: argparse.Namespace, out: Output) -> Exit:
    body = {"operation": args.operation} if args.operation else {}
    moved: dict[str, dict[str, Any]] = {}
    while True:
        # Each request moves what it can within its own time budget and is new work, so it gets a new
        # key (the client's retries of one request keep its key).
        hub.idempotency_key = new_idempotency_key()
        answer = hub.post("/deadletters/redrive", body)
        for queue in answer.get("queues") or []:
            total = moved.setdefault(queue["operation"], {"operation": queue["operation"], "moved": 0, "reopened": 0})
            total["moved"] += int(queue.get("moved", 0))
            total["reopened"] += int(queue.get("reopened", 0))
            total["remaining"] = int(queue.get("remaining", 0))
        if answer.get("done") or not answer.get("moved"):
            break
        out.note(f"Moved {sum(q['moved'] for q in moved.values()):,} so far...")
    result = {
        "moved": sum(q["moved"] for q in moved.values()),
        "done": bool(answer.get("done")),
        "queues": list(moved.values()),
    }
    out.result(result, render.redrive(result))
    return Exit.OK if result["done"] else Exit.INCOMPLETE


# -- the parser -------------------------------------------------------------------------------------


def key_value(text: str) -> tuple[str, Any]:
    """``key=value`` (a string) or ``key:=json`` (a number, true, false, null)."""
    if ":=" in text and text.index(":=") < text.index("=") + 1:
        key, raw = text.split(":=", 1)
        try:
            value = json.loads(raw)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"'{text}': after ':=' comes a JSON value such as 3, true or null"
            ) from None
        if isinstance(value, dict | list):
            raise argparse.ArgumentTypeError(f"'{text}': a property holds a string, number, true, false or null")
    elif "=" in text:
        key, value = text.split("=", 1)
    else:
        raise argparse.ArgumentTypeError(f"'{text}' is not key=value (or key:=json for numbers and booleans)")
    if not key.strip():
        raise argparse.ArgumentTypeError(f"'{text}' has no key before '='")
    return key.strip(), value


def bounded(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"'{text}' must be from {low} to {high}")
        return value

    return parse


def positive(kind: type[int] | type[float]) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"'{text}' must be above 0")
        return value

    return parse


def build_parser() -> argparse.ArgumentParser:
    # The common flags work before or after the command (`hub --json jobs`, `hub jobs --json`): each
    # subcommand shares them with SUPPRESS defaults, so a flag given once is never reset by the other.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--url", default=argparse.SUPPRESS, help=f"the hub's URL (env HUB_URL; default {DEFAULT_URL})")
    common.add_argument("--api-key", default=argparse.SUPPRESS, help="the hub's API key (env HUB_API_KEY)")
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="print one JSON document")
    common.add_argument(
        "--timeout", type=positive(float), default=argparse.SUPPRESS, help="seconds to wait for an answer (60)"
    )

    parser = argparse.ArgumentParser(
        prog="hub",
        description="Referral Hub on the command line: imports, jobs, campaigns, participants, erasure, contacts and"
        " their syncs, checks and dead letters.",
        epilog="Exit codes: 0 ok; 1 done with failures (failed rows, doctor problems, messages left); 2 usage or"
        " input error; 3 the hub refused the request (4xx); 4 the hub could not answer (unreachable, 5xx);"
        " 130 interrupted. See docs/cli.md.",
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name: str, handler: Command, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, parents=[common], help=help_text, description=help_text)
        sub.set_defaults(handler=handler)
        return sub

    def follow_flags(sub: argparse.ArgumentParser, *, failed_csv: bool = True) -> None:
        if failed_csv:
            sub.add_argument(
                "--failed-csv", metavar="PATH", help="write the failed rows (with a hub_error column) here"
            )
        sub.add_argument(
            "--show", type=bounded(0, 1_000_000), default=SHOWN_FAILURES, help="failed rows to print (%(default)s)"
        )
        sub.add_argument("--poll", type=positive(float), default=1.0, help="seconds between polls (%(default)s)")
        sub.add_argument(
            "--every",
            type=positive(float),
            default=5.0,
            help="seconds between progress lines when stderr is not a terminal (%(default)s)",
        )
        sub.add_argument("--quiet", action="store_true", help="no progress")

    imp = command("import", cmd_import, "import a CSV file as a bulk job, show its progress, report its failed rows")
    imp.add_argument("file", metavar="FILE.csv")
    imp.add_argument("--campaign", help="the campaign (optional for syncContact; deleteContact takes none)")
    imp.add_argument("--operation", choices=OPERATIONS, default="addParticipant", help="(default %(default)s)")
    imp.add_argument(
        "--upload",
        choices=("auto", "always", "never"),
        default="auto",
        help="upload the file through S3: auto does for files over 256 KiB (default %(default)s)",
    )
    imp.add_argument("--no-wait", action="store_true", help="print the job id and return at once")
    follow_flags(imp)

    jobs = command("jobs", cmd_jobs, "list recent import jobs, newest first")
    jobs.add_argument("--limit", type=bounded(1, 100), default=20, metavar="N", help="1 to 100 (%(default)s)")
    jobs.add_argument("--cursor", help="the next page, as the previous page printed it")

    job = command("job", cmd_job, "show one job and its failed rows")
    job.add_argument("job_id", metavar="JOB_ID")
    job.add_argument("--wait", action="store_true", help="follow the job with a progress bar until it ends")
    job.add_argument("--source", metavar="FILE", help="the file the job imported (for --failed-csv)")
    follow_flags(job)

    camps = command(
        "campaigns", cmd_campaigns, "list the configured campaigns; with NAME, one campaign and its reward catalog"
    )
    camps.add_argument("name", metavar="NAME", nargs="?", help="a campaign: show it as its provider describes it")

    parts = command("participants", cmd_participants, "list a campaign's participants, a page or all of them")
    parts.add_argument("campaign", metavar="CAMPAIGN")
    parts.add_argument(
        "--limit", type=bounded(1, 100), metavar="N", help="participants per page, 1 to 100 (20; with --all, 100)"
    )
    parts.add_argument("--cursor", help="start from this page, as the previous page printed it")
    parts.add_argument("--all", action="store_true", help="every page, following nextCursor to the end")

    part = command("participant", cmd_participant, "show a campaign's participant")
    part.add_argument("campaign", metavar="CAMPAIGN")
    part.add_argument("email", metavar="EMAIL")

    era = command(
        "erase",
        cmd_erase,
        "delete people from a campaign and their Loops contacts: one request each for a few, one bulk job for"
        f" more than {erase.ONE_BY_ONE_MAX} or a --file",
    )
    era.add_argument("emails", metavar="EMAIL", nargs="*")
    era.add_argument("--campaign", required=True, help="the campaign to delete them from")
    era.add_argument(
        "--file", metavar="FILE", help="a CSV file with an email column, or a list of emails one a line (a bulk job)"
    )
    follow_flags(era, failed_csv=False)

    cont = command("contact", cmd_contact, "show a Loops contact; --delete deletes it")
    cont.add_argument("email", metavar="EMAIL")
    cont.add_argument("--delete", action="store_true", help="delete the contact in Loops")

    sync = command("sync", cmd_sync, "upsert a contact in Loops (with a campaign's referral stats if --campaign)")
    sync.add_argument("email", metavar="EMAIL")
    sync.add_argument("--campaign", help="copy this campaign's referral stats onto the contact")
    sync.add_argument("--first-name")
    sync.add_argument("--last-name")
    sync.add_argument("--user-id")
    sync.add_argument(
        "--property", type=key_value, action="append", metavar="KEY=VALUE", help="repeatable; KEY:=3 for JSON values"
    )
    sync.add_argument("--event", metavar="NAME", help="also send this Loops event")
    sync.add_argument("--event-property", type=key_value, action="append", metavar="KEY=VALUE")

    command("doctor", cmd_doctor, "check the configuration and every provider key")

    dlq = command("dlq", cmd_dlq, "show the bulk operations' dead-letter queues; `hub dlq redrive` puts them back")
    dlq.add_argument("--operation", choices=OPERATIONS, help="one operation's queue only")
    dlq.add_argument(
        "--limit", type=bounded(0, 50), default=10, metavar="N", help="messages shown per queue, 0 to 50 (%(default)s)"
    )
    actions = dlq.add_subparsers(dest="action", metavar="ACTION")
    redrive = actions.add_parser(
        "redrive", parents=[common], help="put the messages back on their queues, their rows reopened"
    )
    redrive.add_argument(
        "--operation", choices=OPERATIONS, default=argparse.SUPPRESS, help="one operation's queue only"
    )
    redrive.set_defaults(handler=cmd_redrive)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    out = Output(getattr(args, "json", False))
    try:
        url, key = resolve_target(getattr(args, "url", None), getattr(args, "api_key", None))
        hub = HubClient(url, key, timeout=getattr(args, "timeout", 60.0))
        handler: Command = args.handler
        return int(handler(hub, args, out))
    except CliError as exc:
        if out.as_json:
            out.result(exc.to_json(), "")
        out.note(f"hub: {exc.words()}")
        return int(exc.exit_code)
    except KeyboardInterrupt:
        return int(Exit.INTERRUPTED)
    except BrokenPipeError:
        # The reader of our output went away (`hub jobs | head`): nothing more to say to anyone.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return int(Exit.OK)
