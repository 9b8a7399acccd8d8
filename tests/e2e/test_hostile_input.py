"""Input that JSON's parser takes but nothing after it can (NaN, Infinity, deep nesting), and cursors
and numbers that only look like ones: each answered 4xx naming the field, never a 500."""

from __future__ import annotations

import pytest

from local.run import Sandboxes

from .conftest import Hub
from .test_imports import all_failures, wait_for

JSON = {"content-type": "application/json"}


def _post_raw(hub: Hub, path: str, body: str):
    return hub.request("POST", path, data=body.encode("utf-8"), headers=JSON)


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_a_non_finite_number_in_metadata_is_a_422_naming_its_path(hub: Hub, sandboxes: Sandboxes, number):
    # Given a participant whose metadata holds a number JSON cannot carry
    body = f'{{"email": "nan@example.com", "metadata": {{"plan": "pro", "score": {number}}}}}'
    # When it is added
    answer = _post_raw(hub, "/campaigns/demo-growsurf/participants", body)
    # Then the hub answers 422 naming metadata.score, and GrowSurf was never called
    assert answer.status_code == 422, answer.text
    assert [d["field"] for d in answer.json()["error"]["details"]] == ["metadata.score"]
    assert sandboxes.growsurf.requests_to("/participant", "POST") == []


def test_nan_in_contact_properties_is_a_422_naming_its_path(hub: Hub, sandboxes: Sandboxes):
    # Given a contact sync whose properties hold NaN
    body = '{"email": "nan@example.com", "properties": {"ltv": NaN}}'
    # When it is sent
    answer = _post_raw(hub, "/contacts/sync", body)
    # Then 422 names properties.ltv, and Loops was never called
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["details"][0]["field"] == "properties.ltv"
    assert sandboxes.loops.received == []


def test_nan_in_an_import_row_fails_that_row_alone_naming_the_field(hub: Hub, sandboxes: Sandboxes):
    # Given a JSON import whose second row's metadata holds NaN and whose third row nests too deeply
    deep = '{"a": ' * 40 + "1" + "}" * 40
    body = (
        '{"campaign": "demo-growsurf", "operation": "addParticipant", "rows": '
        '[{"email": "nan-a@example.com"}, {"email": "nan-b@example.com", "metadata": {"score": NaN}}, '
        '{"email": "nan-c@example.com", "metadata": ' + deep + "}]}"
    )
    # When it is posted
    answer = _post_raw(hub, "/imports", body)
    # Then the job takes all three rows, as with any invalid row
    assert answer.status_code == 202, answer.text
    assert answer.json()["total"] == 3
    job = wait_for(hub, answer.json()["jobId"])
    # And rows 2 and 3 failed naming their fields within the row; only row 1 reached GrowSurf
    assert (job["succeeded"], job["failed"]) == (1, 2)
    failures = {f["row"]: f["error"] for f in all_failures(hub, job["jobId"])}
    assert failures[2]["code"] == "VALIDATION_ERROR"
    assert [d["field"] for d in failures[2]["details"]] == ["metadata.score"]
    assert failures[3]["details"][0]["field"].startswith("metadata.a.a")
    assert "nested at most 32 levels" in failures[3]["details"][0]["reason"]
    sent = [r.json["email"] for r in sandboxes.growsurf.requests_to("/participant", "POST")]
    assert sent == ["nan-a@example.com"]


def test_nan_outside_the_rows_of_an_import_refuses_the_request(hub: Hub):
    # Given an import whose own field (not a row) holds NaN
    body = (
        '{"campaign": "demo-growsurf", "operation": "addParticipant", "rows": [{"email": "a@example.com"}], "x": NaN}'
    )
    # When it is posted, Then no job starts: 422 names the field
    answer = _post_raw(hub, "/imports", body)
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["details"][0]["field"] == "x"


def test_json_nested_past_the_limit_is_a_422_naming_the_field(hub: Hub):
    # Given metadata nested 40 levels deep
    body = '{"email": "deep@example.com", "metadata": ' + '{"a": ' * 40 + "1" + "}" * 40 + "}"
    # When it is posted
    answer = _post_raw(hub, "/campaigns/demo-growsurf/participants", body)
    # Then 422, the field named by its path
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["details"][0]["field"].startswith("metadata.a.a")


