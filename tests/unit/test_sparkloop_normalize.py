"""SparkLoop's normalizers and error map against the example payloads of its reference document."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from hub.domain.errors import (
    CampaignNotFound,
    EmailTaken,
    ParticipantNotFound,
    ProviderAuthFailed,
    ProviderError,
    ValidationError,
)
from hub.domain.models import Provider, ReferralStatus, ReferrerRef
from hub.providers.http import ProviderResponse
from hub.providers.sparkloop.client import (
    map_error,
    next_page,
    normalize_participant,
    normalize_referral,
    normalize_referrals,
    normalize_referrals_page,
    normalize_subscribers_page,
    parse_time,
    split_name,
    subscriber_uuid,
)

# The document's examples, copied as they are written.
CREATED = {
    "subscriber": {
        "uuid": "sub_37775e51c5",
        "email": "[email protected]",
        "name": "Drago Vrago",
        "ref_code": "drago785f",
        "referrer_code": "joanne123c",
        "referrals_count": 0,
        "ip_address": "213.19.137.18",
        "user_agent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/88.0.4324.182 Safari/537.36",
        "origin": "api",
        "utm_source": None,
        "utm_campaign": None,
        "created_at": "2021-03-14T10:34:56.000Z",
    }
}

SUBSCRIBERS_PAGE = {
    "subscribers": [
        {
            "uuid": "sub_4bc1056297",
            "email": "[email protected]",
            "name": None,
            "ref_code": "c784ef4f",
            "referrer_code": None,
            "referrals_count": 0,
            "ip_address": None,
            "user_agent": None,
            "origin": "signup",
            "utm_source": None,
            "utm_campaign": None,
            "created_at": "2021-03-24T11:55:02.113Z",
        },
        {
            "uuid": "sub_869976268c",
            "email": "[email protected]",
            "name": None,
            "ref_code": "d163ac6e",
            "referrer_code": None,
            "referrals_count": 0,
            "ip_address": None,
            "user_agent": None,
            "origin": "signup",
            "utm_source": None,
            "utm_campaign": None,
            "created_at": "2021-03-24T11:55:02.096Z",
        },
        {
            "uuid": "sub_d4795d06e6",
            "email": "[email protected]",
            "name": None,
            "ref_code": "57b1fae2",
            "referrer_code": None,
            "referrals_count": 0,
            "ip_address": None,
            "user_agent": None,
            "origin": "api",
            "utm_source": None,
            "utm_campaign": None,
            "created_at": "2021-03-24T11:55:02.066Z",
        },
    ],
    "meta": {"per_page": 3, "page": 2, "total_pages": 12, "total_subscribers": 36},
}

BY_UUID = {
    "subscriber": {
        "uuid": "sub_4bc1056297",
        "email": "[email protected]",
        "name": None,
        "ref_code": "c784ef4f",
        "referrer_code": None,
        "referrals_count": 0,
        "ip_address": None,
        "user_agent": None,
        "origin": "signup",
        "utm_source": None,
        "utm_campaign": None,
        "created_at": "2021-03-24T11:55:02.113Z",
    }
}

UPDATED = {
    "subscriber": {
        "uuid": "sub_4da34775cc",
        "email": "[email protected]",
        "name": "Drago Vrago",
        "ref_code": "drago359e",
        "referrer_code": None,
        "referrals_count": 0,
        "ip_address": "12345676543234565432",
        "user_agent": None,
        "origin": "api",
        "utm_source": None,
        "utm_campaign": None,
        "created_at": "1993-08-30T10:34:56.000Z",
    }
}


def response(status: int, message: str) -> ProviderResponse:
    return ProviderResponse(status, {"error": message}, {})


# -- participants ---------------------------------------------------------------------------------


def test_normalize_participant_of_the_create_example():
    # Given the create answer
    # When it is normalized
    participant = normalize_participant(CREATED, "newsletter")
    # Then the SparkLoop fields land on the hub's
    assert participant.id == "sub_37775e51c5"
    assert participant.email == "[email protected]"
    assert (participant.first_name, participant.last_name) == ("Drago", "Vrago")
    assert participant.referral_code == "drago785f"
    assert participant.referral_count == 0
    assert participant.referrer == ReferrerRef(referral_code="joanne123c")
    assert participant.created_at == datetime(2021, 3, 14, 10, 34, 56, tzinfo=UTC)
    assert participant.campaign == "newsletter"
    assert participant.provider == Provider.SPARKLOOP


def test_normalize_participant_has_no_share_url_rank_or_flag():
    # Given the create answer (SparkLoop gives none of them)
    # When it is normalized
    participant = normalize_participant(CREATED, "newsletter")
    # Then they are empty
    assert participant.share_url is None
    assert participant.rank is None
    assert participant.flagged is False


def test_normalize_participant_keeps_the_subscriber_untouched_as_provider_data():
    # Given the create answer / When it is normalized
    participant = normalize_participant(CREATED, "newsletter")
    # Then providerData is SparkLoop's object as is
    assert participant.provider_data == CREATED["subscriber"]


def test_normalize_participant_of_the_get_by_uuid_example_without_name_or_referrer():
    # Given the get by UUID answer: no name, nobody referred them
    # When it is normalized
    participant = normalize_participant(BY_UUID, "newsletter")
    # Then names and referrer are empty, the milliseconds kept
    assert (participant.first_name, participant.last_name) == (None, None)
    assert participant.referrer is None
    assert participant.created_at == datetime(2021, 3, 24, 11, 55, 2, 113000, tzinfo=UTC)


def test_normalize_participant_of_the_update_example_and_a_bare_subscriber():
    # Given the update answer, wrapped and unwrapped
    # When both are normalized
    wrapped = normalize_participant(UPDATED, "newsletter")
    bare = normalize_participant(UPDATED["subscriber"], "newsletter")
    # Then they are the same participant
    assert wrapped == bare
    assert wrapped.created_at == datetime(1993, 8, 30, 10, 34, 56, tzinfo=UTC)


def test_normalize_participant_wire_shape_is_camel_case():
    # Given the create answer / When it is put on the wire
    wire = normalize_participant(CREATED, "newsletter").to_wire()
    # Then the SPEC's fields are there
    assert wire["referralCode"] == "drago785f"
    assert wire["referralCount"] == 0
    assert wire["referrer"] == {"email": None, "referralCode": "joanne123c"}
    assert wire["createdAt"] == "2021-03-14T10:34:56Z"
    assert wire["provider"] == "sparkloop"


def test_normalize_participant_refuses_a_non_object():
    # Given something that is not a subscriber / When / Then
    with pytest.raises(ProviderError, match="JSON object"):
        normalize_participant([], "newsletter")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Drago Vrago", ("Drago", "Vrago")),
        ("Mary Ann van Dyke", ("Mary", "Ann van Dyke")),
        ("Cher", ("Cher", None)),
        ("  Cher  ", ("Cher", None)),
        ("", (None, None)),
        (None, (None, None)),
    ],
)
def test_split_name_splits_on_the_first_space(name, expected):
    # Given SparkLoop's single name / When it is split / Then first and last are on either side of the first space
    assert split_name(name) == expected


# -- pages ----------------------------------------------------------------------------------------


def test_normalize_subscribers_page_of_the_example_points_to_the_next_page():
    # Given page 2 of 12
    # When it is normalized
    page = normalize_subscribers_page(SUBSCRIBERS_PAGE, "newsletter")
    # Then it holds the three subscribers in order, and the cursor is page 3
    assert [p.id for p in page.items] == ["sub_4bc1056297", "sub_869976268c", "sub_d4795d06e6"]
    assert page.next_cursor == "3"
    assert all(p.campaign == "newsletter" for p in page.items)


def test_normalize_subscribers_page_on_the_last_page_has_no_cursor():
    # Given the example as the last page
    last = {**SUBSCRIBERS_PAGE, "meta": {**SUBSCRIBERS_PAGE["meta"], "page": 12}}
    # When it is normalized / Then there is no next page
    assert normalize_subscribers_page(last, "newsletter").next_cursor is None


def test_normalize_subscribers_page_of_an_empty_campaign():
    # Given no subscribers and zero pages
    empty = {"subscribers": [], "meta": {"per_page": 50, "page": 1, "total_pages": 0, "total_subscribers": 0}}
    # When it is normalized / Then it is one empty, final page
    page = normalize_subscribers_page(empty, "newsletter")
    assert page.items == []
    assert page.next_cursor is None


def test_normalize_subscribers_page_takes_the_page_asked_for_over_the_meta():
    # Given the example (page 2 of 12 in its meta), read as page 11
    # When it is normalized with the page asked for / Then the cursor follows that page
    assert normalize_subscribers_page(SUBSCRIBERS_PAGE, "newsletter", 11).next_cursor == "12"


def test_a_short_page_is_the_last_whatever_total_pages_says():
    # Given page 2 holding two subscribers of three per page, its meta counting 12 pages (a typed list
    # whose meta counts every subscriber)
    short = {**SUBSCRIBERS_PAGE, "subscribers": SUBSCRIBERS_PAGE["subscribers"][:2]}
    # When the next page is worked out / Then there is none
    assert next_page(short, 2) is None


def test_an_empty_page_is_the_last_whatever_total_pages_says():
    # Given an empty page 5 whose meta says 12 pages
    empty = {**SUBSCRIBERS_PAGE, "subscribers": [], "meta": {**SUBSCRIBERS_PAGE["meta"], "page": 5}}
    # When / Then
    assert next_page(empty, 5) is None


def test_a_page_without_meta_is_the_last():
    # Given a full page with no meta at all / When / Then no next page is made up
    assert next_page({"subscribers": SUBSCRIBERS_PAGE["subscribers"]}, 1) is None


def test_a_page_without_its_list_is_a_provider_error():
    # Given an answer with meta but no subscribers list / When it is normalized / Then SparkLoop is at fault
    with pytest.raises(ProviderError, match="without its list"):
        normalize_subscribers_page({"meta": SUBSCRIBERS_PAGE["meta"]}, "newsletter")


def test_a_subscriber_without_an_email_is_a_provider_error():
    # Given a subscriber with no email / When it is normalized / Then it is SparkLoop's answer at fault
    with pytest.raises(ProviderError, match="without an email"):
        normalize_participant({"uuid": "sub_1"}, "newsletter")


def test_normalize_referrals_page_keeps_the_referred_and_the_page_cursor():
    # Given the example page with its first subscriber referred
    subscribers = [dict(s) for s in SUBSCRIBERS_PAGE["subscribers"]]
    subscribers[0]["referrer_code"] = "joanne123c"
    # When it is normalized as page 2 of the campaign's referrals
    page = normalize_referrals_page({**SUBSCRIBERS_PAGE, "subscribers": subscribers}, 2)
    # Then the referred one is there, converted, and the cursor is page 3
    assert [(r.id, r.status) for r in page.items] == [("sub_4bc1056297", ReferralStatus.CONVERTED)]
    assert page.next_cursor == "3"


def test_subscriber_uuid_of_the_get_by_email_example():
    # Given the get-by-email example / When its uuid is taken for its own email, in another case
    # Then it is the subscriber's
    assert subscriber_uuid(BY_UUID, BY_UUID["subscriber"]["email"].upper()) == "sub_4bc1056297"


@pytest.mark.parametrize(
    "answer",
    [
        {"subscriber": {"uuid": "sub_1", "email": "someone.else@example.com"}},
        {"subscriber": {"email": "ada@example.com"}},
        SUBSCRIBERS_PAGE,
        [],
    ],
    ids=["another-person", "no-uuid", "a-page", "not-an-object"],
)
def test_subscriber_uuid_refuses_an_answer_that_is_not_the_one_asked_for(answer):
    # Given an answer that is not one subscriber with a uuid and the email asked for
    # When / Then nothing is handed on to delete
    with pytest.raises(ProviderError):
        subscriber_uuid(answer, "ada@example.com")


# -- referrals ------------------------------------------------------------------------------------


def test_normalize_referral_of_the_referred_create_example_is_converted():
    # Given the create example, referred by joanne123c
    # When it is normalized as a referral
    referral = normalize_referral(CREATED)
    # Then SparkLoop counted it on subscription: converted
    assert referral.status == ReferralStatus.CONVERTED
    assert referral.id == "sub_37775e51c5"
    assert referral.email == "[email protected]"
    assert (referral.first_name, referral.last_name) == ("Drago", "Vrago")
    assert referral.created_at == datetime(2021, 3, 14, 10, 34, 56, tzinfo=UTC)
    assert referral.provider_data == CREATED["subscriber"]


def test_normalize_referrals_keeps_the_referred_of_one_referrer():
    # Given a referrals page: the example's subscribers, two of them referred by different codes
    subscribers = [dict(s) for s in SUBSCRIBERS_PAGE["subscribers"]]
    subscribers[0]["referrer_code"] = "joanne123c"
    subscribers[2]["referrer_code"] = "other999"
    # When Joanne's referrals are picked
    referrals = normalize_referrals({"subscribers": subscribers}, referrer_code="joanne123c")
    # Then only the one she referred is there
    assert [r.id for r in referrals] == ["sub_4bc1056297"]


def test_normalize_referrals_without_a_code_keeps_every_referred_subscriber():
    # Given a list with one referred and one not
    items = [CREATED["subscriber"], BY_UUID["subscriber"]]
    # When normalized without a referrer code / Then the unreferred one is left out
    assert [r.id for r in normalize_referrals(items)] == ["sub_37775e51c5"]


# -- time -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2021-03-22T19:20:30+01:00", datetime(2021, 3, 22, 18, 20, 30, tzinfo=UTC)),
        ("2021-03-24T11:55:02.113Z", datetime(2021, 3, 24, 11, 55, 2, 113000, tzinfo=UTC)),
        ("2021-03-24T11:55:02", datetime(2021, 3, 24, 11, 55, 2, tzinfo=UTC)),
        (1616586902113, datetime(2021, 3, 24, 11, 55, 2, 113000, tzinfo=UTC)),
        (1616586902, datetime(2021, 3, 24, 11, 55, 2, tzinfo=UTC)),
        ("not a time", None),
        (None, None),
    ],
)
def test_parse_time_gives_aware_datetimes(value, expected):
    # Given a documented or epoch timestamp / When parsed / Then it is timezone-aware (or None)
    parsed = parse_time(value)
    assert parsed == expected
    assert parsed is None or parsed.tzinfo is not None


# -- errors ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "message", "error"),
    [
        (400, "Email has already been taken", EmailTaken),
        (400, "Email is invalid", ValidationError),
        (400, "You have to provide at least an email", ValidationError),
        (400, "Invalid status!", ValidationError),
        (400, "You have to update at least 1 field.", ValidationError),
        (400, "Failed to delete subscriber sub_34c8e39ca4", ProviderError),
        (404, "Campaign MF9a7d8983d1c not found!", CampaignNotFound),
        (404, "Subscriber sub_4bc10562d97 not found!", ParticipantNotFound),
        (404, "Subscriber with email [email protected] not found!", ParticipantNotFound),
        (401, "Invalid API key", ProviderAuthFailed),
    ],
)
def test_map_error_maps_each_documented_error(status, message, error):
    # Given a documented SparkLoop error / When mapped / Then it is the matching domain error
    mapped = map_error(response(status, message))
    assert type(mapped) is error


def test_map_error_names_the_field_of_an_email_error():
    # Given the invalid email 400 / When mapped / Then its details name the field
    assert map_error(response(400, "Email is invalid")).details == [{"field": "email", "reason": "Email is invalid"}]


def test_map_error_names_the_field_of_an_empty_update():
    # Given the empty PUT 400 / When mapped / Then its details name the status field
    details = map_error(response(400, "You have to update at least 1 field.")).details
    assert details == [{"field": "status", "reason": "You have to update at least 1 field."}]


@pytest.mark.parametrize("message", ["Not found", "", "Record missing", "campaign gone"])
def test_an_undocumented_404_is_participant_not_found(message):
    # Given a 404 whose body is not the documented campaign one (every other path is a subscriber's)
    # When mapped
    mapped = map_error(response(404, message))
    # Then it is the participant that is not there
    assert type(mapped) is ParticipantNotFound


@pytest.mark.parametrize("message", ["Email already taken by someone", "Something about email", "Bad request"])
def test_an_undocumented_400_is_a_validation_error_that_names_no_field(message):
    # Given a 400 whose message is none of the documented ones
    # When mapped
    mapped = map_error(response(400, message))
    # Then it is a validation error with SparkLoop's message and no guessed field
    assert type(mapped) is ValidationError
    assert mapped.details == [{"reason": message}]


def test_map_error_falls_back_to_the_default_for_5xx():
    # Given a server error / When mapped / Then it is the provider's failure
    assert type(map_error(response(502, "Bad gateway"))) is ProviderError
