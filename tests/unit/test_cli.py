"""The command line's own logic: its arguments, the progress it draws, the failed-rows file, and how
the hub's answers become words and exit codes. (tests/e2e/test_cli.py drives the real command.)"""

from __future__ import annotations

import argparse
import io
import json
import urllib.parse
from typing import Any

import pytest
import requests

from hubcli import main as cli
from hubcli.client import CliError, Exit, HubClient, answer_of, resolve_target
from hubcli.csvfiles import ERROR_COLUMN, emails_in, header_of, records, without_error_column, write_failed_rows
from hubcli.erase import ONE_BY_ONE_MAX
from hubcli.progress import Progress, duration


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def job(done: int, total: int, failed: int = 0, status: str = "running") -> dict:
    return {"jobId": "j1", "status": status, "total": total, "succeeded": done - failed, "failed": failed}


def response(status: int, body: object, headers: dict | None = None) -> requests.Response:
    answer = requests.Response()
    answer.status_code = status
    answer._content = json.dumps(body).encode()
    answer.headers.update(headers or {})
    return answer


# -- arguments ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plan=pro", ("plan", "pro")),
        ("seats:=3", ("seats", 3)),
        ("trial:=false", ("trial", False)),
        ("note=a=b", ("note", "a=b")),
        ("link=https://x.example/?q:=1", ("link", "https://x.example/?q:=1")),
    ],
)
def test_properties_are_strings_unless_given_as_json(text, expected):
    # Given a --property argument / When it is parsed / Then it is the key and its typed value
    assert cli.key_value(text) == expected


@pytest.mark.parametrize("text", ["novalue", "=x", "list:=[1]", "bad:=tru"])
def test_a_property_that_is_not_key_value_is_refused(text):
    # Given a malformed --property / When it is parsed / Then argparse gets an error to show
    with pytest.raises(argparse.ArgumentTypeError):
        cli.key_value(text)


def test_common_flags_work_after_the_command_as_before_it():
    # Given the parser
    parser = cli.build_parser()
    # When --json and --url come before or after the command
    before = parser.parse_args(["--json", "--url", "http://h:1", "jobs"])
    after = parser.parse_args(["jobs", "--json", "--url", "http://h:1"])
    # Then both mean the same
    assert (
        (before.json, before.url, before.handler)
        == (after.json, after.url, after.handler)
        == (
            True,
            "http://h:1",
            cli.cmd_jobs,
        )
    )


def test_dlq_redrive_is_its_own_command_with_its_operation():
    # Given the parser / When `dlq redrive --operation convert` is parsed
    args = cli.build_parser().parse_args(["dlq", "redrive", "--operation", "convert"])
    # Then it runs the redrive of that operation's queue
    assert (args.handler, args.operation) == (cli.cmd_redrive, "convert")


def test_a_missing_api_key_is_a_usage_error(monkeypatch):
    # Given no key in the flags nor the environment
    monkeypatch.delenv("HUB_API_KEY", raising=False)
    # When the target is resolved / Then the error says where a key goes, with the usage exit code
    with pytest.raises(CliError) as raised:
        resolve_target("http://127.0.0.1:3000", None)
    assert raised.value.exit_code == Exit.USAGE
    assert "--api-key" in raised.value.message and "HUB_API_KEY" in raised.value.message


def test_the_url_comes_from_the_environment_without_its_trailing_slash(monkeypatch):
    # Given HUB_URL and HUB_API_KEY in the environment
    monkeypatch.setenv("HUB_URL", "https://abc.execute-api.eu-west-1.amazonaws.com/prod/")
    monkeypatch.setenv("HUB_API_KEY", "k")
    # When the target is resolved without flags / Then they are used
    assert resolve_target(None, None) == ("https://abc.execute-api.eu-west-1.amazonaws.com/prod", "k")


