"""The command line's own logic: its arguments, the progress it draws, the failed-rows file, and how
the hub's answers become words and exit codes. (tests/e2e/test_cli.py drives the real command.)"""

from __future__ import annotations

import argparse
import io
import json

import pytest
import requests

from hubcli import main as cli
from hubcli.client import CliError, Exit, answer_of, resolve_target
from hubcli.csvfiles import ERROR_COLUMN, header_of, records, without_error_column, write_failed_rows
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
