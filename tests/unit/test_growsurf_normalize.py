"""GrowSurf's normalizers and error map against the example payloads of its reference document."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from hub.domain.errors import (
    Conflict,
    NotFound,
    ProviderAuthFailed,
    ProviderError,
    ValidationError,
)
from hub.domain.models import Provider, ReferralStatus, ReferrerRef, RewardStatus
from hub.providers.growsurf.client import (
    REFERRAL_STATUS_FILTER,
    answer_object,
    map_error,
    normalize_campaign,
    normalize_catalog_reward,
    normalize_leaderboard,
    normalize_participant,
    normalize_participant_answer,
    normalize_participants_page,
    normalize_referral,
    normalize_referrals,
    normalize_referrals_page,
    normalize_reward,
    normalize_rewards,
    normalize_rewards_page,
    parse_time,
    referral_status,
)
from hub.providers.http import ProviderResponse

CAMPAIGN = "spring-launch"

# The document's examples, copied as they are written (trailing spaces and tabs aside).

# Get Participant by Email
PARTICIPANT_BY_EMAIL = json.loads(
    """
{
    "id": "f8g9nl",
    "firstName": "Gavin",
    "lastName": "Belson",
    "referralCount": 2,
    "monthlyReferralCount": 2,
    "prevMonthlyReferralCount": 0,
    "rank": 10001,
    "monthlyRank": 50,
    "prevMonthlyRank": -1,
    "shareUrl": "https://piedpiper.com?grsf=gavin-f8g9nl",
    "email": "gavin@hoolie.com",
    "createdAt": 1552404738928,
    "fraudRiskLevel": "LOW",
    "fraudReasonCode": "UNIQUE_IDENTIY",
    "isWinner": true,
    "shareCount": {
        "email": 10,
        "facebook": 1,
        "pinterest": 1,
        "twitter": 11
    },
    "impressionCount": 2,
    "uniqueImpressionCount": 2,
    "inviteCount": 3,
    "referrals": [
        "i9g2bh",
        "xua4sq"
    ],
    "monthlyReferrals": [
        "i9g2bh",
        "xua4sq"
    ],
    "referralSource": "PARTICIPANT",
    "referralStatus": "CREDIT_AWARDED",
    "referrer": {
        "id": "h8kp6l",
        "firstName": "Richard",
        "lastName": "Hendricks",
        "referralCount": 5,
        "monthlyReferralCount": 2,
        "prevMonthlyReferralCount": 100,
        "rank": 100,
        "monthlyRank": 110,
        "prevMonthlyRank": 10,
        "shareUrl": "https://piedpiper.com?grsf=h8kp6l",
        "email": "richard@piedpiper.com",
        "createdAt": 1552402661449,
        "referralSource": "DIRECT",
        "fraudRiskLevel": "LOW",
        "fraudReasonCode": "UNIQUE_IDENTIY",
        "isWinner": true,
        "shareCount": {
            "email": 20,
            "facebook": 11,
            "linkedin": 0,
            "pinterest": 3,
            "twitter": 12
        },
        "impressionCount": 14,
        "uniqueImpressionCount": 11,
        "inviteCount": 12,
        "referrals": [
            "0dveu7",
            "f8g9nl",
            "j0hbym",
            "m5xm9l",
            "w01fil"
        ],
        "monthlyReferrals": [
            "m5xm9l",
            "w01fil"
        ]
    },
    "metadata": {
       "company": "Hooli, Inc",
       "companySize": 10000
    },
    "rewards": [
        {
            "id": "dgaiuk",
            "rewardId": "oe1cjt",
            "status": "FULFILLED",
            "unread": true,
            "isReferrer": true,
            "isAvailable": true,
            "approved": true,
            "isFulfilled": true,
            "referredId": "xh345d",
            "referrerId": "f8g9nl"
        }
    ],
    "vanityKeys": [
        "gavin-f8g9nl"
    ]
}
"""
)


# Add Participant (the document leaves out the closing brace; it is added)
ADDED_PARTICIPANT = json.loads(
    """
{
    "id": "3vxff9",
    "firstName": "Gavin",
    "lastName": "Belson",
    "referralCount": 0,
    "monthlyReferralCount": 0,
    "prevMonthlyReferralCount": 0,
    "rank": 10001,
    "monthlyRank": 10001,
    "shareUrl": "https://hoolie.com?grsf=3vxff9",
    "rewards": [],
    "email": "gavin@hooli.com",
    "createdAt": 1558665537426,
    "referralSource": "DIRECT",
    "isWinner": false,
    "shareCount": {
        "email": 0,
        "facebook": 0,
        "linkedin": 0,
        "pinterest": 0,
        "twitter": 0
    },
    "impressionCount": 0,
    "uniqueImpressionCount": 0,
    "inviteCount": 0,
    "referrals": [],
    "monthlyReferrals": [],
    "referrer": null,
    "metadata": {
       "company": "Hooli, Inc",
       "companySize": 10000
    },
    "vanityKeys": [
        "gavin-f8g9nl"
    ]
}
"""
)


# Get Participants
PARTICIPANTS = json.loads(
    """
{
    "participants": [
         {
            "id": "3vxff9",
            "firstName": "Gavin",
            "lastName": "Belson",
            "referralCount": 0,
            "monthlyReferralCount": 0,
            "prevMonthlyReferralCount": 0,
            "rank": 10001,
            "monthlyRank": 50,
            "prevMonthlyRank": -1,
            "shareUrl": "https://hoolie.com?grsf=gavin-3vxff9",
            "rewards": [],
            "email": "gavin@hooli.com",
            "createdAt": 1558665537426,
            "referralSource": "DIRECT",
            "isWinner": false,
            "shareCount": {
                "email": 0,
                "facebook": 0,
                "linkedin": 0,
                "pinterest": 0,
                "twitter": 0
            },
            "impressionCount": 0,
            "uniqueImpressionCount": 0,
            "inviteCount": 3,
            "referrals": [],
            "referrer": null,
            "metadata": {},
            "rewards": [],
            "vanityKeys": [
                "gavin-3vxff9"
            ]
        },
        {
            "id": "f8g9nl",
            "firstName": "Gavin",
            "lastName": "Belson",
            "referralCount": 2,
            "monthlyReferralCount": 2,
            "prevMonthlyReferralCount": 721,
            "rank": 10002,
            "monthlyRank": 110,
            "prevMonthlyRank": 1,
            "shareUrl": "https://piedpiper.com?grsf=gavin-f8g9nl",
            "email": "gavin@hoolie.com",
            "createdAt": 1552404738928,
            "fraudRiskLevel": "LOW",
            "fraudReasonCode": "UNIQUE_IDENTIY",
            "isWinner": true,
            "shareCount": {
                "email": 10,
                "facebook": 1,
                "pinterest": 1,
                "twitter": 11
            },
            "impressionCount": 2,
            "uniqueImpressionCount": 2,
            "inviteCount": 3,
            "referrals": [
                "i9g2bh",
                "xua4sq"
            ],
            "referralSource": "PARTICIPANT",
            "referralStatus": "CREDIT_AWARDED",
            "referrer": {
                "id": "h8kp6l",
                "firstName": "Richard",
                "lastName": "Hendricks",
                "referralCount": 5,
                "monthlyReferralCount": 5,
                "prevMonthlyReferralCount": 100,
                "rank": 100,
                "monthlyRank": 100,
                "prevMonthlyRank": 13,
                "shareUrl": "https://piedpiper.com?grsf=h8kp6l",
                "email": "richard@piedpiper.com",
                "createdAt": 1552402661449,
                "referralSource": "DIRECT",
                "fraudRiskLevel": "LOW",
                "fraudReasonCode": "UNIQUE_IDENTIY",
                "isWinner": true,
                "shareCount": {
                    "email": 20,
                    "facebook": 11,
                    "linkedin": 0,
                    "pinterest": 3,
                    "twitter": 12
                },
                "impressionCount": 14,
                "uniqueImpressionCount": 12,
                "inviteCount": 12,
                "referrals": [
                    "0dveu7",
                    "f8g9nl",
                    "j0hbym",
                    "m5xm9l",
                    "w01fil"
                ]
            },
            "metadata": {},
            "rewards": [],
            "vanityKeys": [
                "gavin-f8g9nl"
            ]
        }
    ],
    "limit": 2,
    "nextId": "1u7v0q"
}
"""
)


# Get Leaderboard
LEADERBOARD = json.loads(
    """
{
    "participants": [
         {
            "id": "3vxff9",
            "firstName": "Gavin",
            "lastName": "Belson",
            "referralCount": 1000,
            "monthlyReferralCount": 10,
            "prevMonthlyReferralCount": 990,
            "rank": 1,
            "monthlyRank": 10,
            "prevMonthlyRank": 10,
            "shareUrl": "https://hoolie.com?grsf=gavin-3vxff9",
            "rewards": [],
            "email": "gavin@hooli.com",
            "createdAt": 1558665537426,
            "referralSource": "DIRECT",
            "isWinner": false,
            "shareCount": {
                "email": 0,
                "facebook": 0,
                "linkedin": 0,
                "pinterest": 0,
                "twitter": 0
            },
            "impressionCount": 0,
            "uniqueImpressionCount": 0,
            "inviteCount": 0,
            "referrals": [],
            "referrer": null,
            "metadata": {},
            "rewards": [],
            "vanityKeys": [
                "gavin-3vxff9"
            ]
        },
        {
            "id": "f8g9nl",
            "firstName": "Gavin",
            "lastName": "Belson",
            "referralCount": 900,
            "monthlyReferralCount": 9,
            "prevMonthlyReferralCount": 800,
            "rank": 2,
            "monthlyRank": 11,
            "prevMonthlyRank": 20,
            "shareUrl": "https://piedpiper.com?grsf=gavin-f8g9nl",
            "email": "gavin@hoolie.com",
            "createdAt": 1552404738928,
            "fraudRiskLevel": "LOW",
            "fraudReasonCode": "UNIQUE_IDENTIY",
            "isWinner": true,
            "shareCount": {
                "email": 10,
                "facebook": 1,
                "pinterest": 1,
                "twitter": 11
            },
            "impressionCount": 2,
            "uniqueImpressionCount": 2,
            "inviteCount": 2,
            "referrals": [
                "i9g2bh",
                "xua4sq"
            ],
            "referralSource": "PARTICIPANT",
            "referralStatus": "CREDIT_AWARDED",
            "referrer": {
                "id": "h8kp6l",
                "firstName": "Richard",
                "lastName": "Hendricks",
                "referralCount": 5,
                "monthlyReferralCount": 0,
                "prevMonthlyReferralCount": 0,
                "rank": 100,
                "monthlyRank": 100,
                "prevMonthlyRank": 99,
                "shareUrl": "https://piedpiper.com?grsf=h8kp6l",
                "email": "richard@piedpiper.com",
                "createdAt": 1552402661449,
                "referralSource": "DIRECT",
                "fraudRiskLevel": "LOW",
                "fraudReasonCode": "UNIQUE_IDENTIY",
                "isWinner": true,
                "shareCount": {
                    "email": 20,
                    "facebook": 11,
                    "linkedin": 0,
                    "pinterest": 3,
                    "twitter": 12
                },
                "impressionCount": 14,
                "uniqueImpressionCount": 14,
                "inviteCount": 14,
                "metadata": {},
                "referrals": [
                    "0dveu7",
                    "f8g9nl",
                    "j0hbym",
                    "m5xm9l",
                    "w01fil"
                ]
            },
            "rewards": [],
            "vanityKeys": [
                "gavin-f8g9nl"
            ]
        }
    ],
    "limit": 2,
    "nextId": "1u7v0q"
}
"""
)


# Update Participant by ID
UPDATED_PARTICIPANT = json.loads(
    """
{
    "id": "f8g9nl",
    "firstName": "Gavin",
    "lastName": "Belson",
    "referralCount": 2,
    "monthlyReferralCount": 2,
    "prevMonthlyReferralCount": 0,
    "rank": 10001,
    "monthlyRank": 10001,
    "shareUrl": "https://piedpiper.com?grsf=f8g9nl",
    "email": "gavin@hoolie.com",
    "createdAt": 1552404738928,
    "fraudRiskLevel": "LOW",
    "fraudReasonCode": "UNIQUE_IDENTIY",
    "isWinner": true,
    "shareCount": {
        "email": 10,
        "facebook": 1,
        "pinterest": 1,
        "twitter": 11
    },
    "impressionCount": 2,
    "uniqueImpressionCount": 2,
    "inviteCount": 2,
    "referrals": [
        "i9g2bh",
        "xua4sq"
    ],
    "monthlyReferrals": [
        "i9g2bh",
        "xua4sq"
    ],
    "referralSource": "PARTICIPANT",
    "referralStatus": "CREDIT_AWARDED",
    "referrer": {
        "id": "h8kp6l",
        "firstName": "Richard",
        "lastName": "Hendricks",
        "referralCount": 5,
        "monthlyReferralCount": 2,
        "rank": 100,
        "shareUrl": "https://piedpiper.com?grsf=h8kp6l",
        "email": "richard@piedpiper.com",
        "createdAt": 1552402661449,
        "referralSource": "DIRECT",
        "fraudRiskLevel": "LOW",
        "fraudReasonCode": "UNIQUE_IDENTIY",
        "isWinner": true,
        "shareCount": {
            "email": 20,
            "facebook": 11,
            "linkedin": 0,
            "pinterest": 3,
            "twitter": 12
        },
        "impressionCount": 14,
        "uniqueImpressionCount": 11,
        "inviteCount": 11,
        "referrals": [
            "0dveu7",
            "f8g9nl",
            "j0hbym",
            "m5xm9l",
            "w01fil"
        ],
        "monthlyReferrals": [
            "m5xm9l",
            "w01fil"
        ]
    },
    "metadata": {
       "company": "Hooli, Inc",
       "companySize": 10000
    },
    "rewards": [
        {
            "id": "dgaiuk",
            "rewardId": "oe1cjt",
            "status": "PENDING",
            "unread": true,
            "isReferrer": true,
            "isAvailable": false,
            "approved": false,
            "isFulfilled": false,
            "referredId": "xh345d",
            "referrerId": "f8g9nl"
        }
    ],
    "vanityKeys": [
        "gavin-f8g9nl"
    ]
}
"""
)


# Get Participant Rewards by Participant ID
PARTICIPANT_REWARDS = json.loads(
    """
{
    "limit": 2,
    "nextId": "v2qtfq",
    "rewards": [
        {
            "id": "rr35mg",
            "rewardId": "c6w1qo",
            "status": "PENDING",
            "unread": true,
            "approved": false,
            "approvedAt": null,
            "fulfilledAt": null,
            "isReferrer": true,
            "isAvailable": false,
            "isFulfilled": false,
            "referredId": "xh345d",
            "referrerId": "f8g9nl"
        },
        {
            "id": "oltj0s",
            "rewardId": "c6w1qo",
            "status": "FULFILLED",
            "unread": false,
            "approved": true,
            "approvedAt": 1659453091744,
            "fulfilledAt": 1659453418901,
            "isReferrer": false,
            "isAvailable": true,
            "isFulfilled": true,
            "referredId": "zyx765",
            "referrerId": "f8g9nl"
        }
    ]
}
"""
)


# Get Referrals and Invites
REFERRALS = json.loads(
    """
{
    "referrals": [{
            "id": "f2bukr",
            "email": "gavin@hooli.com",
            "firstName": "Gavin",
            "lastName": "Belson",
            "referralStatus": "CREDIT_AWARDED",
            "referredBy": "2khaha",
            "createdAt": 1591546112223,
            "updatedAt": 1591546285013
        },
        {
            "id": "qbp153",
            "email": "richard@piedpiper.com",
            "firstName": "Richard",
            "lastName": "Hendricks",
            "referralStatus": "CREDIT_PENDING",
            "referredBy": "abckj2",
            "createdAt": 1591542657835,
            "updatedAt": 1591542658457
        },
        {
            "id": "ghw131",
            "email": "danish@piedpiper.com",
            "firstName": "Danish",
            "lastName": "Chugtai",
            "referralStatus": "CREDIT_EXPIRED",
            "referredBy": "zz212f",
            "createdAt": 1591548886835,
            "updatedAt": 1591542677457
        },
        {
            "id": "ugqeq9",
            "email": "***************",
            "firstName": null,
            "lastName": null,
            "referralStatus": "INVITE_SENT",
            "referredBy": "xde212",
            "createdAt": 1591469527740,
            "updatedAt": 1591469527740
        }
    ],
    "limit": 4,
    "nextOffset": 4,
    "nextId": "gale@piedpiper.com",
    "more": true
}
"""
)


# Get Campaign
CAMPAIGN_ANSWER = json.loads(
    """
{
    "id": "abc123",
    "name": "Middle Out Compression Campaign",
    "referralCount": 121,
    "participantCount": 199,
    "impressionCount": 199,
    "inviteCount": 237,
    "winnerCount": 1,
    "status": "IN_PROGRESS",
    "rewards": [
        {
            "id": "xyz789",
            "type": "DOUBLE_SIDED",
            "description": "Refer a friend and get a Pied Piper T-Shirt",
            "referralDescription": "Join and receive middle out compression algorithm",
            "isUnlimited": false,
            "limit": 1,
            "conversionsRequired": 1,
            "numberOfWinners": 3,
            "imageUrl": "http://res.cloudinary.com/growsurf/image/upload/v1552764861/development/hxdcjrayfhksvxu5u6oz.png"
        }
    ]
}
"""
)

# Get Campaigns' second campaign's reward (the document's SINGLE_SIDED example)
SINGLE_SIDED_REWARD = json.loads(
    """
{
    "id": "qiar1r",
    "type": "SINGLE_SIDED",
    "description": "First 3 referrers receive one month free.",
    "isUnlimited": false,
    "limit": 1,
    "conversionsRequired": 1,
    "numberOfWinners": 3,
    "imageUrl": "https://res.cloudinary.com/growsurf/image/upload/v1593807417/development/wg7xzingezfbmrh7zg7m.png"
}
"""
)


# -- participants ----------------------------------------------------------------------------------


def test_normalize_participant_maps_the_documented_participant():
    # Given the documented participant (Get Participant by Email)
    # When it is normalized
    participant = normalize_participant(PARTICIPANT_BY_EMAIL, CAMPAIGN)
    # Then the hub's fields come from GrowSurf's, the referral code being the participant id
    assert participant.id == "f8g9nl"
    assert participant.email == "gavin@hoolie.com"
    assert (participant.first_name, participant.last_name) == ("Gavin", "Belson")
    assert participant.referral_code == "f8g9nl"
    assert participant.share_url == "https://piedpiper.com?grsf=gavin-f8g9nl"
    assert participant.referral_count == 2
    assert participant.rank == 10001
    assert (participant.campaign, participant.provider) == (CAMPAIGN, Provider.GROWSURF)


def test_normalize_participant_parses_created_at_epoch_milliseconds_as_utc():
    # Given createdAt 1552404738928 (epoch milliseconds)
    # When the participant is normalized
    created = normalize_participant(PARTICIPANT_BY_EMAIL, CAMPAIGN).created_at
    # Then it is 2019-03-12T15:32:18.928Z, timezone-aware
    assert created == datetime(2019, 3, 12, 15, 32, 18, 928000, tzinfo=UTC)


def test_normalize_participant_takes_the_referrer_email_and_id():
    # Given a participant referred by Richard (id h8kp6l)
    # When it is normalized
    referrer = normalize_participant(PARTICIPANT_BY_EMAIL, CAMPAIGN).referrer
    # Then the referrer is his email, with his id as the referral code
    assert referrer == ReferrerRef(email="richard@piedpiper.com", referral_code="h8kp6l")


def test_normalize_participant_without_referrer_has_none():
    # Given the documented new participant (Add Participant), referrer null
    # When it is normalized
    participant = normalize_participant(ADDED_PARTICIPANT, CAMPAIGN)
    # Then it has no referrer, no referrals, and its own id as code
    assert participant.referrer is None
    assert participant.referral_count == 0
    assert participant.referral_code == "3vxff9"
    assert participant.share_url == "https://hoolie.com?grsf=3vxff9"


def test_normalize_participant_keeps_the_provider_object_untouched():
    # Given the documented participant
    original = json.loads(json.dumps(PARTICIPANT_BY_EMAIL))
    # When it is normalized
    participant = normalize_participant(PARTICIPANT_BY_EMAIL, CAMPAIGN)
    # Then providerData is GrowSurf's object as is, and the input was not changed
    assert participant.provider_data == original
    assert original == PARTICIPANT_BY_EMAIL


@pytest.mark.parametrize(("level", "flagged"), [("LOW", False), ("MEDIUM", False), ("HIGH", True), (None, False)])
def test_flagged_is_a_high_fraud_risk(level, flagged):
    # Given the documented participant with a fraudRiskLevel (or none)
    payload = {**PARTICIPANT_BY_EMAIL, "fraudRiskLevel": level}
    # When it is normalized, Then flagged is true for HIGH only
    assert normalize_participant(payload, CAMPAIGN).flagged is flagged


def test_normalize_participant_wire_shape_is_camel_case():
    # Given the documented participant
    # When it is turned into the hub's wire shape
    wire = normalize_participant(PARTICIPANT_BY_EMAIL, CAMPAIGN).to_wire()
    # Then the SPEC's fields are there in camelCase, createdAt in ISO 8601
    assert wire["referralCode"] == "f8g9nl"
    assert wire["referrer"] == {"email": "richard@piedpiper.com", "referralCode": "h8kp6l"}
    assert wire["createdAt"] == "2019-03-12T15:32:18.928000Z"
    assert wire["provider"] == "growsurf"
    assert wire["providerData"]["vanityKeys"] == ["gavin-f8g9nl"]


def test_normalize_participant_without_an_email_is_refused():
    # Given a payload without an email
    # When it is normalized, Then it is refused
    with pytest.raises(KeyError):
        normalize_participant({"id": "x"}, CAMPAIGN)


# -- leaderboard and participant pages -------------------------------------------------------------


def test_normalize_leaderboard_keeps_the_order_and_the_next_id():
    # Given the documented leaderboard
    # When it is normalized
    page = normalize_leaderboard(LEADERBOARD, CAMPAIGN)
    # Then the participants keep their order and ranks, and the cursor is nextId
    assert [(p.id, p.rank, p.referral_count) for p in page.items] == [("3vxff9", 1, 1000), ("f8g9nl", 2, 900)]
    assert page.next_cursor == "1u7v0q"
    assert page.items[1].referrer == ReferrerRef(email="richard@piedpiper.com", referral_code="h8kp6l")


def test_normalize_leaderboard_last_page_has_no_cursor():
    # Given a leaderboard answer whose nextId is null
    payload = {**LEADERBOARD, "nextId": None}
    # When it is normalized, Then next_cursor is None
    assert normalize_leaderboard(payload, CAMPAIGN).next_cursor is None


def test_normalize_participants_page_reads_get_participants():
    # Given the documented Get Participants answer
    # When it is normalized
    page = normalize_participants_page(PARTICIPANTS, CAMPAIGN)
    # Then both participants and the cursor come through
    assert [p.email for p in page.items] == ["gavin@hooli.com", "gavin@hoolie.com"]
    assert page.next_cursor == "1u7v0q"
    assert page.items[0].created_at == datetime(2019, 5, 24, 2, 38, 57, 426000, tzinfo=UTC)


# -- referrals -------------------------------------------------------------------------------------


def test_normalize_referrals_maps_each_documented_status():
    # Given the documented referrals and invites
    # When they are normalized
    referrals = normalize_referrals(REFERRALS)
    # Then each GrowSurf status has its hub status
    assert [(r.id, r.status) for r in referrals] == [
        ("f2bukr", ReferralStatus.CONVERTED),
        ("qbp153", ReferralStatus.PENDING),
        ("ghw131", ReferralStatus.EXPIRED),
        ("ugqeq9", ReferralStatus.INVITED),
    ]


def test_normalize_referral_takes_names_email_and_time():
    # Given the documented awarded referral
    # When it is normalized
    referral = normalize_referral(REFERRALS["referrals"][0])
    # Then its fields come through, createdAt from epoch milliseconds
    assert (referral.email, referral.first_name, referral.last_name) == ("gavin@hooli.com", "Gavin", "Belson")
    assert referral.created_at == datetime(2020, 6, 7, 16, 8, 32, 223000, tzinfo=UTC)
    assert referral.provider_data["referredBy"] == "2khaha"


def test_normalize_referral_of_an_invite_hides_the_masked_email():
    # Given the documented invite, its email masked
    # When it is normalized, Then the email is None rather than asterisks
    invite = normalize_referral(REFERRALS["referrals"][3])
    assert invite.email is None
    assert (invite.first_name, invite.last_name) == (None, None)
    assert invite.provider_data["email"] == "***************"


def test_an_unknown_referral_status_is_pending():
    # Given a status GrowSurf might add
    # When it is normalized, Then it is pending (no credit known)
    assert normalize_referral({"id": "a", "referralStatus": "SOMETHING_NEW"}).status == ReferralStatus.PENDING


def test_normalize_referrals_of_an_empty_answer_is_empty():
    # Given no referrals
    # When they are normalized, Then the list is empty
    assert normalize_referrals({"referrals": [], "more": False}) == []


# -- rewards ---------------------------------------------------------------------------------------


def test_normalize_rewards_maps_pending_and_fulfilled():
    # Given the documented participant rewards (one pending, one fulfilled)
    # When they are normalized
    rewards = normalize_rewards(PARTICIPANT_REWARDS)
    # Then the pending one is pending and the fulfilled one redeemed
    assert [(r.id, r.reward_id, r.status) for r in rewards] == [
        ("rr35mg", "c6w1qo", RewardStatus.PENDING),
        ("oltj0s", "c6w1qo", RewardStatus.REDEEMED),
    ]
    assert rewards[1].provider_data["fulfilledAt"] == 1659453418901


def test_an_approved_reward_not_fulfilled_is_approved():
    # Given a reward as it is once approved (the Fulfill section: PENDING, approved, not fulfilled)
    payload = {**PARTICIPANT_REWARDS["rewards"][0], "approved": True, "isAvailable": True}
    # When it is normalized, Then it is approved
    assert normalize_reward(payload).status == RewardStatus.APPROVED


def test_is_fulfilled_alone_is_redeemed():
    # Given a reward whose status says PENDING but isFulfilled true
    payload = {**PARTICIPANT_REWARDS["rewards"][0], "approved": True, "isFulfilled": True}
    # When it is normalized, Then isFulfilled wins: redeemed
    assert normalize_reward(payload).status == RewardStatus.REDEEMED


def test_normalize_rewards_reads_the_rewards_of_a_participant():
    # Given the documented updated participant, with one pending reward inline
    # When its rewards are normalized
    (reward,) = normalize_rewards(UPDATED_PARTICIPANT)
    # Then the reward is pending, with no milestone or creation time (GrowSurf has none)
    assert (reward.id, reward.status) == ("dgaiuk", RewardStatus.PENDING)
    assert (reward.milestone_id, reward.created_at) == (None, None)


def test_normalize_rewards_page_takes_next_id():
    # Given the documented participant rewards answer
    # When it is normalized as a page, Then the cursor is nextId
    page = normalize_rewards_page(PARTICIPANT_REWARDS)
    assert page.next_cursor == "v2qtfq"
    assert len(page.items) == 2


# -- time ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1591546112223, datetime(2020, 6, 7, 16, 8, 32, 223000, tzinfo=UTC)),
        ("1591546112223", datetime(2020, 6, 7, 16, 8, 32, 223000, tzinfo=UTC)),
        (1591546112, datetime(2020, 6, 7, 16, 8, 32, tzinfo=UTC)),
        ("2020-06-07T16:08:32Z", datetime(2020, 6, 7, 16, 8, 32, tzinfo=UTC)),
        (None, None),
        ("not a time", None),
    ],
)
def test_parse_time(value, expected):
    # Given a timestamp in one of the forms GrowSurf (or a caller) may give
    # When it is parsed, Then it is the UTC moment, or None
    assert parse_time(value) == expected


# -- errors ----------------------------------------------------------------------------------------


def error(status: int, code: str, message: str = "msg") -> ProviderResponse:
    return ProviderResponse(status, {"success": False, "code": code, "message": message}, {})


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (400, ValidationError),
        (422, ValidationError),
        (401, ProviderAuthFailed),
        (403, ProviderAuthFailed),
        (404, NotFound),
        (409, Conflict),
        (500, ProviderError),
    ],
)
@pytest.mark.parametrize(
    "code",
    # Codes GrowSurf's document never gives: none of them changes the mapping.
    ["", "PARTICIPANT_NOT_FOUND", "REWARD_NOT_FOUND", "REFERRAL_ALREADY_AWARDED", "EMAIL_ALREADY_EXISTS"],
)
def test_map_error_goes_by_status_alone_whatever_code_the_body_carries(status, expected, code):
    # Given an error answer of that status, with or without a code the document never shows
    # When it is mapped
    mapped = map_error(error(status, code))
    # Then the status alone decides (a 404 is narrowed by its path, in the client)
    assert type(mapped) is expected


def test_a_400_carries_growsurfs_message_but_names_no_field_it_cannot_know():
    # Given a 400 whose body has a message
    # When it is mapped
    mapped = map_error(error(400, "INVALID_REFERRAL_STATUS", "referralStatus must be CREDIT_PENDING"))
    # Then a validation error carries the message, and no field is guessed from the made-up code
    assert isinstance(mapped, ValidationError)
    assert mapped.message == "GrowSurf rejected the request: referralStatus must be CREDIT_PENDING"
    assert mapped.details == []


def test_a_body_that_is_not_json_falls_back_on_the_status():
    # Given a 404 whose body is text
    # When it is mapped, Then it is a plain NotFound carrying the text
    mapped = map_error(ProviderResponse(404, "Not Found", {}))
    assert type(mapped) is NotFound
    assert "Not Found" in mapped.message


# -- the campaign ----------------------------------------------------------------------------------


def test_normalize_campaign_maps_the_documented_campaign():
    # Given the documented Get Campaign answer
    # When it is normalized under the hub's name for the campaign
    campaign = normalize_campaign(CAMPAIGN_ANSWER, CAMPAIGN)
    # Then the SPEC's fields come from GrowSurf's, and providerData is the answer untouched
    assert (campaign.campaign, campaign.provider, campaign.name, campaign.status) == (
        CAMPAIGN,
        Provider.GROWSURF,
        "Middle Out Compression Campaign",
        "IN_PROGRESS",
    )
    assert (campaign.participant_count, campaign.referral_count) == (199, 121)
    assert campaign.provider_data == CAMPAIGN_ANSWER


def test_normalize_campaign_maps_the_reward_catalog():
    # Given the documented Get Campaign answer and its one reward
    # When it is normalized
    (reward,) = normalize_campaign(CAMPAIGN_ANSWER, CAMPAIGN).rewards
    # Then the catalog reward has the id, description, type and conversions GrowSurf gives, and keeps the rest
    assert (reward.id, reward.description, reward.type, reward.conversions_required) == (
        "xyz789",
        "Refer a friend and get a Pied Piper T-Shirt",
        "DOUBLE_SIDED",
        1,
    )
    assert reward.provider_data["referralDescription"] == "Join and receive middle out compression algorithm"


def test_normalize_campaign_wire_shape_is_the_specs():
    # Given the documented Get Campaign answer
    # When it is answered on the wire
    wire = normalize_campaign(CAMPAIGN_ANSWER, CAMPAIGN).to_wire()
    # Then it has the SPEC's camelCase keys, the catalog's too
    assert set(wire) == {
        "campaign",
        "provider",
        "name",
        "status",
        "participantCount",
        "referralCount",
        "rewards",
        "providerData",
    }
    assert set(wire["rewards"][0]) == {"id", "description", "type", "conversionsRequired", "providerData"}


def test_a_single_sided_reward_without_a_referral_description_is_normalized():
    # Given the document's SINGLE_SIDED reward (no referralDescription)
    # When it is normalized, Then its type and conversions come through
    reward = normalize_catalog_reward(SINGLE_SIDED_REWARD)
    assert (reward.id, reward.type, reward.conversions_required) == ("qiar1r", "SINGLE_SIDED", 1)


def test_a_catalog_entry_without_an_id_is_left_out():
    # Given a campaign whose rewards hold an entry without an id and one that is not an object
    payload = {**CAMPAIGN_ANSWER, "rewards": [{"type": "SINGLE_SIDED"}, "x", SINGLE_SIDED_REWARD]}
    # When it is normalized, Then only the reward that can be named is in the catalog
    assert [r.id for r in normalize_campaign(payload, CAMPAIGN).rewards] == ["qiar1r"]


def test_a_campaign_with_no_optional_fields_is_normalized():
    # Given a campaign answer with its id only
    # When it is normalized, Then the absent fields are None and the catalog is empty
    campaign = normalize_campaign({"id": "abc123"}, CAMPAIGN)
    assert (campaign.name, campaign.status, campaign.participant_count, campaign.rewards) == (None, None, None, [])


@pytest.mark.parametrize("payload", [None, [], "text"])
def test_a_campaign_answer_that_is_not_an_object_is_a_provider_error(payload):
    # Given a 2xx body that is not the documented object
    # When it is normalized, Then the provider failed (502), not the hub (500)
    with pytest.raises(ProviderError):
        normalize_campaign(payload, CAMPAIGN)


# -- pages and single answers ----------------------------------------------------------------------


def test_a_participants_page_leaves_out_items_without_an_email():
    # Given a Get Participants answer with an item that has no email and one that is not an object
    payload = {**PARTICIPANTS, "participants": [{"id": "x"}, "y", *PARTICIPANTS["participants"]]}
    # When it is normalized, Then only the participants the hub can represent are in the page
    page = normalize_participants_page(payload, CAMPAIGN)
    assert [p.id for p in page.items] == ["3vxff9", "f8g9nl"]
    assert page.next_cursor == "1u7v0q"


@pytest.mark.parametrize("payload", [None, [], "text"])
def test_a_participants_answer_that_is_not_an_object_is_a_provider_error(payload):
    # Given a 2xx body that is not the documented object
    # When it is normalized, Then the provider failed (502), not the hub (500)
    with pytest.raises(ProviderError):
        normalize_participants_page(payload, CAMPAIGN)


def test_normalize_participant_answer_reads_the_documented_update_answer():
    # Given the documented Update Participant answer
    # When it is normalized as a single participant
    participant = normalize_participant_answer(UPDATED_PARTICIPANT, CAMPAIGN)
    # Then it is that participant
    assert (participant.id, participant.email, participant.referral_code) == ("f8g9nl", "gavin@hoolie.com", "f8g9nl")


@pytest.mark.parametrize("payload", [None, [], {"id": "f8g9nl"}, {"success": True}])
def test_a_participant_answer_without_a_participant_is_a_provider_error(payload):
    # Given a 2xx body that is not a participant with an email
    # When it is normalized, Then the provider failed (502), never an unexpected error
    with pytest.raises(ProviderError):
        normalize_participant_answer(payload, CAMPAIGN)


def test_answer_object_passes_an_object_through():
    # Given the documented removal answer
    # When it is checked, Then it passes as it is
    assert answer_object({"success": True}, "the removal") == {"success": True}


def test_a_referrals_page_reads_on_from_the_offset_while_more_is_true():
    # Given the documented referrals answer (four items, more: true), read from offset 8
    # When it is normalized
    page = normalize_referrals_page(REFERRALS, 8)
    # Then the items keep their order and the cursor is the next offset, whatever nextId/nextOffset say
    assert [r.id for r in page.items] == ["f2bukr", "qbp153", "ghw131", "ugqeq9"]
    assert page.next_cursor == "12"


def test_a_referrals_page_whose_more_is_false_is_the_last():
    # Given the documented referrals answer saying there are no more
    # When it is normalized, Then it has no next cursor
    payload = {**REFERRALS, "more": False, "nextId": None, "nextOffset": None}
    assert normalize_referrals_page(payload, 0).next_cursor is None


def test_an_empty_referrals_page_is_the_last_even_if_more_says_otherwise():
    # Given an empty page that claims more
    # When it is normalized, Then it ends the list (else the same page would be asked for forever)
    assert normalize_referrals_page({"referrals": [], "more": True, "limit": 4}, 4).next_cursor is None


@pytest.mark.parametrize("payload", [None, [], "text"])
def test_a_referrals_answer_that_is_not_an_object_is_a_provider_error(payload):
    # Given a 2xx body that is not the documented object
    # When it is normalized, Then the provider failed (502), not the hub (500)
    with pytest.raises(ProviderError):
        normalize_referrals_page(payload, 0)


def test_each_hub_referral_status_filters_on_growsurfs_documented_value():
    # Given the four referralStatus filter values of Get Referrals and Invites
    # When the hub's statuses are mapped, Then each has its own, and they round-trip
    assert REFERRAL_STATUS_FILTER == {
        ReferralStatus.PENDING: "CREDIT_PENDING",
        ReferralStatus.CONVERTED: "CREDIT_AWARDED",
        ReferralStatus.EXPIRED: "CREDIT_EXPIRED",
        ReferralStatus.INVITED: "INVITE_SENT",
    }
    assert all(referral_status(value) == hub for hub, value in REFERRAL_STATUS_FILTER.items())