# -- answers and exit codes -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code", "exit_code"),
    [
        (403, "UNAUTHORIZED", Exit.REFUSED),
        (404, "CAMPAIGN_NOT_FOUND", Exit.REFUSED),
        (422, "VALIDATION_ERROR", Exit.REFUSED),
        (429, "RATE_LIMITED", Exit.UNAVAILABLE),
        (502, "PROVIDER_ERROR", Exit.UNAVAILABLE),
        (504, "PROVIDER_TIMEOUT", Exit.UNAVAILABLE),
    ],
)
def test_an_error_answer_becomes_its_exit_code(status, code, exit_code):
    # Given an error answer of the hub
    answer = response(status, {"error": {"code": code, "message": "m", "details": []}})
    # When it is read / Then it raises with the documented exit code and the hub's code
    with pytest.raises(CliError) as raised:
        answer_of(answer)
    assert (raised.value.exit_code, raised.value.code, raised.value.status) == (exit_code, code, status)


def test_an_error_is_told_in_words_with_each_detail():
    # Given a validation error naming two fields
    answer = response(
        422,
        {
            "error": {
                "code": "VALIDATION_ERROR",
                "message": "the request body is invalid",
                "details": [{"field": "email", "reason": "is required"}, {"field": "firstName", "reason": "too long"}],
            }
        },
    )
    # When it is read
    with pytest.raises(CliError) as raised:
        answer_of(answer)
    # Then the words give the message, the status and code, and one line per field
    assert raised.value.words() == (
        "the request body is invalid (422 VALIDATION_ERROR)\n  - email: is required\n  - firstName: too long"
    )


def test_a_wrong_api_key_says_where_the_key_comes_from():
    # Given API Gateway's refusal of a key
    answer = response(403, {"error": {"code": "UNAUTHORIZED", "message": "a valid API key is required", "details": []}})
    # When it is read / Then the message says which flag or variable to check
    with pytest.raises(CliError) as raised:
        answer_of(answer)
    assert raised.value.message.endswith(": check --api-key or HUB_API_KEY")


# -- progress -------------------------------------------------------------------------------------------


def test_progress_off_a_terminal_is_a_line_every_few_seconds_and_a_final_one():
    # Given progress written to a file every 5 seconds, polled every second
    stream, clock = io.StringIO(), Clock()
    progress = Progress(stream, interactive=False, every=5, clock=clock)
    # When the job advances ten rows a second for 9 seconds, then completes
    for second in range(10):
        clock.now = float(second)
        progress.update(job(10 * second, 100))
    clock.now = 10.0
    progress.update(job(100, 100, failed=2, status="completedWithErrors"))
    # Then there is a line at 0 s and 5 s and a final one with the counts
    lines = stream.getvalue().splitlines()
    assert len(lines) == 3
    assert lines[1] == "job j1 running: 50/100 rows 50%, 50 succeeded, 0 failed, 10.0 rows/s, ETA 5s"
    assert lines[2] == "job j1 completedWithErrors: 100/100 rows 100%, 98 succeeded, 2 failed, 10.0 rows/s, in 10s"


def test_progress_on_a_terminal_redraws_one_bar_in_place():
    # Given a terminal
    stream, clock = io.StringIO(), Clock()
    progress = Progress(stream, interactive=True, clock=clock)
    # When two states are drawn, then the progress is closed
    progress.update(job(0, 48))
    clock.now = 2.0
    progress.update(job(24, 48))
    progress.close()
    # Then each state overwrote the line, the bar is half full, and the line is ended once
    text = stream.getvalue()
    assert text.count("\r") == 2 and text.count("\x1b[K") == 2 and text.endswith("\n")
    assert "\r[############------------] running: 24/48 rows 50%" in text


def test_the_rate_follows_the_last_seconds_not_the_whole_job():
    # Given a job that did 1 row a second for a minute, then 20 rows a second
    clock = Clock()
    progress = Progress(io.StringIO(), interactive=False, clock=clock)
    for second in range(60):
        clock.now = float(second)
        progress.update(job(second, 10_000))
    for second in range(60, 90):
        clock.now = float(second)
        progress.update(job(59 + 20 * (second - 59), 10_000))
    # When the rate is read / Then it is the recent pace
    assert progress.rate() == pytest.approx(20.0, rel=0.1)


@pytest.mark.parametrize(("seconds", "text"), [(0.4, "0s"), (59, "59s"), (65, "1m05s"), (7384, "2h03m")])
def test_durations_read_as_people_write_them(seconds, text):
    assert duration(seconds) == text


