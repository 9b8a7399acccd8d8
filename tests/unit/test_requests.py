"""The add-participant and contact-sync request models: the fields SPEC names, and the rule that a
field a provider has no place for is refused, never dropped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError as PydanticValidationError

from hub.domain.errors import ValidationError
from hub.domain.models import Provider
from hub.domain.requests import AddParticipantRequest, ContactSyncRequest, field_errors
from hub.providers.program import ReferralProgram


def test_a_signup_time_in_the_past_is_taken_with_its_offset() -> None:
    # Given a sign-up written with an offset
    request = AddParticipantRequest.model_validate(
        {"email": "ada@example.com", "signedUpAt": "2021-03-14T10:34:56+02:00"}
    )

    # Then it is the same instant, aware
    assert request.signed_up_at == datetime(2021, 3, 14, 8, 34, 56, tzinfo=UTC)


def test_a_signup_time_without_an_offset_is_read_as_utc() -> None:
    request = AddParticipantRequest.model_validate({"email": "ada@example.com", "signedUpAt": "2021-03-14T10:34:56"})

    assert request.signed_up_at == datetime(2021, 3, 14, 10, 34, 56, tzinfo=UTC)


def test_a_signup_time_in_the_future_is_refused_naming_the_field() -> None:
    # Given a sign-up an hour from now
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()

    # When it is validated
    with pytest.raises(PydanticValidationError) as raised:
        AddParticipantRequest.model_validate({"email": "ada@example.com", "signedUpAt": later})

    # Then the error names signedUpAt and says why
    [detail] = field_errors(raised.value)
    assert detail["field"] == "signedUpAt"
    assert "in the past" in detail["reason"]


def test_given_lists_the_optional_fields_a_request_carries_in_camel_case() -> None:
    request = AddParticipantRequest.model_validate(
        {"email": "ada@example.com", "firstName": "Ada", "utmSource": "newsletter", "metadata": {"plan": "pro"}}
    )

    assert sorted(request.given()) == ["firstName", "metadata", "utmSource"]


def test_an_empty_metadata_object_is_not_a_field_given() -> None:
    request = AddParticipantRequest.model_validate({"email": "ada@example.com", "metadata": {}})

    assert request.given() == []


class _NoPlaces(ReferralProgram):
    provider = Provider.SPARKLOOP
    add_fields = frozenset({"firstName"})


def test_a_field_without_a_place_is_refused_naming_the_field_and_the_provider() -> None:
    # Given a provider with a place for the first name only
    program = _NoPlaces("newsletter", config=None, client=None)  # type: ignore[arg-type]
    request = AddParticipantRequest.model_validate(
        {"email": "ada@example.com", "firstName": "Ada", "metadata": {"plan": "pro"}, "userAgent": "curl/8"}
    )

    # When the program checks it
    with pytest.raises(ValidationError) as raised:
        program.refuse_unplaced(request)

    # Then each field without a place is named, with the provider, and the one with a place is not
    assert raised.value.details == [
        {"field": "metadata", "reason": "SparkLoop has no place for this field"},
        {"field": "userAgent", "reason": "SparkLoop has no place for this field"},
    ]
    assert "SparkLoop" in raised.value.message


def test_mailing_lists_take_list_ids_and_booleans() -> None:
    request = ContactSyncRequest.model_validate({"email": "ada@example.com", "mailingLists": {"cm0abc": True}})

    assert request.mailing_lists == {"cm0abc": True}


def test_a_mailing_list_value_that_is_not_a_boolean_is_refused() -> None:
    with pytest.raises(PydanticValidationError) as raised:
        ContactSyncRequest.model_validate({"email": "ada@example.com", "mailingLists": {"cm0abc": "yes"}})

    [detail] = field_errors(raised.value)
    assert detail["field"] == "mailingLists.cm0abc"
