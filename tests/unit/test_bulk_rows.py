"""The rows of the lifecycle's bulk operations: what a CSV record or a JSON row becomes, and what is refused."""

from __future__ import annotations

import pytest

from hub.aws.jobs import RowFailure
from hub.domain.requests import DeleteParticipantRow, UpdateParticipantRequest, UpdateParticipantRow
from hub.flows.bulk import OPERATIONS, fold_columns, validate_row


@pytest.mark.parametrize(("cell", "expected"), [("true", True), ("TRUE", True), (" False ", False)])
def test_a_csv_contact_cell_of_true_or_false_is_a_boolean(cell, expected):
    row = fold_columns(OPERATIONS["deleteParticipant"], {"email": "ada@example.com", "contact": cell})
    request = validate_row(OPERATIONS["deleteParticipant"], "c", 2, row)
    assert isinstance(request, DeleteParticipantRow)
    assert request.contact is expected


def test_a_csv_contact_cell_that_is_not_true_or_false_fails_its_row_naming_the_field():
    row = fold_columns(OPERATIONS["deleteParticipant"], {"email": "ada@example.com", "contact": "yes"})
    failure = validate_row(OPERATIONS["deleteParticipant"], "c", 2, row)
    assert isinstance(failure, RowFailure)
    assert [detail["field"] for detail in failure.error["details"]] == ["contact"]


def test_a_json_contact_that_is_a_string_is_refused_as_the_api_refuses_it():
    failure = validate_row(OPERATIONS["deleteParticipant"], "c", 1, {"email": "ada@example.com", "contact": "true"})
    assert isinstance(failure, RowFailure)
    assert [detail["field"] for detail in failure.error["details"]] == ["contact"]


def test_an_update_row_names_the_participant_and_its_new_address():
    row = fold_columns(
        OPERATIONS["updateParticipant"],
        {"email": "ada@example.com", "newEmail": "grace@example.com", "firstName": "Grace", "tier": "gold"},
    )
    request = validate_row(OPERATIONS["updateParticipant"], "c", 2, row)
    assert isinstance(request, UpdateParticipantRow)
    # The extra column is metadata, not dropped; the update is the API's with the new address as its email
    assert request.update() == UpdateParticipantRequest(
        email="grace@example.com", first_name="Grace", metadata={"tier": "gold"}
    )
    assert request.email == "ada@example.com"


def test_an_update_row_that_changes_nothing_fails_naming_what_it_may_change():
    failure = validate_row(OPERATIONS["updateParticipant"], "c", 2, {"email": "ada@example.com"})
    assert isinstance(failure, RowFailure)
    assert "newEmail" in failure.error["details"][0]["reason"]


def test_a_delete_contact_row_is_its_email_alone():
    failure = validate_row(OPERATIONS["deleteContact"], None, 1, {"email": "ada@example.com", "campaign": "x"})
    assert isinstance(failure, RowFailure)
    assert [detail["field"] for detail in failure.error["details"]] == ["campaign"]