# -- the failed-rows file -----------------------------------------------------------------------------


def test_records_are_numbered_by_the_line_where_they_start(tmp_path):
    # Given a file with a BOM, a blank line and a quoted field over two lines
    source = tmp_path / "in.csv"
    source.write_bytes('\ufeffemail,note\n\na@example.com,"two\nlines"\nb@example.com,x\n'.encode())
    # When its records are read
    with source.open(encoding="utf-8-sig", newline="") as handle:
        numbered = [(row, fields) for row, fields in records(handle) if fields]
    # Then each record has the hub's row number (the header is line 1)
    assert numbered == [(1, ["email", "note"]), (3, ["a@example.com", "two\nlines"]), (5, ["b@example.com", "x"])]


def test_failed_rows_are_written_with_the_header_and_their_reason(tmp_path):
    # Given a file and two of its rows failed
    source = tmp_path / "in.csv"
    source.write_text("Email,First Name\nada@example.com,Ada\nbad,Bob\nalso-bad,Carl\n")
    failures = [
        {
            "row": 3,
            "error": {
                "code": "VALIDATION_ERROR",
                "message": "row 3 is invalid",
                "details": [{"field": "email", "reason": "must be an email address"}],
            },
        },
        {"row": 4, "error": {"code": "EMAIL_TAKEN", "message": "GrowSurf: email taken", "details": []}},
    ]
    target = tmp_path / "failed.csv"
    # When they are written
    result = write_failed_rows(source, failures, target)
    # Then the file has the input's header, a hub_error column, and each failed record as it was
    assert (result.written, result.missing) == (2, [])
    assert target.read_text().splitlines() == [
        f"Email,First Name,{ERROR_COLUMN}",
        "bad,Bob,VALIDATION_ERROR: row 3 is invalid (email: must be an email address)",
        "also-bad,Carl,EMAIL_TAKEN: GrowSurf: email taken",
    ]


def test_a_failure_without_a_record_is_reported_missing(tmp_path):
    # Given a failure of row 0 (the file itself) and of a row past the end
    source = tmp_path / "in.csv"
    source.write_text("email\nada@example.com\n")
    # When the failed rows are written / Then neither has a record, and both are named
    result = write_failed_rows(source, [{"row": 0, "error": {}}, {"row": 9, "error": {}}], tmp_path / "f.csv")
    assert (result.written, result.missing) == (0, [0, 9])


def test_the_error_column_is_left_out_of_what_is_sent_keeping_line_numbers(tmp_path):
    # Given a fixed failed-rows file (its hub_error column in the middle, a blank line kept)
    source = tmp_path / "failed.csv"
    source.write_text('email,Hub Error,plan\nada@example.com,old reason,pro\n\nbob@example.com,"x, y",team\n')
    # When it is prepared for sending
    sent = without_error_column(source, str(tmp_path))
    # Then the copy has every column but that one, each record on its original line
    assert sent is not None
    assert sent.read_text() == "email,plan\nada@example.com,pro\n\nbob@example.com,team\n"
    assert header_of(sent) == ["email", "plan"]


def test_a_file_without_the_error_column_is_sent_as_it_is(tmp_path):
    # Given a file with no hub_error column / When it is prepared / Then there is no copy
    source = tmp_path / "in.csv"
    source.write_text("email,plan\nada@example.com,pro\n")
    assert without_error_column(source) is None


def test_failed_rows_of_a_past_job_need_the_file_it_imported(capsys):
    # Given `hub job` asked for a failed-rows file without the source file
    # When it runs (before any request)
    code = cli.main(["job", "some-job", "--failed-csv", "failed.csv", "--api-key", "k"])
    # Then it is a usage error that names the missing flag
    assert code == Exit.USAGE
    assert "--failed-csv needs --source FILE" in capsys.readouterr().err


# -- commands against a fake hub ------------------------------------------------------------------------