def test_json_nested_too_deeply_to_parse_is_a_400(hub: Hub):
    # Given a body nested a hundred thousand levels deep (a RecursionError in the parser)
    body = '{"metadata": ' + "[" * 100_000 + "]" * 100_000 + "}"
    # When it is posted
    answer = _post_raw(hub, "/campaigns/demo-growsurf/participants", body)
    # Then 400: the body cannot be read
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["details"] == [{"field": "body", "reason": "must be nested at most 32 levels deep"}]


def test_a_number_too_long_to_convert_is_a_400(hub: Hub):
    # Given an integer of 5,000 digits (past Python's conversion limit)
    body = '{"email": "big@example.com", "metadata": {"n": ' + "9" * 5000 + "}}"
    # When it is posted
    answer = _post_raw(hub, "/campaigns/demo-growsurf/participants", body)
    # Then 400 with a fixed reason
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["details"][0]["field"] == "body"


def _import_job(hub: Hub) -> str:
    answer = hub.post("/imports", {"operation": "syncContact", "rows": [{"email": "cursor@example.com"}]})
    assert answer.status_code == 202, answer.text
    return answer.json()["jobId"]


@pytest.mark.parametrize("cursor", ["²", "١٢", "99999999999", "-1", "1e3", " 1"])
def test_a_failures_cursor_that_is_not_a_row_number_is_a_422(hub: Hub, cursor):
    # Given an import job
    job_id = _import_job(hub)
    # When its failures are paged from a cursor that is no row number of nine ASCII digits at most
    answer = hub.get(f"/imports/{job_id}", params={"cursor": cursor})
    # Then 422 names the cursor
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["details"][0]["field"] == "cursor"


@pytest.mark.parametrize(
    "cursor",
    [
        "²",
        "eyJwayI6IiIsInNrIjoiIiwia2luZCI6IiIsImNyZWF0ZWRBdCI6IiJ9",  # every part empty
        "eyJwayI6IkpPQiN4Iiwic2siOiJKT0IiLCJraW5kIjoiT1RIRVIiLCJjcmVhdGVkQXQiOiJ4In0",  # another index's kind
        "W1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tb",
    ],
)
def test_a_listing_cursor_the_hub_did_not_write_is_a_422(hub: Hub, cursor):
    # When jobs are listed from a forged cursor
    answer = hub.get("/imports", params={"cursor": cursor})
    # Then 422 names the cursor (never DynamoDB's ValidationException as a 500)
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["details"][0]["field"] == "cursor"


@pytest.mark.parametrize("limit", ["²", "١٢", "1_0", " 5", "99999999999999999999"])
@pytest.mark.parametrize("path", ["/imports", "/campaigns/demo-growsurf/leaderboard", "/deadletters"])
def test_a_limit_that_is_not_ascii_digits_is_a_422(hub: Hub, path, limit):
    # When a listing is asked for with a limit that only looks like a number
    answer = hub.get(path, params={"limit": limit})
    # Then 422 names the limit
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["details"][0]["field"] == "limit"


@pytest.mark.parametrize("cursor", ["²", "9" * 11, "\u0000", "x" * 2000])
def test_a_leaderboard_cursor_of_any_text_is_never_a_500(hub: Hub, cursor):
    # When the leaderboard is paged from a cursor GrowSurf never gave
    answer = hub.get("/campaigns/demo-growsurf/leaderboard", params={"cursor": cursor})
    # Then the answer is an error of the SPEC's shape, not a 500
    assert answer.status_code < 500 or answer.status_code in (502, 503, 504), answer.text


def test_a_csv_import_with_hostile_values_is_read_as_text(hub: Hub):
    # Given a CSV whose values are NaN, Infinity and a NUL byte
    body = "email,score,note\nnan@example.com,NaN,Infinity\nnul@example.com,1,a\x00b\n"
    # When it is imported
    answer = hub.request(
        "POST",
        "/imports",
        params={"operation": "syncContact"},
        data=body.encode("utf-8"),
        headers={"content-type": "text/csv"},
    )
    # Then the job starts with both rows (the values are text, which JSON carries)
    assert answer.status_code == 202, answer.text
    assert answer.json()["total"] == 2
