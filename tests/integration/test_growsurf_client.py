"""GrowSurfClient over real HTTP against the GrowSurf sandbox, and the sandbox's own behaviour."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
import requests

from hub.domain.errors import (
    AlreadyConverted,
    CampaignNotFound,
    Conflict,
    HubError,
    ParticipantNotFound,
    ProviderAuthFailed,
    ProviderThrottled,
    RewardNotFound,
    ValidationError,
)
from hub.domain.requests import AddParticipantRequest
from hub.providers.growsurf.client import GrowSurfClient
from hub.providers.growsurf.program import GrowSurfProgram
from hub.settings.config import CampaignConfig
from local.sandbox.base import SandboxRate
from local.sandbox.growsurf import MASKED_EMAIL, GrowSurfSandbox

KEY = "gs-secret-key-7f3a9c41d2e8"
CAMPAIGN = "cmp7x2"
BASE = f"/v2/campaign/{CAMPAIGN}"
ANN = "ann+promo@example.com"
ANN_ENCODED = "ann%2Bpromo%40example.com"


#: The sandbox's readings where the document is silent: its default (the least convenient one) and the
#: others. Every test of this module runs under each.
SETTINGS = {
    "least-convenient": {},
    "coded-errors-qualifying-action": {
        "error_style": "coded",
        "referral_trigger": "SIGN_UP_QUALIFYING_ACTION",
        "trigger_refusals": True,
        "double_sided": False,
        "optional_fields": True,
    },
    "message-errors": {"error_style": "message", "approval_webhook": False},
}


@pytest.fixture(params=list(SETTINGS), ids=list(SETTINGS))
def sandbox(request, start_sandbox) -> GrowSurfSandbox:
    return start_sandbox(GrowSurfSandbox(api_key=KEY, campaign_id=CAMPAIGN, **SETTINGS[request.param]))


@pytest.fixture
def client(sandbox, fast_policy) -> GrowSurfClient:
    return GrowSurfClient(KEY, CAMPAIGN, base_url=sandbox.base_url, policy=fast_policy)


@pytest.fixture
def ann(sandbox) -> dict:
    """A participant others can name as their referrer."""
    return sandbox.seed_participant(ANN, first_name="Ann", last_name="Lee")


@pytest.fixture
def bob(sandbox, ann) -> dict:
    """A participant Ann referred, whose credit is still pending."""
    return sandbox.seed_participant(
        "bob@example.com", first_name="Bob", referrer=ann["id"], referral_status="CREDIT_PENDING"
    )


def only(sandbox: GrowSurfSandbox, path: str, method: str):
    received = [r for r in sandbox.received if r.path == path and r.method == method]
    assert len(received) == 1, [(r.method, r.path) for r in sandbox.received]
    return received[0]


def refer(sandbox: GrowSurfSandbox, referrer_id: str, count: int, *, convert: bool = True) -> list[dict]:
    friends = []
    for n in range(count):
        friend = sandbox.seed_participant(
            f"friend{n}-{referrer_id}@example.com", referrer=referrer_id, referral_status="CREDIT_PENDING"
        )
        if convert:
            sandbox.trigger(friend["id"])
        friends.append(friend)
    return friends


# -- campaigns -------------------------------------------------------------------------------------


def test_get_campaign_sends_the_bearer_key_and_returns_the_campaign(sandbox, client, ann):
    # Given a campaign with one participant
    # When the campaign is read
    result = client.get_campaign()
    # Then the sandbox got GET /campaign/{id} with the key as a Bearer token
    received = only(sandbox, BASE, "GET")
    assert received.header("Authorization") == f"Bearer {KEY}"
    # And the client returns the documented campaign
    assert result["id"] == CAMPAIGN
    assert result["participantCount"] == 1
    assert result["status"] == "IN_PROGRESS"
    assert result["rewards"][0]["conversionsRequired"] == 1


def test_get_campaigns_lists_the_account_campaigns(sandbox, client):
    # Given the sandbox's one campaign
    # When the campaigns are listed
    result = client.get_campaigns()
    # Then GET /campaigns was called and the campaign is listed
    assert only(sandbox, "/v2/campaigns", "GET").header("Authorization") == f"Bearer {KEY}"
    assert [c["id"] for c in result["campaigns"]] == [CAMPAIGN]


# -- participants ----------------------------------------------------------------------------------


def test_get_participant_by_id_returns_the_participant(sandbox, client, ann):
    # Given Ann
    # When she is read by id
    result = client.get_participant_by_id(ann["id"])
    # Then the id was in the path, and the documented participant came back
    only(sandbox, f"{BASE}/participant/{ann['id']}", "GET")
    assert result["email"] == ANN
    assert result["shareUrl"].endswith(f"?grsf={ann['id']}")
    assert result["referrer"] is None


def test_get_participant_by_email_url_encodes_the_email(sandbox, client, ann):
    # Given Ann, whose email has a '+'
    # When she is read by email
    result = client.get_participant_by_email(ANN)
    # Then the email travelled URL-encoded in the path
    assert f"{BASE}/participant/{ANN_ENCODED}" in sandbox.raw_uris
    assert result["id"] == ann["id"]


def test_get_participants_pages_with_next_id_and_limit(sandbox, client):
    # Given three participants
    ids = [sandbox.seed_participant(f"p{n}@example.com")["id"] for n in range(3)]
    # When the first page of two is read, then the page its nextId starts
    first = client.get_participants(limit=2)
    second = client.get_participants(next_id=first["nextId"], limit=2)
    # Then the query carried limit and nextId, and the pages split the list in sign-up order
    received = [r for r in sandbox.received if r.path == f"{BASE}/participants"]
    assert [r.query for r in received] == [{"limit": "2"}, {"nextId": ids[2], "limit": "2"}]
    assert [p["id"] for p in first["participants"]] == ids[:2]
    assert first["nextId"] == ids[2]
    assert [p["id"] for p in second["participants"]] == ids[2:]
    assert second["nextId"] is None


def test_iter_participants_walks_every_page(sandbox, client):
    # Given five participants
    emails = [sandbox.seed_participant(f"p{n}@example.com")["email"] for n in range(5)]
    # When they are iterated two at a time
    walked = [p["email"] for p in client.iter_participants(limit=2)]
    # Then every one came back once, over three calls
    assert walked == emails
    assert len(sandbox.requests_to("/participants", "GET")) == 3


def test_get_leaderboard_sends_its_query_and_ranks_by_referral_count(sandbox, client, ann):
    # Given Ann with two credited referrals and Cat with one
    cat = sandbox.seed_participant("cat@example.com")
    refer(sandbox, ann["id"], 2)
    refer(sandbox, cat["id"], 1)
    # When the all-time leaderboard is read two at a time
    result = client.get_leaderboard(limit=2, leaderboard_type="ALL_TIME")
    # Then the query carried the documented parameters
    assert only(sandbox, f"{BASE}/leaderboard", "GET").query == {"limit": "2", "leaderboardType": "ALL_TIME"}
    # And Ann leads, then Cat, with ranks 1 and 2 and a nextId to the rest
    assert [(p["email"], p["rank"], p["referralCount"]) for p in result["participants"]] == [
        (ANN, 1, 2),
        ("cat@example.com", 2, 1),
    ]
    assert result["nextId"]


def test_get_leaderboard_sends_next_id_and_the_deprecated_is_monthly(sandbox, client, ann):
    # Given Ann and a referred friend
    friend = refer(sandbox, ann["id"], 1)[0]
    # When the monthly leaderboard is read from the friend on, with the deprecated flag
    result = client.get_leaderboard(next_id=friend["id"], is_monthly=True)
    # Then nextId and isMonthly=true were sent, and the page starts at the friend
    assert only(sandbox, f"{BASE}/leaderboard", "GET").query == {"nextId": friend["id"], "isMonthly": "true"}
    assert [p["id"] for p in result["participants"]] == [friend["id"]]


def test_add_participant_posts_every_documented_field(sandbox, client, ann):
    # Given Ann as the referrer, named by her email
    # When a participant is added with every field
    result = client.add_participant(
        "dan@example.com",
        referred_by=ANN,
        referral_status="CREDIT_PENDING",
        first_name="Dan",
        last_name="Ng",
        ip_address="203.0.113.9",
        metadata={"company": "Hooli, Inc", "companySize": 10000},
    )
    # Then the body carried them under the documented names
    assert only(sandbox, f"{BASE}/participant", "POST").json == {
        "email": "dan@example.com",
        "referredBy": ANN,
        "referralStatus": "CREDIT_PENDING",
        "firstName": "Dan",
        "lastName": "Ng",
        "ipAddress": "203.0.113.9",
        "metadata": {"company": "Hooli, Inc", "companySize": 10000},
    }
    # And the new participant is referred by Ann, credit pending
    assert result["referrer"]["id"] == ann["id"]
    assert result["referralStatus"] == "CREDIT_PENDING"
    assert result["referralSource"] == "PARTICIPANT"
    assert result["metadata"] == {"company": "Hooli, Inc", "companySize": 10000}
    assert result["vanityKeys"] == [f"dan-{result['id']}"]


def test_add_participant_leaves_unset_fields_out(sandbox, client):
    # Given nothing but an email
    # When the participant is added
    result = client.add_participant("solo@example.com")
    # Then only the email was sent, and the participant joined directly
    assert only(sandbox, f"{BASE}/participant", "POST").json == {"email": "solo@example.com"}
    assert result["referralSource"] == "DIRECT"
    assert "referralStatus" not in result


def test_add_participant_with_an_existing_email_returns_the_existing_participant(sandbox, client, ann):
    # Given Ann
    # When she is added again, with other names, in other case
    result = client.add_participant(ANN.upper(), first_name="Someone", last_name="Else")
    # Then the existing participant came back unchanged, and nobody was created
    assert result["id"] == ann["id"]
    assert result["firstName"] == "Ann"
    assert len(sandbox.participants) == 1


def test_add_participant_with_credit_awarded_credits_the_referrer_at_once(sandbox, client, ann):
    # Given Ann with no referrals
    # When a friend joins with CREDIT_AWARDED, naming Ann by id
    client.add_participant("eve@example.com", referred_by=ann["id"], referral_status="CREDIT_AWARDED")
    # Then Ann is credited and earned a pending reward
    assert sandbox.participant(ann["id"])["referralCount"] == 1
    assert [r["status"] for r in sandbox.rewards_of(ann["id"])] == ["PENDING"]


def test_trigger_referral_by_id_credits_the_referrer(sandbox, client, ann, bob):
    # Given Bob, referred by Ann, credit pending
    # When Bob's referral is triggered by id
    result = client.trigger_referral_by_id(bob["id"])
    # Then the sandbox got POST .../participant/{id}/ref and answered the documented success
    only(sandbox, f"{BASE}/participant/{bob['id']}/ref", "POST")
    assert result == {"success": True, "message": "Successfully awarded referral credit."}
    # And Ann is credited with Bob
    assert sandbox.participant(ann["id"])["referrals"] == [bob["id"]]
    assert sandbox.participant(bob["id"])["referralStatus"] == "CREDIT_AWARDED"


def test_trigger_referral_by_email_url_encodes_the_email(sandbox, client, ann):
    # Given a friend of Ann's whose email has a '+'
    sandbox.seed_participant("fay+1@example.com", referrer=ann["id"])
    # When the referral is triggered by email
    client.trigger_referral_by_email("fay+1@example.com")
    # Then the email was encoded in the path, and Ann credited
    assert f"{BASE}/participant/fay%2B1%40example.com/ref" in sandbox.raw_uris
    assert sandbox.participant(ann["id"])["referralCount"] == 1


def test_trigger_referral_already_awarded_does_not_credit_twice(sandbox, client, ann, bob):
    # Given Bob's referral already triggered
    client.trigger_referral_by_id(bob["id"])
    # When it is triggered again: the document shows only the success answer (credit goes to a
    # CREDIT_PENDING referral alone), an error body it never shows is a 400 the client cannot read further
    if sandbox.trigger_refusals:
        with pytest.raises(ValidationError):
            client.trigger_referral_by_email("bob@example.com")
    else:
        assert client.trigger_referral_by_email("bob@example.com")["success"] is True
    # Then Ann was credited once
    assert sandbox.participant(ann["id"])["referralCount"] == 1


def test_trigger_referral_of_someone_nobody_referred_credits_nobody(sandbox, client, ann):
    # Given Ann, who joined directly
    # When her referral is triggered: refused (400) or the documented success, by the sandbox's reading
    if sandbox.trigger_refusals:
        with pytest.raises(ValidationError):
            client.trigger_referral_by_id(ann["id"])
    else:
        assert client.trigger_referral_by_id(ann["id"])["success"] is True
    # Then nobody was credited
    assert sandbox.participant(ann["id"]).get("referralStatus") is None
    assert sandbox.participant(ann["id"])["referralCount"] == 0


def test_trigger_referral_of_an_expired_credit_succeeds_without_credit(sandbox, client, ann):
    # Given a friend whose credit expired
    friend = sandbox.seed_participant("late@example.com", referrer=ann["id"], referral_status="CREDIT_EXPIRED")
    # When the referral is triggered
    result = client.trigger_referral_by_id(friend["id"])
    # Then the answer is the documented success, but Ann got no credit
    assert result["success"] is True
    assert sandbox.participant(ann["id"])["referralCount"] == 0


def test_trigger_referral_past_the_expiry_window_succeeds_without_credit(sandbox, client, ann):
    # Given a campaign whose credit expires an hour after sign-up, and a friend who joined two hours ago
    sandbox.configure(creditExpiryMs=3_600_000)
    joined = sandbox.clock() - 7_200_000
    friend = sandbox.seed_participant(
        "slow@example.com", referrer=ann["id"], referral_status="CREDIT_PENDING", created_at=joined
    )
    # When the referral is triggered
    result = client.trigger_referral_by_id(friend["id"])
    # Then the answer is the documented success, the credit expired, and Ann got none
    assert result == {"success": True, "message": "Successfully awarded referral credit."}
    assert sandbox.participant(friend["id"])["referralStatus"] == "CREDIT_EXPIRED"
    assert sandbox.participant(ann["id"])["referralCount"] == 0


def test_update_participant_by_id_posts_every_documented_field(sandbox, client, ann):
    # Given a participant with metadata and no referrer
    gil = sandbox.seed_participant("gil@example.com", metadata={"plan": "free", "team": "a"})
    # When every field is updated
    result = client.update_participant_by_id(
        gil["id"],
        referred_by=ann["id"],
        email="gil.new@example.com",
        first_name="Gil",
        last_name="Bert",
        metadata={"plan": "pro", "team": None},
        referral_status="CREDIT_AWARDED",
        vanity_keys=["gil-rocks"],
    )
    # Then the body carried them under the documented names
    assert only(sandbox, f"{BASE}/participant/{gil['id']}", "POST").json == {
        "referredBy": ann["id"],
        "email": "gil.new@example.com",
        "firstName": "Gil",
        "lastName": "Bert",
        "metadata": {"plan": "pro", "team": None},
        "referralStatus": "CREDIT_AWARDED",
        "vanityKeys": ["gil-rocks"],
    }
    # And the participant changed: metadata merged (None removes), referrer credited at once
    assert (result["email"], result["firstName"], result["lastName"]) == ("gil.new@example.com", "Gil", "Bert")
    assert result["metadata"] == {"plan": "pro"}
    assert result["vanityKeys"] == ["gil-rocks"]
    assert result["referrer"]["id"] == ann["id"]
    assert sandbox.participant(ann["id"])["referralCount"] == 1


def test_update_participant_by_email_finds_the_participant_by_its_current_email(sandbox, client, ann):
    # Given Ann
    # When her first name is updated through her encoded email
    result = client.update_participant_by_email(ANN, first_name="Annie")
    # Then only that field was sent, to the encoded path
    assert f"{BASE}/participant/{ANN_ENCODED}" in sandbox.raw_uris
    assert only(sandbox, f"{BASE}/participant/{ANN}", "POST").json == {"firstName": "Annie"}
    assert result["firstName"] == "Annie"


def test_update_participant_to_a_taken_email_is_a_validation_error(sandbox, client, ann, bob):
    # Given Ann and Bob
    # When Bob's email is changed to Ann's, Then a validation error (no error body is documented), and Bob keeps his
    with pytest.raises(ValidationError):
        client.update_participant_by_id(bob["id"], email=ANN)
    assert sandbox.participant(bob["id"])["email"] == "bob@example.com"


def test_update_participant_referrer_when_one_is_assigned_is_a_validation_error(sandbox, client, bob):
    # Given Bob, referred by Ann, and another participant
    other = sandbox.seed_participant("other@example.com")
    # When Bob is given another referrer, Then a validation error (no error body is documented)
    with pytest.raises(ValidationError):
        client.update_participant_by_id(bob["id"], referred_by=other["id"])


def test_update_participant_referral_status_once_awarded_is_a_validation_error(sandbox, client, bob):
    # Given Bob's credit awarded
    sandbox.trigger(bob["id"])
    # When his referral status is set again, Then a validation error (no error body is documented)
    with pytest.raises(ValidationError):
        client.update_participant_by_id(bob["id"], referral_status="CREDIT_EXPIRED")


def test_update_participant_with_invalid_vanity_keys_names_the_field(sandbox, client, ann, bob):
    # Given Bob
    # When he is given Ann's id as a vanity key, Then a validation error names vanityKeys
    with pytest.raises(ValidationError) as raised:
        client.update_participant_by_id(bob["id"], vanity_keys=[ann["id"]])
    assert raised.value.message.startswith("GrowSurf rejected the request")


def test_remove_participant_by_id_removes_the_participant(sandbox, client, ann):
    # Given Ann
    # When she is removed by id
    result = client.remove_participant_by_id(ann["id"])
    # Then DELETE answered success, and she is gone
    only(sandbox, f"{BASE}/participant/{ann['id']}", "DELETE")
    assert result == {"success": True}
    with pytest.raises(ParticipantNotFound):
        client.get_participant_by_id(ann["id"])


def test_remove_participant_by_email_removes_the_participant(sandbox, client, ann):
    # Given Ann
    # When she is removed by her encoded email
    result = client.remove_participant_by_email(ANN)
    # Then she is gone
    assert f"{BASE}/participant/{ANN_ENCODED}" in sandbox.raw_uris
    assert result == {"success": True}
    assert sandbox.participants == {}


# -- participant rewards ---------------------------------------------------------------------------


def test_get_participant_rewards_by_id_pages_with_next_id(sandbox, client, ann):
    # Given Ann with three rewards (one per credited referral)
    refer(sandbox, ann["id"], 3)
    earned = [r["id"] for r in sandbox.rewards_of(ann["id"])]
    # When her rewards are read two at a time
    first = client.get_participant_rewards_by_id(ann["id"], limit=2)
    second = client.get_participant_rewards_by_id(ann["id"], next_id=first["nextId"], limit=2)
    # Then the query carried the paging, and the documented ParticipantRewards came back
    received = [r for r in sandbox.received if r.path == f"{BASE}/participant/{ann['id']}/rewards"]
    assert [r.query for r in received] == [{"limit": "2"}, {"nextId": earned[2], "limit": "2"}]
    assert [r["id"] for r in first["rewards"] + second["rewards"]] == earned
    assert first["rewards"][0]["status"] == "PENDING"
    assert first["rewards"][0]["approved"] is False
    assert first["rewards"][0]["referrerId"] == ann["id"]
    assert second["nextId"] is None


def test_get_participant_rewards_by_email_url_encodes_the_email(sandbox, client, ann):
    # Given Ann with one reward
    refer(sandbox, ann["id"], 1)
    # When her rewards are read by email
    result = client.get_participant_rewards_by_email(ANN, limit=5)
    # Then the email was encoded, and the reward came back
    assert f"{BASE}/participant/{ANN_ENCODED}/rewards?limit=5" in sandbox.raw_uris
    assert len(result["rewards"]) == 1


def test_iter_participant_rewards_walks_every_page(sandbox, client, ann):
    # Given Ann with three rewards
    refer(sandbox, ann["id"], 3)
    # When they are iterated one at a time
    walked = [r["id"] for r in client.iter_participant_rewards(ann["id"], limit=1)]
    # Then each came back once
    assert walked == [r["id"] for r in sandbox.rewards_of(ann["id"])]


def test_approve_participant_reward_without_fulfill_sends_no_body(sandbox, client, ann):
    # Given a pending reward
    reward = sandbox.grant_reward(ann["id"])
    # When it is approved
    result = client.approve_participant_reward(reward["id"])
    # Then the sandbox got the documented POST, and the reward is approved, not fulfilled
    received = only(sandbox, f"{BASE}/reward/{reward['id']}/approve", "POST")
    assert received.json in (None, {})
    assert result == {"success": True}
    (after,) = sandbox.rewards_of(ann["id"])
    assert (after["status"], after["approved"], after["isAvailable"], after["isFulfilled"]) == (
        "PENDING",
        True,
        True,
        False,
    )


def test_approve_participant_reward_with_fulfill_fulfills_it(sandbox, client, ann):
    # Given a pending reward
    reward = sandbox.grant_reward(ann["id"])
    # When it is approved with fulfill
    client.approve_participant_reward(reward["id"], fulfill=True)
    # Then fulfill=true was sent, and the reward is fulfilled
    assert only(sandbox, f"{BASE}/reward/{reward['id']}/approve", "POST").json == {"fulfill": True}
    (after,) = sandbox.rewards_of(ann["id"])
    assert (after["status"], after["isFulfilled"]) == ("FULFILLED", True)
    assert after["fulfilledAt"] is not None


def test_approving_an_approved_reward_is_a_validation_error(sandbox, client, ann):
    # Given an approved reward
    reward = sandbox.grant_reward(ann["id"], approved=True)
    # When it is approved again, Then a validation error (no error body is documented)
    with pytest.raises(ValidationError):
        client.approve_participant_reward(reward["id"])


def test_approving_a_fulfilled_reward_is_a_validation_error(sandbox, client, ann):
    # Given a fulfilled reward
    reward = sandbox.grant_reward(ann["id"], fulfilled=True)
    # When it is approved with fulfill again, Then a validation error (no error body is documented)
    with pytest.raises(ValidationError):
        client.approve_participant_reward(reward["id"], fulfill=True)


def test_fulfill_participant_reward_fulfills_an_approved_reward(sandbox, client, ann):
    # Given an approved reward
    reward = sandbox.grant_reward(ann["id"], approved=True)
    # When it is fulfilled
    result = client.fulfill_participant_reward(reward["id"])
    # Then the documented POST was made and the reward is fulfilled
    only(sandbox, f"{BASE}/reward/{reward['id']}/fulfill", "POST")
    assert result == {"success": True}
    assert sandbox.rewards_of(ann["id"])[0]["status"] == "FULFILLED"


def test_fulfilling_a_reward_not_approved_is_a_validation_error(sandbox, client, ann):
    # Given a pending reward
    reward = sandbox.grant_reward(ann["id"])
    # When it is fulfilled before approval, Then a validation error (no error body is documented), and it stays pending
    with pytest.raises(ValidationError):
        client.fulfill_participant_reward(reward["id"])
    assert sandbox.rewards_of(ann["id"])[0]["status"] == "PENDING"


def test_fulfilling_a_fulfilled_reward_is_a_validation_error(sandbox, client, ann):
    # Given a fulfilled reward
    reward = sandbox.grant_reward(ann["id"], fulfilled=True)
    # When it is fulfilled again, Then a validation error (no error body is documented)
    with pytest.raises(ValidationError):
        client.fulfill_participant_reward(reward["id"])


def test_remove_participant_reward_removes_an_unapproved_reward(sandbox, client, ann):
    # Given a pending reward
    reward = sandbox.grant_reward(ann["id"])
    # When it is removed
    result = client.remove_participant_reward(reward["id"])
    # Then DELETE answered success, and Ann has no reward
    only(sandbox, f"{BASE}/reward/{reward['id']}", "DELETE")
    assert result == {"success": True}
    assert sandbox.rewards_of(ann["id"]) == []


def test_removing_an_approved_reward_is_a_validation_error(sandbox, client, ann):
    # Given an approved reward
    reward = sandbox.grant_reward(ann["id"], approved=True)
    # When it is removed, Then a validation error (no error body is documented), and it stays
    with pytest.raises(ValidationError):
        client.remove_participant_reward(reward["id"])
    assert len(sandbox.rewards_of(ann["id"])) == 1


@pytest.mark.parametrize(
    "call", ["approve_participant_reward", "fulfill_participant_reward", "remove_participant_reward"]
)
def test_an_unknown_reward_raises_reward_not_found(client, call):
    # Given no reward 'nope42'
    # When it is acted on, Then RewardNotFound
    with pytest.raises(RewardNotFound):
        getattr(client, call)("nope42")


# -- referrals and invites -------------------------------------------------------------------------


def test_get_referrals_sends_every_documented_query_parameter(sandbox, client, ann, bob):
    # Given Bob referred by Ann
    # When the campaign's referrals are filtered on every documented parameter
    result = client.get_referrals(
        sort_by="createdAt",
        desc=False,
        limit=10,
        offset=0,
        email="bob@example.com",
        first_name="Bob",
        last_name=None,
        referral_status="CREDIT_PENDING",
        next_id=bob["id"],
    )
    # Then the query carried them under the documented names (booleans as true/false)
    assert only(sandbox, f"{BASE}/referrals", "GET").query == {
        "sortBy": "createdAt",
        "desc": "false",
        "limit": "10",
        "offset": "0",
        "email": "bob@example.com",
        "firstName": "Bob",
        "referralStatus": "CREDIT_PENDING",
        "nextId": bob["id"],
    }
    # And Bob's referral came back in the documented shape
    assert result["referrals"] == [
        {
            "id": bob["id"],
            "email": "bob@example.com",
            "firstName": "Bob",
            "lastName": None,
            "referralStatus": "CREDIT_PENDING",
            "referredBy": ann["id"],
            "createdAt": bob["createdAt"],
            "updatedAt": result["referrals"][0]["updatedAt"],
        }
    ]
    assert (result["more"], result["nextId"], result["nextOffset"]) == (False, None, None)


def test_get_referrals_pages_by_offset_and_by_next_id(sandbox, client, ann):
    # Given three referrals, sorted by email ascending
    refer(sandbox, ann["id"], 3, convert=False)
    # When the first page of two is read by offset, and the rest by its nextId
    first = client.get_referrals(sort_by="email", desc=False, limit=2, offset=0)
    rest = client.get_referrals(sort_by="email", desc=False, limit=2, next_id=first["nextId"])
    # Then the pages follow each other, with more/nextOffset/nextId as documented
    assert [r["email"] for r in first["referrals"]] == [f"friend{n}-{ann['id']}@example.com" for n in (0, 1)]
    assert (first["more"], first["nextOffset"]) == (True, 2)
    assert [r["email"] for r in rest["referrals"]] == [f"friend2-{ann['id']}@example.com"]
    assert (rest["more"], rest["nextOffset"], rest["nextId"]) == (False, None, None)


def test_get_participant_referrals_by_id_lists_only_that_participants_referrals(sandbox, client, ann, bob):
    # Given Bob referred by Ann, and someone referred by Bob
    sandbox.seed_participant("bobs-friend@example.com", referrer=bob["id"])
    # When Ann's referrals are read by id, with a status filter
    result = client.get_participant_referrals_by_id(ann["id"], referral_status="CREDIT_PENDING")
    # Then the query carried the filter, and only Bob came back
    assert only(sandbox, f"{BASE}/participant/{ann['id']}/referrals", "GET").query == {
        "referralStatus": "CREDIT_PENDING"
    }
    assert [r["email"] for r in result["referrals"]] == ["bob@example.com"]


def test_get_participant_referrals_by_email_url_encodes_the_email(sandbox, client, ann, bob):
    # Given Bob referred by Ann
    # When Ann's referrals are read by email
    result = client.get_participant_referrals_by_email(ANN, sort_by="updatedAt", desc=True)
    # Then the email was encoded, and Bob came back
    assert f"{BASE}/participant/{ANN_ENCODED}/referrals?sortBy=updatedAt&desc=true" in sandbox.raw_uris
    assert [r["id"] for r in result["referrals"]] == [bob["id"]]


def test_send_participant_invites_by_id_posts_the_documented_body(sandbox, client, ann):
    # Given Ann
    # When she invites two friends
    result = client.send_participant_invites_by_id(
        ann["id"],
        email_addresses=["x@example.com", "y@example.com"],
        message_text="{{referrerMessage}} Join me!",
        subject_text="{{referrerFirstName}} invited you",
    )
    # Then the body had the documented fields, and the documented answer came back
    assert only(sandbox, f"{BASE}/participant/{ann['id']}/invites", "POST").json == {
        "emailAddresses": ["x@example.com", "y@example.com"],
        "messageText": "{{referrerMessage}} Join me!",
        "subjectText": "{{referrerFirstName}} invited you",
    }
    assert result == {"success": True, "messageType": "sent", "invitesSent": 2}
    # And the invites show as INVITE_SENT with masked emails, counted on Ann
    referrals = client.get_participant_referrals_by_id(ann["id"])["referrals"]
    assert {(r["referralStatus"], r["email"]) for r in referrals} == {("INVITE_SENT", MASKED_EMAIL)}
    assert sandbox.participant(ann["id"])["inviteCount"] == 2


def test_send_participant_invites_by_email_url_encodes_the_email(sandbox, client, ann):
    # Given Ann
    # When she invites a friend through her email
    result = client.send_participant_invites_by_email(
        ANN, email_addresses=["z@example.com"], message_text="{{referrerMessage}}", subject_text="Hi"
    )
    # Then the email was encoded, and one invite was sent
    assert f"{BASE}/participant/{ANN_ENCODED}/invites" in sandbox.raw_uris
    assert result["invitesSent"] == 1
    assert sandbox.sent_invites[0].email_addresses == ["z@example.com"]


def test_send_invites_without_a_subject_is_a_validation_error(sandbox, client, ann):
    # Given Ann
    # When invites are sent with an empty subject, Then a validation error names subjectText
    with pytest.raises(ValidationError) as raised:
        client.send_participant_invites_by_id(
            ann["id"], email_addresses=["z@example.com"], message_text="hi", subject_text=""
        )
    assert raised.value.message.startswith("GrowSurf rejected the request")
    assert sandbox.sent_invites == []


# -- errors ----------------------------------------------------------------------------------------


def test_an_unknown_campaign_raises_campaign_not_found(sandbox, fast_policy):
    # Given a client for a campaign the account does not have
    other = GrowSurfClient(KEY, "nosuch", base_url=sandbox.base_url, policy=fast_policy)
    # When anything of it is read, Then CampaignNotFound
    with pytest.raises(CampaignNotFound):
        other.get_participants()


def test_an_unknown_participant_raises_participant_not_found(client):
    # Given no participant with that email
    # When it is read, Then ParticipantNotFound
    with pytest.raises(ParticipantNotFound):
        client.get_participant_by_email("ghost@example.com")


def test_an_invalid_email_raises_a_validation_error_naming_email(client):
    # Given an address that is not an email
    # When it is added, Then a validation error names the email field
    with pytest.raises(ValidationError) as raised:
        client.add_participant("not-an-email")
    assert raised.value.message.startswith("GrowSurf rejected the request")


def test_a_limit_over_100_raises_a_validation_error_naming_limit(client):
    # Given a page size over the documented maximum
    # When participants are listed with it, Then a validation error names limit
    with pytest.raises(ValidationError) as raised:
        client.get_participants(limit=101)
    assert raised.value.message.startswith("GrowSurf rejected the request")


def test_a_wrong_key_raises_provider_auth_failed_without_the_key(sandbox, fast_policy):
    # Given a client with a wrong key
    wrong = "gs-wrong-key-0000000000"
    client = GrowSurfClient(wrong, CAMPAIGN, base_url=sandbox.base_url, policy=fast_policy)
    # When it calls GrowSurf, Then ProviderAuthFailed, whose message names no key
    with pytest.raises(ProviderAuthFailed) as raised:
        client.get_campaign()
    assert wrong not in str(raised.value)
    assert sandbox.received[0].header("Authorization") == f"Bearer {wrong}"


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.get_participant_by_id("nobody"),
        lambda c: c.add_participant("bad"),
        lambda c: c.fulfill_participant_reward("nope42"),
        lambda c: c.get_leaderboard(leaderboard_type="WEEKLY"),
    ],
)
def test_no_error_message_carries_the_key(sandbox, client, call):
    # Given a request the sandbox refuses
    # When the client raises, Then the key is nowhere in the error
    with pytest.raises(HubError) as raised:
        call(client)
    assert KEY not in str(raised.value)
    assert KEY not in repr(raised.value.to_dict())
    # And the key was never in a URL
    assert all(KEY not in uri for uri in sandbox.raw_uris)


def test_a_provider_echoing_the_key_has_it_masked(sandbox, client):
    # Given GrowSurf answering an error that quotes the key
    sandbox.inject(400, body={"success": False, "code": "BAD_REQUEST", "message": f"bad key {KEY}"})
    # When a call fails with it, Then the message is masked
    with pytest.raises(ValidationError) as raised:
        client.get_campaign()
    assert KEY not in raised.value.message
    assert "***" in raised.value.message


# -- rate limit ------------------------------------------------------------------------------------


def test_a_429_is_waited_out_for_the_advertised_milliseconds_and_succeeds(sandbox, client):
    # Given one 429 asking for a 200 ms wait, the GrowSurf way
    sandbox.inject(
        429,
        headers={"GrowSurf-Retry-After-Second-Milliseconds": "200"},
        body={"success": False, "code": "RATE_LIMIT", "message": "Too many requests"},
    )
    # When a call is made
    started = time.monotonic()
    result = client.get_campaigns()
    # Then it waited about 200 ms, retried once, and succeeded
    assert time.monotonic() - started >= 0.19
    assert len(sandbox.requests_to("/campaigns", "GET")) == 2
    assert result["campaigns"][0]["id"] == CAMPAIGN


def test_the_sandbox_rate_limit_is_waited_out(start_sandbox, fast_policy):
    # Given a sandbox allowing one request per 300 ms
    sandbox = start_sandbox(GrowSurfSandbox(api_key=KEY, campaign_id=CAMPAIGN, rate=SandboxRate(1, 0.3)))
    client = GrowSurfClient(KEY, CAMPAIGN, base_url=sandbox.base_url, policy=fast_policy)
    # When two calls are made back to back
    client.get_campaign()
    started = time.monotonic()
    result = client.get_campaign()
    # Then the second was refused once, waited out, and succeeded
    assert sandbox.throttled == 1
    assert time.monotonic() - started >= 0.2
    assert result["id"] == CAMPAIGN


def test_a_429_that_does_not_clear_raises_provider_throttled(sandbox, client):
    # Given GrowSurf answering 429 to every attempt
    sandbox.inject(429, times=10, headers={"GrowSurf-Retry-After-Second-Milliseconds": "20"})
    # When a call is made, Then ProviderThrottled after the policy's attempts
    with pytest.raises(ProviderThrottled):
        client.get_campaign()
    assert len(sandbox.received) == 4


def test_the_sandbox_429_is_growsurfs(start_sandbox):
    # Given a sandbox allowing one request per 5 s
    sandbox = start_sandbox(GrowSurfSandbox(api_key=KEY, campaign_id=CAMPAIGN, rate=SandboxRate(1, 5)))
    headers = {"Authorization": f"Bearer {KEY}"}
    requests.get(f"{sandbox.base_url}/campaigns", headers=headers, timeout=2)
    # When a second request comes at once
    response = requests.get(f"{sandbox.base_url}/campaigns", headers=headers, timeout=2)
    # Then it is 429 with code RATE_LIMIT and the milliseconds until the 5-second window frees
    assert response.status_code == 429
    assert response.json()["code"] == "RATE_LIMIT"
    assert response.json()["success"] is False
    assert 4000 < int(response.headers["GrowSurf-Retry-After-Second-Milliseconds"]) <= 5000


def test_the_sandbox_minute_window_has_its_own_header(start_sandbox):
    # Given a sandbox allowing plenty per 5 s but two per minute
    sandbox = start_sandbox(GrowSurfSandbox(api_key=KEY, campaign_id=CAMPAIGN, rate=SandboxRate(30, 5), per_minute=2))
    headers = {"Authorization": f"Bearer {KEY}"}
    for _ in range(2):
        requests.get(f"{sandbox.base_url}/campaigns", headers=headers, timeout=2)
    # When a third request comes within the minute
    response = requests.get(f"{sandbox.base_url}/campaigns", headers=headers, timeout=2)
    # Then only the minute window is named, with nearly a minute to wait
    assert response.status_code == 429
    assert "GrowSurf-Retry-After-Second-Milliseconds" not in response.headers
    assert 55_000 < int(response.headers["GrowSurf-Retry-After-Minute-Milliseconds"]) <= 60_000


def test_a_missing_key_is_401_unauthorized(sandbox):
    # Given a request without Authorization
    # When it reaches the sandbox
    response = requests.get(f"{sandbox.base_url}/campaigns", timeout=2)
    # Then it is 401, with the body of the sandbox's error style (GrowSurf documents none)
    assert response.status_code == 401
    expected = {
        "empty": b"",
        "message": b'{"success": false, "message": "Missing or invalid API key"}',
        "coded": b'{"success": false, "code": "UNAUTHORIZED", "message": "Missing or invalid API key"}',
    }
    assert response.content == expected[sandbox.error_style]


# -- the sandbox's own behaviour -------------------------------------------------------------------


def test_ranks_follow_referral_counts_then_sign_up_order(sandbox, ann):
    # Given Ann, Cat and Dee, and Cat then earning two referrals, Dee one
    cat = sandbox.seed_participant("cat@example.com")
    dee = sandbox.seed_participant("dee@example.com")
    refer(sandbox, cat["id"], 2)
    refer(sandbox, dee["id"], 1)
    # When their ranks are read, Then Cat leads, then Dee, then Ann (ties keep sign-up order)
    ranks = {sandbox.participant(p["id"])["email"]: sandbox.participant(p["id"])["rank"] for p in (ann, cat, dee)}
    assert ranks == {"cat@example.com": 1, "dee@example.com": 2, ANN: 3}


def test_rewards_come_every_reward_every_referrals(start_sandbox):
    # Given a campaign rewarding every second referral
    sandbox = start_sandbox(GrowSurfSandbox(api_key=KEY, campaign_id=CAMPAIGN, reward_every=2))
    ann = sandbox.seed_participant(ANN)
    # When three referrals are credited
    friends = refer(sandbox, ann["id"], 3)
    # Then one reward came, with the second referral
    assert [r["referredId"] for r in sandbox.rewards_of(ann["id"])] == [friends[1]["id"]]
    assert sandbox.participant(ann["id"])["isWinner"] is True


def test_without_manual_approval_rewards_are_approved_at_once(start_sandbox):
    # Given a campaign approving rewards automatically
    sandbox = start_sandbox(GrowSurfSandbox(api_key=KEY, campaign_id=CAMPAIGN, manual_approval=False))
    ann = sandbox.seed_participant(ANN)
    # When a referral is credited
    refer(sandbox, ann["id"], 1)
    # Then the reward is approved and available, still to fulfill
    (reward,) = sandbox.rewards_of(ann["id"])
    assert (reward["status"], reward["approved"], reward["isAvailable"]) == ("PENDING", True, True)


def test_a_sign_up_referral_trigger_awards_credit_on_joining(start_sandbox, fast_policy):
    # Given a campaign whose referral trigger is "Sign Up"
    sandbox = start_sandbox(GrowSurfSandbox(api_key=KEY, campaign_id=CAMPAIGN, referral_trigger="SIGN_UP"))
    client = GrowSurfClient(KEY, CAMPAIGN, base_url=sandbox.base_url, policy=fast_policy)
    ann = sandbox.seed_participant(ANN)
    # When a friend joins through Ann, without a referralStatus
    friend = client.add_participant("friend@example.com", referred_by=ann["id"])
    # Then the credit is awarded at once, and triggering it again credits nothing more
    assert friend["referralStatus"] == "CREDIT_AWARDED"
    assert sandbox.participant(ann["id"])["referralCount"] == 1
    assert client.trigger_referral_by_id(friend["id"])["success"] is True
    assert sandbox.participant(ann["id"])["referralCount"] == 1


def test_a_qualifying_action_referral_trigger_leaves_credit_pending(start_sandbox, fast_policy):
    # Given a campaign whose referral trigger is "Sign up + Qualifying Action"
    sandbox = start_sandbox(
        GrowSurfSandbox(api_key=KEY, campaign_id=CAMPAIGN, referral_trigger="SIGN_UP_QUALIFYING_ACTION")
    )
    client = GrowSurfClient(KEY, CAMPAIGN, base_url=sandbox.base_url, policy=fast_policy)
    ann = sandbox.seed_participant(ANN)
    # When a friend joins through Ann, without a referralStatus
    friend = client.add_participant("friend@example.com", referred_by=ann["id"])
    # Then the credit is pending, and Ann has none yet
    assert friend["referralStatus"] == "CREDIT_PENDING"
    assert sandbox.participant(ann["id"])["referralCount"] == 0


def test_an_unknown_referred_by_on_add_is_ignored(client):
    # Given no participant 'zzzzzz'
    # When someone joins naming it, Then they join without a referrer
    result = client.add_participant("x@example.com", referred_by="zzzzzz")
    assert result["referrer"] is None
    assert result["referralSource"] == "DIRECT"


def test_the_leaderboard_refuses_a_limit_of_one(client, ann):
    # Given the documented "greater than 1" for the leaderboard's limit
    # When a page of one is asked for, Then a validation error names limit
    with pytest.raises(ValidationError) as raised:
        client.get_leaderboard(limit=1)
    assert raised.value.message.startswith("GrowSurf rejected the request")


def test_an_unknown_next_id_is_a_validation_error(client, ann):
    # Given no participant 'zzzzzz'
    # When a page is asked to start there, Then a validation error names nextId
    with pytest.raises(ValidationError) as raised:
        client.get_participants(next_id="zzzzzz")
    assert raised.value.message.startswith("GrowSurf rejected the request")


def test_monthly_and_previous_month_leaderboards(start_sandbox, fast_policy):
    # Given a clock in March, Ann (from January) credited twice in February, Cat credited once in March
    march = int(datetime(2024, 3, 15, tzinfo=UTC).timestamp() * 1000)
    sandbox = start_sandbox(
        GrowSurfSandbox(api_key=KEY, campaign_id=CAMPAIGN, clock=lambda: march, optional_fields=True)
    )
    client = GrowSurfClient(KEY, CAMPAIGN, base_url=sandbox.base_url, policy=fast_policy)
    ann = sandbox.seed_participant(ANN, created_at=datetime(2024, 1, 2, tzinfo=UTC))
    cat = sandbox.seed_participant("cat@example.com", created_at=datetime(2024, 3, 1, tzinfo=UTC))
    february = int(datetime(2024, 2, 10, tzinfo=UTC).timestamp() * 1000)
    for friend in refer(sandbox, ann["id"], 2, convert=False):
        sandbox.trigger(friend["id"], at=february)
    refer(sandbox, cat["id"], 1)
    # When the three leaderboards are read
    all_time = client.get_leaderboard(leaderboard_type="ALL_TIME")["participants"]
    this_month = client.get_leaderboard(leaderboard_type="CURRENT_MONTH")["participants"]
    last_month = client.get_leaderboard(leaderboard_type="PREV_MONTH")["participants"]
    # Then all-time Ann leads; this month Cat leads; last month only those who existed, Ann first
    assert [p["email"] for p in all_time[:2]] == [ANN, "cat@example.com"]
    assert [p["email"] for p in this_month[:1]] == ["cat@example.com"]
    assert (this_month[0]["monthlyReferralCount"], this_month[0]["monthlyRank"]) == (1, 1)
    assert [p["email"] for p in last_month] == [ANN]
    assert (last_month[0]["prevMonthlyReferralCount"], last_month[0]["prevMonthlyRank"]) == (2, 1)
    assert this_month[0]["prevMonthlyRank"] == -1


def test_the_impression_leaderboard_orders_by_impressions(sandbox, client):
    # Given two participants with impressions
    sandbox.seed_participant("few@example.com", impression_count=3)
    sandbox.seed_participant("many@example.com", impression_count=9)
    # When the impression leaderboard is read, Then the one with more leads
    board = client.get_leaderboard(leaderboard_type="TOTAL_IMPRESSION_COUNT")["participants"]
    assert [p["email"] for p in board] == ["many@example.com", "few@example.com"]


def test_an_invite_is_dropped_when_the_invitee_joins_through_the_inviter(sandbox, client, ann):
    # Given Ann invited x@example.com
    client.send_participant_invites_by_id(
        ann["id"], email_addresses=["x@example.com"], message_text="m", subject_text="s"
    )
    # When x joins referred by Ann, credit pending
    client.add_participant("x@example.com", referred_by=ann["id"], referral_status="CREDIT_PENDING")
    # Then Ann's list holds the referral, not the invite any more
    referrals = client.get_participant_referrals_by_id(ann["id"])["referrals"]
    assert [(r["email"], r["referralStatus"]) for r in referrals] == [("x@example.com", "CREDIT_PENDING")]


def test_an_email_filter_never_returns_invites(sandbox, client, ann):
    # Given an invite to x@example.com
    client.send_participant_invites_by_id(
        ann["id"], email_addresses=["x@example.com"], message_text="m", subject_text="s"
    )
    # When referrals are filtered by that email, Then nothing comes back (invites are private)
    assert client.get_referrals(email="x@example.com")["referrals"] == []


def test_an_unknown_referral_status_filter_is_ignored(client, bob):
    # Given Bob's pending referral
    # When referrals are filtered on a status GrowSurf does not know, Then the filter is ignored
    assert [r["id"] for r in client.get_referrals(referral_status="WHATEVER")["referrals"]] == [bob["id"]]


def test_a_high_fraud_risk_is_shown_on_the_participant(sandbox, client, ann):
    # Given Ann marked as a high fraud risk
    sandbox.set_fraud(ann["id"], "HIGH", "DUPLICATE_IP")
    # When she is read, Then her fraud fields say so
    result = client.get_participant_by_id(ann["id"])
    assert (result["fraudRiskLevel"], result["fraudReasonCode"]) == ("HIGH", "DUPLICATE_IP")


def test_control_routes_seed_state_over_http(sandbox):
    # Given the sandbox's control routes
    control = sandbox.base_url.removesuffix("/v2") + "/_sandbox"
    # When a referrer and a friend are created, the friend converted, a reward granted and a fraud set
    ann = requests.post(f"{control}/participants", json={"email": ANN, "firstName": "Ann"}, timeout=2).json()
    friend = requests.post(
        f"{control}/participants", json={"email": "f@example.com", "referrer": ANN}, timeout=2
    ).json()
    converted = requests.post(f"{control}/conversions", json={"participant": "f@example.com"}, timeout=2)
    granted = requests.post(f"{control}/rewards", json={"participant": ann["id"], "approved": True}, timeout=2)
    fraud = requests.post(f"{control}/fraud", json={"participant": friend["id"]}, timeout=2)
    listed = requests.get(f"{control}/participants", timeout=2).json()
    # Then the state is there, as the API would show it
    assert converted.json()["success"] is True
    assert granted.status_code == 201 and granted.json()["approved"] is True
    assert fraud.json()["fraudRiskLevel"] == "HIGH"
    assert [(p["email"], p["referralCount"]) for p in listed] == [(ANN, 1), ("f@example.com", 0)]
    assert len(sandbox.rewards_of(ann["id"])) == 2


def test_a_control_route_error_is_400_with_the_reason(sandbox):
    # Given the control routes
    control = sandbox.base_url.removesuffix("/v2") + "/_sandbox"
    # When a friend is seeded naming a referrer nobody is, Then 400 says so
    response = requests.post(
        f"{control}/participants", json={"email": "f@example.com", "referrer": "zzzzzz"}, timeout=2
    )
    assert response.status_code == 400
    assert "zzzzzz" in response.json()["error"]


def test_reset_forgets_participants_rewards_and_invites(sandbox, client, ann):
    # Given a participant with a reward and an invite
    sandbox.grant_reward(ann["id"])
    client.send_participant_invites_by_id(
        ann["id"], email_addresses=["x@example.com"], message_text="m", subject_text="s"
    )
    # When the sandbox is reset
    sandbox.reset()
    # Then nothing is left
    assert (sandbox.participants, sandbox.rewards, sandbox.invites, sandbox.received) == ({}, {}, {}, [])


def test_add_participant_answers_200_for_a_new_and_for_an_existing_email(sandbox):
    # Given the sandbox's choice (the document shows only the body): 200 in both cases
    url = f"{sandbox.base_url}/campaign/{CAMPAIGN}/participant"
    headers = {"Authorization": f"Bearer {KEY}"}
    # When the same email is added twice
    first = requests.post(url, json={"email": "new@example.com"}, headers=headers, timeout=2)
    second = requests.post(url, json={"email": "new@example.com"}, headers=headers, timeout=2)
    # Then both answers are 200 with the same participant
    assert (first.status_code, second.status_code) == (200, 200)
    assert first.json()["id"] == second.json()["id"]


# -- the program: referral credit, convert, 404s whatever their body -------------------------------


def program(client: GrowSurfClient, credit_referrals: str = "on_conversion") -> GrowSurfProgram:
    config = CampaignConfig.model_validate(
        {"provider": "growsurf", "campaign_id": CAMPAIGN, "key": {"value": KEY}, "credit_referrals": credit_referrals}
    )
    return GrowSurfProgram("spring", config, client)


@pytest.mark.parametrize(
    ("credit_referrals", "status", "count"),
    [("on_conversion", "CREDIT_PENDING", 0), ("on_signup", "CREDIT_AWARDED", 1)],
)
def test_adding_a_referred_participant_sends_the_referral_status_of_credit_referrals(
    sandbox, client, ann, credit_referrals, status, count
):
    # Given a campaign crediting referrals on conversion or on sign-up
    hub = program(client, credit_referrals)
    # When a friend of Ann's is added
    friend, created = hub.add_participant(AddParticipantRequest(email="fay@example.com", referrer=ann["id"]))
    # Then GrowSurf received that referralStatus, whatever its referral trigger, and Ann's credit follows
    (post,) = sandbox.requests_to(f"{BASE}/participant", "POST")
    assert post.json["referralStatus"] == status
    assert (created, friend.referrer.referral_code) == (True, ann["id"])
    assert sandbox.participant(ann["id"])["referralCount"] == count


def test_adding_a_participant_nobody_referred_sends_no_referral_status(sandbox, client):
    # Given a campaign crediting on conversion
    # When someone joins directly
    program(client).add_participant(AddParticipantRequest(email="solo@example.com"))
    # Then no referralStatus was sent (it is the referrer's credit status)
    (post,) = sandbox.requests_to(f"{BASE}/participant", "POST")
    assert "referralStatus" not in post.json


@pytest.mark.parametrize("body", [None, {"error": "Resource missing"}, {"message": "Not Found"}])
def test_a_new_email_is_added_whatever_body_the_lookups_404_has(sandbox, client, body):
    # Given GrowSurf answering the participant lookup 404 with a body the client has never seen
    sandbox.inject(404, body=body if body is not None else "", path="/participant/", method="GET")
    # When a new email is added
    participant, created = program(client).add_participant(AddParticipantRequest(email="new@example.com"))
    # Then the 404 meant "not there", and the participant was added
    assert (participant.email, created) == ("new@example.com", True)
    assert len(sandbox.requests_to(f"{BASE}/participant", "POST")) == 1


def test_a_404_on_a_reward_path_is_reward_not_found_whatever_its_body(sandbox, client):
    # Given GrowSurf answering a reward call 404 with an unseen body
    sandbox.inject(404, body={"oops": True}, path="/reward/")
    # When the reward is approved, Then RewardNotFound
    with pytest.raises(RewardNotFound):
        client.approve_participant_reward("abc123")


def test_a_404_on_add_participant_is_campaign_not_found(sandbox, fast_policy):
    # Given a client of a campaign id GrowSurf does not have
    other = GrowSurfClient(KEY, "nosuch", base_url=sandbox.base_url, policy=fast_policy)
    # When a participant is added to it, Then CampaignNotFound (the add path names no participant)
    with pytest.raises(CampaignNotFound):
        other.add_participant("x@example.com")


def test_convert_of_a_pending_referral_triggers_it_and_answers_credited(sandbox, client, ann, bob):
    # Given Bob's pending referral
    # When he converts
    result = program(client).convert("bob@example.com")
    # Then the trigger was posted, Ann credited, and the answer says so
    assert len(sandbox.requests_to(f"{BASE}/participant/bob@example.com/ref", "POST")) == 1
    assert (result.converted, result.credited, result.referral_status) == (True, True, "CREDIT_AWARDED")
    assert result.reason is None
    assert result.referrer is not None and result.referrer.referral_code == ann["id"]
    assert sandbox.participant(ann["id"])["referralCount"] == 1


def test_convert_past_the_expiry_window_answers_not_credited_with_the_reason(sandbox, client, ann):
    # Given a credit window of an hour and a friend who joined two hours ago
    sandbox.configure(creditExpiryMs=3_600_000)
    sandbox.seed_participant(
        "slow@example.com", referrer=ann["id"], referral_status="CREDIT_PENDING", created_at=sandbox.clock() - 7_200_000
    )
    # When the friend converts
    result = program(client).convert("slow@example.com")
    # Then GrowSurf answered success, but the hub read back that nobody was credited, and says why
    assert (result.credited, result.referral_status) == (False, "CREDIT_EXPIRED")
    assert result.reason is not None and result.reason.startswith("CREDIT_EXPIRED")
    assert sandbox.participant(ann["id"])["referralCount"] == 0


def test_convert_of_a_credited_referral_is_already_converted_and_triggers_nothing(sandbox, client, ann, bob):
    # Given Bob's referral credited already
    sandbox.trigger(bob["id"])
    # When he converts, Then 409 ALREADY_CONVERTED, and no trigger reached GrowSurf
    with pytest.raises(AlreadyConverted):
        program(client).convert("bob@example.com")
    assert sandbox.requests_to("/ref", "POST") == []
    assert sandbox.participant(ann["id"])["referralCount"] == 1


def test_convert_of_a_participant_nobody_referred_is_a_409_not_referred(sandbox, client, ann):
    # Given Ann, who joined directly
    # When she converts, Then 409 NOT_REFERRED names why, and no trigger reached GrowSurf
    with pytest.raises(Conflict) as raised:
        program(client).convert(ANN)
    assert raised.value.code == "NOT_REFERRED"
    assert raised.value.details == [{"field": "email", "reason": "the participant has no referrer"}]
    assert sandbox.requests_to("/ref", "POST") == []


def test_convert_of_an_unknown_email_is_participant_not_found(client):
    # Given no such participant
    # When it converts, Then ParticipantNotFound
    with pytest.raises(ParticipantNotFound):
        program(client).convert("ghost@example.com")


def test_the_add_fields_are_the_documented_add_participant_fields(client):
    # Given GrowSurf's add participant body: email, referredBy, referralStatus, firstName, lastName,
    # ipAddress, metadata
    # When the program's placed fields are read, Then they are those (referredBy is the hub's referrer)
    assert GrowSurfProgram.add_fields == {"firstName", "lastName", "referrer", "metadata", "ipAddress"}


@pytest.mark.parametrize("field", ["userAgent", "utmSource", "utmCampaign", "signedUpAt"])
def test_a_field_growsurf_has_no_place_for_is_refused_before_any_call(sandbox, client, field):
    # Given a sign-up carrying a field GrowSurf's add participant has no place for
    value = "2024-01-01T00:00:00Z" if field == "signedUpAt" else "x"
    request = AddParticipantRequest.model_validate({"email": "u@example.com", field: value})
    # When it is added, Then a validation error names the field and GrowSurf, and nothing was sent
    with pytest.raises(ValidationError) as raised:
        program(client).add_participant(request)
    assert raised.value.details == [{"field": field, "reason": "GrowSurf has no place for this field"}]
    assert sandbox.received == []