class FakeHub(requests.adapters.BaseAdapter):
    """The hub's API as a transport under the real client: each (method, path) answers its queued
    answers in turn (the last one again once the others are used), and every request is kept."""

    def __init__(self) -> None:
        super().__init__()
        self.answers: dict[tuple[str, str], list[tuple[int, Any]]] = {}
        self.sent: list[requests.PreparedRequest] = []

    def answer(self, method: str, path: str, *answers: tuple[int, Any]) -> None:
        self.answers[(method, path)] = list(answers)

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        self.sent.append(request)
        queued = self.answers.get((str(request.method), urllib.parse.urlsplit(str(request.url)).path))
        if not queued:
            status, body = 404, {"error": {"code": "ROUTE_NOT_FOUND", "message": "no such route", "details": []}}
        else:
            status, body = queued.pop(0) if len(queued) > 1 else queued[0]
        answer = response(status, body)
        answer.request, answer.url = request, str(request.url)
        return answer

    def close(self) -> None:
        pass

    def to(self, method: str, path: str) -> list[requests.PreparedRequest]:
        return [r for r in self.sent if r.method == method and urllib.parse.urlsplit(str(r.url)).path == path]


def query(request: requests.PreparedRequest) -> dict[str, str]:
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(str(request.url)).query))


@pytest.fixture
def fake_hub(monkeypatch: pytest.MonkeyPatch) -> FakeHub:
    """`hub` commands run by ``cli.main`` reach this fake through the real client."""
    fake = FakeHub()

    def client(url: str, key: str, *, timeout: float) -> HubClient:
        hub = HubClient(url, key, timeout=timeout)
        hub.session.mount("http://", fake)
        return hub

    monkeypatch.setattr(cli, "HubClient", client)
    monkeypatch.setenv("HUB_API_KEY", "k")
    monkeypatch.setenv("HUB_URL", "http://hub.test")
    return fake


def error(code: str, message: str = "m") -> dict:
    return {"error": {"code": code, "message": message, "details": []}}


def deletion(email: str, deleted: bool = True, contact: bool | None = True) -> dict:
    return {"campaign": "spring", "email": email, "deleted": deleted, "contactDeleted": contact}


GROWSURF_CAMPAIGN = {
    "campaign": "spring",
    "provider": "growsurf",
    "name": "Spring launch",
    "status": "IN_PROGRESS",
    "participantCount": 1234,
    "referralCount": 56,
    "rewards": [
        {"id": "xyz789", "description": "A T-shirt", "type": "DOUBLE_SIDED", "conversionsRequired": 1},
        {"id": "abc123", "description": "A month free", "type": "SINGLE_SIDED", "conversionsRequired": 3},
    ],
    "providerData": {},
}


def test_campaigns_lists_each_campaign_with_its_provider_and_operations(fake_hub, capsys):
    # Given two configured campaigns
    fake_hub.answer(
        "GET",
        "/campaigns",
        (
            200,
            {
                "items": [
                    {"name": "spring", "provider": "growsurf", "operations": ["addParticipant", "convert"]},
                    {"name": "news", "provider": "sparkloop", "operations": ["addParticipant"]},
                ]
            },
        ),
    )
    # When they are listed
    code = cli.main(["campaigns"])
    # Then each is a row with its provider and operations
    assert code == Exit.OK
    assert capsys.readouterr().out.splitlines() == [
        "CAMPAIGN  PROVIDER   OPERATIONS",
        "spring    growsurf   addParticipant, convert",
        "news      sparkloop  addParticipant",
    ]


def test_campaigns_with_a_name_shows_the_campaign_and_its_reward_catalog(fake_hub, capsys):
    # Given a GrowSurf campaign with two rewards in its catalog
    fake_hub.answer("GET", "/campaigns/spring", (200, GROWSURF_CAMPAIGN))
    # When it is shown
    code = cli.main(["campaigns", "spring"])
    # Then the card has the provider's figures and one line per reward
    out = capsys.readouterr().out
    assert code == Exit.OK
    assert out.startswith("spring (growsurf)\n  name          Spring launch\n  status        IN_PROGRESS\n")
    assert "  participants  1,234\n  referrals     56\nRewards:\n" in out
    assert "  REWARD  TYPE          CONVERSIONS  DESCRIPTION" in out
    assert "  abc123  SINGLE_SIDED  3            A month free" in out


