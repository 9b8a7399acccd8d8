"""Viral Loops' normalizers and error map against the example payloads of its reference document."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from hub.domain.errors import (
    AlreadyConverted,
    Conflict,
    EmailTaken,
    NotFound,
    ParticipantNotFound,
    ProviderAuthFailed,
    ValidationError,
)
from hub.domain.models import Provider, ReferralStatus, RewardStatus
from hub.providers.http import ProviderResponse
from hub.providers.viral_loops.client import (
    map_error,
    normalize_participant,
    normalize_referrals,
    normalize_referrer,
    normalize_rewards,
    parse_time,
)

# The document's examples, copied as they are written.
PARTICIPANT_DATA = {
    "status": "success",
    "data": {
        "email": "alex@example.com",
        "firstName": "Alex",
        "referralCount": 3,
        "rewards": [
            {"milestone": 1, "reward": "Free T-shirt", "isRedeemed": True},
            {"milestone": 2, "reward": "50% Discount", "isRedeemed": False},
        ],
        "customFields": {"city": "Berlin", "subscription": "premium"},
        "referredUsers": [
            {"email": "ref1@example.com", "status": "joined"},
            {"email": "ref2@example.com", "status": "converted"},
        ],
    },
}

REFERRALS = {
    "status": "success",
    "data": [
        {"email": "ref1@example.com", "status": "converted", "createdAt": "2025-06-05T10:30:00Z"},
        {"email": "ref2@example.com", "status": "joined", "createdAt": "2025-06-06T08:45:00Z"},
    ],
}

REFERRER_V2 = {
    "status": "success",
    "data": {"referrer": {"name": "Jane Doe", "referralCode": "abc123xyz", "campaignId": "cl123456789abc"}},
}

REFERRER_V3 = {
    "status": 200,
    "data": {
        "_id": "5ab1e567a3b6e700144d21c5",
        "campaignId": "MyCampaign123",
        "firstName": "Alice",
        "lastName": "Smith",
        "referralCode": "abc123",
        "referralsCount": 5,
        "referredUsers": [],
    },
}

PENDING_REWARDS = {
    "data": [
        {
            "rewardId": "clupcvo8x0002xw0dbqg0xxxx",
            "milestoneId": "milestone_5_referrals",
            "status": "pending",
            "createdAt": "2024-06-18T12:30:00Z",
            "type": "gift_card",
            "referralsRequired": 5,
        }
    ]
}

# GET participant's answer is not documented; this is the sandbox's "full" reading of it, the most any
# answer could carry (the hub takes referrer and rank from their own endpoints, never from these fields).
PARTICIPANT = {
    "status": "success",
    "data": {
        "_id": "5ab1e567a3b6e700144d21c5",
        **PARTICIPANT_DATA["data"],
        "lastName": "Lee",
        "referralCode": "my7uory",
        "shareUrl": "https://sandbox.viral-loops.local/?referralCode=my7uory",
        "rank": 5,
        "createdAt": "2025-06-05T10:30:00.123Z",
        "referrer": {"email": "jane@example.com", "referralCode": "abc123xyz"},
        "flagged": True,
    },
}

RANK = {"status": "success", "data": {"rank": 5}}


def test_participant_data_example_normalizes_to_a_participant():
    # Given the participant/data example
    # When it is normalized
    participant = normalize_participant(PARTICIPANT_DATA, "waitlist")
    # Then the documented fields are mapped and the rest left unset
    assert participant.email == "alex@example.com"
    assert participant.first_name == "Alex"
    assert participant.referral_count == 3
    assert participant.campaign == "waitlist"
    assert participant.provider is Provider.VIRAL_LOOPS
    assert (participant.referrer, participant.rank, participant.flagged) == (None, None, False)


def test_participant_keeps_the_provider_object_untouched():
    # Given the participant/data example / When it is normalized
    participant = normalize_participant(PARTICIPANT_DATA, "waitlist")
    # Then providerData is the provider's data object as it came
    assert participant.provider_data == PARTICIPANT_DATA["data"]


def test_id_is_the_referral_code_not_an_undocumented_id():
    # Given an answer with a referral code (and, in the fullest reading, an _id)
    # When it is normalized / Then the id is the referral code (SPEC: no documented id)
    assert normalize_participant(PARTICIPANT, "w").id == "my7uory"
    assert normalize_participant({"referralCode": "abc"}, "w", email="a@example.com").id == "abc"


def test_id_without_a_referral_code_is_the_email_never_null():
    # Given an answer with no referral code / When it is normalized / Then the id is the email
    assert normalize_participant(PARTICIPANT_DATA, "w").id == "alex@example.com"


def test_an_answer_without_an_email_takes_the_email_asked_for_lower_cased():
    # Given an answer that carries no email / When it is normalized with the email asked for
    participant = normalize_participant({"firstName": "Sam", "referralCode": "s1"}, "w", email=" Sam@Example.com")
    # Then the email is the asked-for one, as Viral Loops was sent it
    assert participant.email == "sam@example.com"


def test_referrer_and_rank_come_only_from_their_endpoints():
    # Given the fullest participant answer, which carries referrer and rank fields of its own
    # When it is normalized without the referrer and rank answers
    alone = normalize_participant(PARTICIPANT, "w")
    # Then neither is taken from the participant answer
    assert (alone.referrer, alone.rank) == (None, None)
    # And with them, they are the endpoints' values
    both = normalize_participant(PARTICIPANT, "w", referrer=REFERRER_V2, rank=RANK)
    assert both.referrer is not None
    assert (both.referrer.referral_code, both.referrer.email, both.rank) == ("abc123xyz", None, 5)


def test_fields_an_answer_happens_to_carry_are_read():
    # Given the fullest reading / When it is normalized / Then names, share URL, time and flag are read
    participant = normalize_participant(PARTICIPANT, "waitlist")
    assert participant.last_name == "Lee"
    assert participant.share_url == "https://sandbox.viral-loops.local/?referralCode=my7uory"
    assert participant.flagged is True
    assert participant.created_at == datetime(2025, 6, 5, 10, 30, 0, 123000, tzinfo=UTC)


def test_participant_without_its_envelope_normalizes_the_same():
    # Given the bare data object / When it is normalized / Then it equals the enveloped one
    assert normalize_participant(PARTICIPANT["data"], "w") == normalize_participant(PARTICIPANT, "w")


def test_a_rank_answer_without_a_rank_is_null():
    # Given a rank answer with no number / When / Then
    assert normalize_participant(PARTICIPANT, "w", rank={"status": "success", "data": {}}).rank is None


def test_participant_created_at_in_epoch_milliseconds_is_timezone_aware():
    # Given a createdAt in epoch milliseconds
    payload = {"email": "a@example.com", "createdAt": 1717936200000}
    # When it is normalized / Then it is the UTC instant
    assert normalize_participant(payload, "w").created_at == datetime(2024, 6, 9, 12, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-06-18T12:30:00Z", datetime(2024, 6, 18, 12, 30, tzinfo=UTC)),
        ("2024-06-18T12:30:00", datetime(2024, 6, 18, 12, 30, tzinfo=UTC)),
        ("1718713800000", datetime(2024, 6, 18, 12, 30, tzinfo=UTC)),
        (1718713800, datetime(2024, 6, 18, 12, 30, tzinfo=UTC)),
        ("not a date", None),
        (None, None),
    ],
)
def test_parse_time_reads_iso_and_epoch_values(value, expected):
    # Given a timestamp in one of the shapes providers use / When / Then
    assert parse_time(value) == expected


def test_v3_referrer_example_normalizes_to_a_referrer_ref():
    # Given the v3 referrer example / When / Then its referral code is the referrer's
    referrer = normalize_referrer(REFERRER_V3)
    assert referrer is not None
    assert referrer.referral_code == "abc123"


def test_v2_referrer_example_normalizes_to_a_referrer_ref():
    # Given the v2 referrer example / When / Then
    referrer = normalize_referrer(REFERRER_V2)
    assert referrer is not None
    assert referrer.referral_code == "abc123xyz"


def test_an_empty_referrer_answer_means_nobody():
    # Given the v3 answer for an organic sign-up / When / Then
    assert normalize_referrer({"status": 200, "data": {}}) is None


def test_referrals_example_maps_statuses_and_times():
    # Given the referrals example
    # When it is normalized
    referrals = normalize_referrals(REFERRALS)
    # Then converted stays converted, joined is pending, createdAt is parsed
    assert [(r.email, r.status) for r in referrals] == [
        ("ref1@example.com", ReferralStatus.CONVERTED),
        ("ref2@example.com", ReferralStatus.PENDING),
    ]
    assert referrals[0].created_at == datetime(2025, 6, 5, 10, 30, tzinfo=UTC)
    assert referrals[0].provider_data == REFERRALS["data"][0]


def test_referred_users_of_participant_data_normalize_as_referrals():
    # Given participant/data's referredUsers / When / Then
    referrals = normalize_referrals(PARTICIPANT_DATA)
    assert [r.status for r in referrals] == [ReferralStatus.PENDING, ReferralStatus.CONVERTED]


def test_a_pending_referral_status_is_pending():
    # Given the "pending" status the document mentions / When / Then
    assert normalize_referrals([{"email": "x@example.com", "status": "pending"}])[0].status is ReferralStatus.PENDING


def test_pending_rewards_example_normalizes_to_pending_rewards():
    # Given the pending rewards example
    # When it is normalized
    [reward] = normalize_rewards(PENDING_REWARDS)
    # Then the ids, status, description and time are mapped
    assert reward.id == "clupcvo8x0002xw0dbqg0xxxx"
    assert reward.reward_id == "clupcvo8x0002xw0dbqg0xxxx"
    assert reward.milestone_id == "milestone_5_referrals"
    assert reward.status is RewardStatus.PENDING
    assert reward.description == "gift_card"
    assert reward.created_at == datetime(2024, 6, 18, 12, 30, tzinfo=UTC)


def test_participant_data_rewards_normalize_by_is_redeemed():
    # Given participant/data's rewards
    # When they are normalized
    rewards = normalize_rewards(PARTICIPANT_DATA)
    # Then isRedeemed gives redeemed, else pending, keyed by milestone
    assert [(r.id, r.milestone_id, r.status, r.description) for r in rewards] == [
        ("1", "1", RewardStatus.REDEEMED, "Free T-shirt"),
        ("2", "2", RewardStatus.PENDING, "50% Discount"),
    ]


def test_no_pending_rewards_is_an_empty_list():
    # Given the empty array the document promises / When / Then
    assert normalize_rewards({"data": []}) == []


@pytest.mark.parametrize(
    ("status", "message", "expected"),
    [
        (400, "Missing required parameters", ValidationError),
        (403, "Forbidden", ProviderAuthFailed),
        (404, "Participant not found", ParticipantNotFound),
        (404, "Referrer not found", NotFound),
        (404, "No order found", NotFound),
        (409, "This email is already in the system (duplicate submission)", EmailTaken),
        (409, "The newEmail is already used by another participant", EmailTaken),
        (409, "Email conflict", EmailTaken),
        (409, "Already converted", AlreadyConverted),
    ],
)
def test_documented_errors_map_to_domain_errors(status, message, expected):
    # Given a Viral Loops error answer in the document's words
    response = ProviderResponse(status, {"status": "error", "message": message}, {})
    # When it is mapped / Then it is the domain error of the document's table
    assert type(map_error(response)) is expected


@pytest.mark.parametrize(
    ("status", "expected"),
    [(400, ValidationError), (403, ProviderAuthFailed), (404, NotFound), (409, Conflict)],
)
def test_an_error_body_the_document_never_shows_maps_by_status_alone(status, expected):
    # Given an error whose body says nothing (the document shows no error body)
    response = ProviderResponse(status, {"success": False, "code": status}, {})
    # When it is mapped / Then the status decides; the endpoint refines 404 and 409 (integration tests)
    assert type(map_error(response)) is expected


@pytest.mark.parametrize("message", ["Campaign not found", "Reward not found", "Reward already redeemed"])
def test_texts_the_document_does_not_write_are_not_read(message):
    # Given a message the document never writes / When it is mapped / Then it is the status's plain error
    status = 409 if "redeemed" in message else 404
    assert type(map_error(ProviderResponse(status, {"message": message}, {}))) in (NotFound, Conflict)