def test_a_campaign_without_a_campaign_endpoint_exits_as_a_5xx_does(fake_hub, capsys):
    # Given a provider without a campaign endpoint (501)
    fake_hub.answer("GET", "/campaigns/news", (501, error("UNSUPPORTED_OPERATION", "SparkLoop has no 'getCampaign'")))
    # When the campaign is asked for / Then the hub's words are on stderr, with the 5xx exit code
    assert cli.main(["campaigns", "news"]) == Exit.UNAVAILABLE
    assert "SparkLoop has no 'getCampaign' (501 UNSUPPORTED_OPERATION)" in capsys.readouterr().err


def participants_page(emails: list[str], next_cursor: str | None) -> tuple[int, dict]:
    items = [{"email": e, "firstName": "P", "referralCode": e[:3], "referralCount": 0, "rank": 1} for e in emails]
    return 200, {"items": items, "nextCursor": next_cursor}


def test_participants_prints_one_page_and_how_to_get_the_next(fake_hub, capsys):
    # Given a campaign whose first page has more after it
    fake_hub.answer("GET", "/campaigns/spring/participants", participants_page(["ada@example.com"], "p2"))
    # When a page of 5 is listed
    code = cli.main(["participants", "spring", "--limit", "5"])
    # Then it asked for 5, shows the participant, and says how to get the next page
    out = capsys.readouterr().out.splitlines()
    assert code == Exit.OK
    assert query(fake_hub.sent[0]) == {"limit": "5"}
    assert out[0].split() == ["EMAIL", "NAME", "REFERRAL", "CODE", "REFERRALS", "RANK", "CREATED", "(UTC)"]
    assert out[1].split() == ["ada@example.com", "P", "ada", "0", "1", "-"]
    assert out[-1] == "More: hub participants spring --cursor p2"


def test_participants_all_follows_every_cursor_into_one_document(fake_hub, capsys):
    # Given three pages
    fake_hub.answer(
        "GET",
        "/campaigns/spring/participants",
        participants_page(["a@example.com", "b@example.com"], "c2"),
        participants_page(["c@example.com"], "c3"),
        participants_page(["d@example.com"], None),
    )
    # When every page is listed as JSON
    code = cli.main(["participants", "spring", "--all", "--json"])
    # Then the pages were asked in turn, 100 at a time, and the document joins them
    document = json.loads(capsys.readouterr().out)
    assert code == Exit.OK
    assert [query(r) for r in fake_hub.sent] == [
        {"limit": "100"},
        {"limit": "100", "cursor": "c2"},
        {"limit": "100", "cursor": "c3"},
    ]
    assert [p["email"][0] for p in document["items"]] == ["a", "b", "c", "d"]
    assert document["nextCursor"] is None


def test_participants_all_stops_when_the_cursor_does_not_advance(fake_hub, capsys):
    # Given a listing that answers the same cursor again and again
    fake_hub.answer("GET", "/campaigns/spring/participants", participants_page(["a@example.com"], "same"))
    # When every page is asked for / Then it stops with the 5xx exit code instead of looping
    assert cli.main(["participants", "spring", "--all"]) == Exit.UNAVAILABLE
    assert "does not advance" in capsys.readouterr().err


def test_erase_deletes_each_person_with_the_contact_and_a_key_of_its_own(fake_hub, capsys):
    # Given two people, one whose participant was gone already
    base = "/campaigns/spring/participants/"
    fake_hub.answer("DELETE", base + "ada@example.com", (200, deletion("ada@example.com")))
    fake_hub.answer("DELETE", base + "bob@example.com", (200, deletion("bob@example.com", deleted=False)))
    # When both are erased
    code = cli.main(["erase", "ada@example.com", "bob@example.com", "--campaign", "spring"])
    # Then each was one DELETE with contact=true and its own Idempotency-Key
    assert code == Exit.OK
    assert [query(r) for r in fake_hub.sent] == [{"contact": "true"}, {"contact": "true"}]
    keys = {r.headers["Idempotency-Key"] for r in fake_hub.sent}
    assert len(keys) == 2 and all(key.startswith("hub-cli-") for key in keys)
    # And the report says what was deleted where
    assert capsys.readouterr().out.splitlines() == [
        "ada@example.com: participant deleted from spring; Loops contact deleted",
        "bob@example.com: no participant in spring (deleted before, or never there); Loops contact deleted",
        "Erased 2 of 2 in spring.",
    ]


def test_erase_goes_on_past_a_failed_person_and_exits_1(fake_hub, capsys):
    # Given a Loops failure after the first person's participant was deleted
    base = "/campaigns/spring/participants/"
    message = "the participant was deleted but Loops did not answer: send the same call again to finish the erasure"
    fake_hub.answer("DELETE", base + "ada@example.com", (503, error("PROVIDER_UNAVAILABLE", message)))
    fake_hub.answer("DELETE", base + "bob@example.com", (200, deletion("bob@example.com")))
    # When both are erased, as JSON
    code = cli.main(["erase", "ada@example.com", "bob@example.com", "--campaign", "spring", "--json"])
    # Then the second was erased, the first is a failure with the hub's error, and the exit code is 1
    document = json.loads(capsys.readouterr().out)
    assert code == Exit.INCOMPLETE
    assert (document["total"], document["succeeded"], document["failed"]) == (2, 1, 1)
    assert document["results"] == [deletion("bob@example.com")]
    [failure] = document["failures"]
    assert (failure["email"], failure["httpStatus"], failure["error"]["code"]) == (
        "ada@example.com",
        503,
        "PROVIDER_UNAVAILABLE",
    )
    assert failure["error"]["message"] == message


def test_erase_stops_at_once_for_an_unknown_campaign(fake_hub, capsys):
    # Given a campaign the hub does not know
    for email in ("ada@example.com", "bob@example.com"):
        fake_hub.answer("DELETE", f"/campaigns/nope/participants/{email}", (404, error("CAMPAIGN_NOT_FOUND")))
    # When two people are erased from it
    code = cli.main(["erase", "ada@example.com", "bob@example.com", "--campaign", "nope"])
    # Then one request told it, and the command exits as refused
    assert code == Exit.REFUSED
    assert len(fake_hub.sent) == 1
    assert capsys.readouterr().out == ""


def test_erase_sends_each_email_once(fake_hub, capsys):
    # Given the same person twice, in two spellings
    fake_hub.answer("DELETE", "/campaigns/spring/participants/ada@example.com", (200, deletion("ada@example.com")))
    # When they are erased / Then one request went, and the repeat was noted
    assert cli.main(["erase", "ada@example.com", " ADA@example.com", "--campaign", "spring"]) == Exit.OK
    assert len(fake_hub.sent) == 1
    assert "Leaving out 1 repeated or blank email(s)." in capsys.readouterr().err


def test_erase_needs_someone_to_erase(fake_hub, capsys):
    # Given no email and no file / When erase runs / Then it is a usage error, before any request
    assert cli.main(["erase", "--campaign", "spring"]) == Exit.USAGE
    assert "nobody to erase" in capsys.readouterr().err
    assert fake_hub.sent == []


def erasure_job(failed_rows: list[int], total: int) -> dict:
    failures = [{"row": row, "error": error("PROVIDER_ERROR", "GrowSurf failed")["error"]} for row in failed_rows]
    return {
        "jobId": "j1",
        "campaign": "spring",
        "operation": "deleteParticipant",
        "status": "completedWithErrors" if failures else "completed",
        "total": total,
        "succeeded": total - len(failures),
        "failed": len(failures),
        "createdAt": "2026-01-01T00:00:00+00:00",
        "failures": failures,
        "nextCursor": None,
    }


def test_erase_of_a_file_is_one_deletion_job_with_the_contact(fake_hub, capsys, tmp_path):
    # Given a file of three people (a CSV with an email column)
    source = tmp_path / "leavers.csv"
    source.write_text("Name,Email\nAda,ada@example.com\nBob,bob@example.com\nCy,cy@example.com\n")
    fake_hub.answer("POST", "/imports", (202, {"jobId": "j1", "total": 3}))
    fake_hub.answer("GET", "/imports/j1", (200, erasure_job([3], total=3)))
    # When they are erased
    code = cli.main(["erase", "--file", str(source), "--campaign", "spring", "--quiet"])
    # Then one deleteParticipant import went, each row with contact true
    [started] = fake_hub.to("POST", "/imports")
    assert query(started) == {"campaign": "spring", "operation": "deleteParticipant"}
    assert started.headers["Content-Type"].startswith("text/csv")
    body = started.body.decode() if isinstance(started.body, bytes) else str(started.body)
    assert body == "email,contact\nada@example.com,true\nbob@example.com,true\ncy@example.com,true\n"
    # And the failed row is named by its email, with exit code 1
    out = capsys.readouterr().out
    assert code == Exit.INCOMPLETE
    assert "bob@example.com: failed: PROVIDER_ERROR: GrowSurf failed" in out
    assert "Erased 2 of 3 in spring; 1 failed" in out


def test_erase_of_many_emails_goes_as_one_job(fake_hub, capsys):
    # Given more emails than are sent one by one
    emails = [f"p{n}@example.com" for n in range(ONE_BY_ONE_MAX + 1)]
    fake_hub.answer("POST", "/imports", (202, {"jobId": "j1", "total": len(emails)}))
    fake_hub.answer("GET", "/imports/j1", (200, erasure_job([], total=len(emails))))
    # When they are erased, as JSON
    code = cli.main(["erase", *emails, "--campaign", "spring", "--quiet", "--json"])
    # Then no person had a request of their own: one import did it all
    document = json.loads(capsys.readouterr().out)
    assert code == Exit.OK
    assert fake_hub.to("DELETE", "/campaigns/spring/participants/p0@example.com") == []
    assert (document["jobId"], document["succeeded"], document["failed"]) == ("j1", len(emails), 0)


def test_emails_of_a_plain_list_are_its_lines(tmp_path):
    # Given a list of emails without a header, with a blank line
    source = tmp_path / "list.txt"
    source.write_text("ada@example.com\n\n bob@example.com\n")
    # When its emails are read / Then each line is one
    assert emails_in(source) == ["ada@example.com", "bob@example.com"]


def test_emails_of_a_failed_rows_file_are_its_email_column(tmp_path):
    # Given a failed-rows file of an erasure (email, contact, hub_error)
    source = tmp_path / "failed.csv"
    source.write_text('EMAIL,contact,hub_error\nada@example.com,true,"PROVIDER_ERROR: x, y"\n,true,\n')
    # When its emails are read / Then they are the email column's, blanks left out
    assert emails_in(source) == ["ada@example.com"]


def test_contact_shows_the_loops_contact(fake_hub, capsys):
    # Given a contact with two properties
    contact = {"email": "ada@example.com", "firstName": "Ada", "id": "c1", "properties": {"plan": "pro", "seats": 3}}
    fake_hub.answer("GET", "/contacts/ada@example.com", (200, contact))
    # When it is shown / Then its fields and each property are printed
    assert cli.main(["contact", "ada@example.com"]) == Exit.OK
    assert capsys.readouterr().out.splitlines() == [
        "ada@example.com (Loops contact)",
        "  name          Ada",
        "  user id       -",
        "  contact id    c1",
        "  properties    2",
        "    plan = pro",
        "    seats = 3",
    ]


def test_contact_delete_is_a_delete_with_an_idempotency_key(fake_hub, capsys):
    # Given a contact whose email has a plus (sent encoded, as one path segment)
    fake_hub.answer("DELETE", "/contacts/ada%2Bx@example.com", (200, {"email": "ada+x@example.com", "deleted": True}))
    # When it is deleted
    code = cli.main(["contact", "ada+x@example.com", "--delete"])
    # Then one DELETE carried a key, and the user is told
    [sent] = fake_hub.sent
    assert code == Exit.OK
    assert sent.method == "DELETE" and sent.headers["Idempotency-Key"].startswith("hub-cli-")
    assert capsys.readouterr().out == "Deleted the Loops contact ada+x@example.com.\n"


def test_a_contact_loops_does_not_have_exits_as_refused(fake_hub, capsys):
    # Given no such contact / When it is shown as JSON / Then the hub's 404 is the document, exit code 3
    fake_hub.answer("GET", "/contacts/nobody@example.com", (404, error("CONTACT_NOT_FOUND", "no contact")))
    assert cli.main(["contact", "nobody@example.com", "--json"]) == Exit.REFUSED
    assert json.loads(capsys.readouterr().out)["error"]["code"] == "CONTACT_NOT_FOUND"
