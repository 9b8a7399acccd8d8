"""ViralLoopsClient over real HTTP against the Viral Loops sandbox, under each of the sandbox's readings
of what the document leaves open, and the sandbox's own behaviour."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest
import requests

from hub.domain.errors import (
    AlreadyConverted,
    AlreadyRedeemed,
    EmailTaken,
    HubError,
    NotFound,
    ParticipantNotFound,
    ProviderAuthFailed,
    ProviderThrottled,
    RewardNotFound,
    ValidationError,
)
from hub.providers.viral_loops.client import ViralLoopsClient
from local.sandbox.base import SandboxRate
from local.sandbox.viral_loops import READINGS, Readings, ViralLoopsSandbox

KEY = "vl-secret-token-7f3a9c"
CAMPAIGN = "cl2ad12345a1ab601234"
P = "/api/v2/campaign/participant"
REWARDS = "/v2/campaign/participant/rewards"


@pytest.fixture(scope="module")
def running_sandbox() -> Iterator[ViralLoopsSandbox]:
    """One server for the module: stopping one takes half a second (werkzeug's shutdown poll)."""
    sandbox = ViralLoopsSandbox(api_key=KEY, campaign_id=CAMPAIGN)
    sandbox.start()
    yield sandbox
    sandbox.stop()


@pytest.fixture(params=list(READINGS))
def readings(request) -> Readings:
    """Each reading of the document's silences (local/sandbox/viral_loops.py)."""
    return READINGS[request.param]


@pytest.fixture
def sandbox(running_sandbox, readings) -> ViralLoopsSandbox:
    """The module's sandbox under ``readings``, with no state, faults, requests or rate limit left."""
    running_sandbox.set_rate_limit(None)
    running_sandbox.reset()
    running_sandbox.set_readings(readings)
    return running_sandbox


@pytest.fixture
def client(sandbox, fast_policy) -> ViralLoopsClient:
    return ViralLoopsClient(
        KEY, CAMPAIGN, base_url=sandbox.base_url, rewards_url=sandbox.rewards_base_url, policy=fast_policy
    )


@pytest.fixture
def referred(sandbox) -> tuple[dict, dict]:
    """Alex, and Sam who signed up with Alex's referral code."""
    alex = sandbox.seed_participant("alex@example.com", first_name="Alex", last_name="Lee")
    sam = sandbox.seed_participant("sam@example.com", first_name="Sam", referrer=alex["referralCode"])
    return alex, sam


def only(sandbox: ViralLoopsSandbox, suffix: str, method: str):
    received = sandbox.requests_to(suffix, method)
    assert len(received) == 1
    return received[0]


# -- hosts ----------------------------------------------------------------------------------------


def test_pending_rewards_go_to_the_rewards_host_not_the_app_host(sandbox, client, referred):
    # Given a client configured with both of the document's hosts
    # When pending rewards are asked for
    client.get_pending_rewards("alex@example.com")
    # Then the request reached the rewards base (…/v2/campaign/participant/rewards/pending), not /api/v2
    (received,) = sandbox.received
    assert received.path == f"{REWARDS}/pending"


def test_redeem_reward_goes_to_the_rewards_host(sandbox, client, referred):
    # Given a pending reward
    granted = sandbox.grant_reward("alex@example.com")
    # When it is redeemed
    client.redeem_reward("alex@example.com", granted["milestoneId"], granted["rewardId"])
    # Then the POST reached the rewards base
    assert [(r.method, r.path) for r in sandbox.received] == [("POST", f"{REWARDS}/redeem")]


def test_the_app_host_does_not_answer_the_reward_paths(sandbox, referred):
    # Given the old, wrong place of the reward endpoints (the app host's /api/v2)
    # When pending rewards are asked for there
    response = requests.get(
        f"{sandbox.base_url}/v2/campaign/participant/rewards/pending",
        params={"email": "alex@example.com"},
        headers={"x-api-token": KEY},
        timeout=5,
    )
    # Then nothing is served there
    assert response.status_code == 404


def test_a_client_pointed_only_at_the_app_host_does_not_reach_rewards(sandbox, fast_policy, referred):
    # Given a client whose rewards base is the app host (the old behaviour)
    wrong = ViralLoopsClient(KEY, CAMPAIGN, base_url=sandbox.base_url, rewards_url=sandbox.base_url, policy=fast_policy)
    # When pending rewards are asked for / Then the app host has no such endpoint
    with pytest.raises(HubError):
        wrong.get_pending_rewards("alex@example.com")


# -- emails ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "suffix", "method"),
    [
        (lambda c: c.get_participant(" Alex@Example.COM "), P, "GET"),
        (lambda c: c.get_participant_data("ALEX@example.com"), f"{P}/data", "GET"),
        (lambda c: c.get_participant_referrals("Alex@Example.com"), f"{P}/referrals", "GET"),
        (lambda c: c.get_participant_rank("Alex@Example.com "), f"{P}/rank", "GET"),
        (lambda c: c.get_referrer_by_participant("SAM@example.com"), f"{P}/referrer", "GET"),
        (
            lambda c: c.get_referrer_by_referred_participant(" Sam@Example.com"),
            "/api/v3/campaign/participant/referrer",
            "GET",
        ),
        (lambda c: c.get_pending_rewards("Alex@EXAMPLE.com"), f"{REWARDS}/pending", "GET"),
    ],
)
def test_every_query_email_is_sent_lower_case_without_whitespace(sandbox, client, referred, call, suffix, method):
    # Given participants stored under lower-case emails
    # When a call names one in mixed case with whitespace (a campaign without leaderboard refuses rank: the
    # request is what this test is about)
    with contextlib.suppress(ValidationError):
        call(client)
    # Then the provider received the normalized email, as the document asks
    assert only(sandbox, suffix, method).query["email"] in ("alex@example.com", "sam@example.com")


@pytest.mark.parametrize(
    ("call", "suffix", "method", "fields"),
    [
        (lambda c: c.add_participant(" New@Example.com "), P, "POST", {"email": "new@example.com"}),
        (
            lambda c: c.update_participant("SAM@example.com", new_email=" Samuel@Example.com"),
            P,
            "PUT",
            {"email": "sam@example.com", "newEmail": "samuel@example.com"},
        ),
        (lambda c: c.convert_participant("Sam@Example.com"), f"{P}/convert", "POST", {"email": "sam@example.com"}),
        (
            lambda c: c.flag_participant(" ALEX@example.com", "spam"),
            "/participant/flag",
            "POST",
            {"email": "alex@example.com"},
        ),
    ],
)
def test_every_body_email_is_sent_lower_case_without_whitespace(
    sandbox, client, referred, call, suffix, method, fields
):
    # Given participants stored under lower-case emails
    # When a write names one in mixed case with whitespace
    call(client)
    # Then the body carried the normalized emails
    body = only(sandbox, suffix, method).json
    assert {name: body[name] for name in fields} == fields


def test_a_mixed_case_email_finds_the_lower_case_participant_under_every_reading(sandbox, client, referred):
    # Given Alex stored as alex@example.com (matched exactly or folded, per the reading)
    # When the client asks for ALEX@Example.com
    result = client.get_participant_data("ALEX@Example.com")
    # Then Viral Loops found Alex
    assert result["data"]["firstName"] == "Alex"


# -- add participant ------------------------------------------------------------------------------


def test_add_participant_posts_the_documented_body_with_the_token_header(sandbox, client, referred):
    # Given a participant whose referral code the newcomer brings
    alex, _ = referred
    # When a participant is added with every documented field
    client.add_participant(
        "new@example.com", first_name="Nia", referrer=alex["referralCode"], custom_fields={"c": "US"}
    )
    # Then the sandbox got the documented POST (no lastName: the add section has none), with x-api-token
    received = only(sandbox, P, "POST")
    assert received.header("x-api-token") == KEY
    assert received.json == {
        "campaignId": CAMPAIGN,
        "email": "new@example.com",
        "firstName": "Nia",
        "referrer": alex["referralCode"],
        "customFields": {"c": "US"},
    }
    # And the participant is there, referred by Alex
    assert sandbox.participant("new@example.com")["referrer"]["referralCode"] == alex["referralCode"]


def test_add_participant_leaves_unset_fields_out_of_the_body(sandbox, client):
    # Given nothing but an email
    # When the participant is added
    client.add_participant("solo@example.com")
    # Then only campaignId and email were sent
    assert only(sandbox, P, "POST").json == {"campaignId": CAMPAIGN, "email": "solo@example.com"}


def test_add_participant_with_an_existing_email_raises_email_taken(sandbox, client):
    # Given a participant already there
    sandbox.seed_participant("alex@example.com")
    # When it is added again, Then the documented 409 (duplicate submission) is EmailTaken, whatever its body
    with pytest.raises(EmailTaken):
        client.add_participant("alex@example.com")


def test_add_participant_with_an_unknown_referral_code_raises_validation_error(client):
    # Given no participant holds the code / When / Then
    with pytest.raises(ValidationError):
        client.add_participant("new@example.com", referrer="nope123")


# -- get / update / data --------------------------------------------------------------------------


def test_get_participant_sends_email_and_campaign_id_in_the_query(sandbox, client, referred):
    # Given a referred participant
    _, sam = referred
    # When it is fetched
    result = client.get_participant("sam@example.com")
    # Then the query named campaign and email, with the token header
    received = only(sandbox, P, "GET")
    assert received.query == {"campaignId": CAMPAIGN, "email": "sam@example.com"}
    assert received.header("x-api-token") == KEY
    # And the answer carries the referral code (the one field every reading has)
    assert result["data"]["referralCode"] == sam["referralCode"]


def test_get_participant_answers_no_invented_field_by_default(sandbox, client, referred, readings):
    # Given the sandbox's reading of GET participant's undocumented answer
    # When Sam is fetched
    data = client.get_participant("sam@example.com")["data"]
    # Then the least convenient reading has none of _id, shareUrl, flagged, rank, referrer, email
    invented = {"_id", "shareUrl", "flagged", "rank", "referrer"}
    if readings.participant_answer == "bare":
        assert not invented & set(data)
        assert "email" not in data
    elif readings.participant_answer == "full":
        assert invented <= set(data)


def test_get_participant_of_an_unknown_email_raises_participant_not_found(client):
    # Given an empty campaign / When / Then: a 404 on a participant path, whatever its body
    with pytest.raises(ParticipantNotFound):
        client.get_participant("ghost@example.com")


def test_update_participant_puts_the_token_and_fields_in_the_body(sandbox, client, referred, readings):
    # Given a participant with custom data
    sandbox.participants["sam@example.com"].custom_fields = {"plan": "pro"}
    # When its email, names and custom fields are updated
    result = client.update_participant(
        "sam@example.com",
        new_email="samuel@example.com",
        first_name="Samuel",
        last_name="Stone",
        custom_fields={"city": "Amsterdam"},
        send_emails=False,
    )
    # Then the PUT body carried apiToken, campaignId and the fields, nothing unset
    assert only(sandbox, P, "PUT").json == {
        "apiToken": KEY,
        "campaignId": CAMPAIGN,
        "email": "sam@example.com",
        "newEmail": "samuel@example.com",
        "firstName": "Samuel",
        "lastName": "Stone",
        "customFields": {"city": "Amsterdam"},
        "sendEmails": False,
    }
    # And Sam is renamed, still referred by Alex; the last name and custom data changed as the readings have it
    state = sandbox.participant("samuel@example.com")
    assert state["referrer"]["email"] == "alex@example.com"
    assert state["lastName"] == ("Stone" if readings.update_last_name == "kept" else None)
    merged = {"plan": "pro", "city": "Amsterdam"} if readings.custom_fields_update == "merge" else {"city": "Amsterdam"}
    assert state["customFields"] == merged
    # And the answer is the sample's (only what the request changed) or the participant, per the reading
    if readings.update_answer == "changed":
        assert result == {"status": "success", "data": {"firstName": "Samuel", "customFields": merged}}
    else:
        assert result["data"]["referralCode"] == state["referralCode"]


def test_update_participant_to_a_taken_email_raises_email_taken(client, referred):
    # Given two participants / When one takes the other's email, Then the documented 409 is EmailTaken
    with pytest.raises(EmailTaken):
        client.update_participant("sam@example.com", new_email="alex@example.com")


def test_update_participant_of_an_unknown_email_raises_participant_not_found(client):
    # Given no such participant / When / Then the documented 404
    with pytest.raises(ParticipantNotFound):
        client.update_participant("ghost@example.com", first_name="G")


def test_get_participant_data_returns_counts_rewards_and_referred_users(sandbox, client, referred):
    # Given Alex's referral Sam converted (one reward per conversion)
    sandbox.convert("sam@example.com")
    # When Alex's data is fetched
    data = client.get_participant_data("alex@example.com")["data"]
    # Then the documented query was sent and the data reflects the conversion
    assert only(sandbox, f"{P}/data", "GET").query == {"campaignId": CAMPAIGN, "email": "alex@example.com"}
    assert data["referralCount"] == 1
    assert data["referredUsers"] == [{"email": "sam@example.com", "status": "converted"}]
    assert data["rewards"] == [{"milestone": 1, "reward": "Reward for 1 referrals", "isRedeemed": False}]


def test_get_participant_referrals_lists_referred_users_with_status(sandbox, client, referred):
    # Given a second, unconverted referral of Alex's
    sandbox.seed_participant("kim@example.com", referrer="alex@example.com")
    sandbox.convert("sam@example.com")
    # When Alex's referrals are fetched
    result = client.get_participant_referrals("alex@example.com")
    # Then both come back in sign-up order with their status
    assert [(r["email"], r["status"]) for r in result["data"]] == [
        ("sam@example.com", "converted"),
        ("kim@example.com", "joined"),
    ]


# -- convert --------------------------------------------------------------------------------------


def test_convert_participant_posts_the_documented_body(sandbox, client, referred, readings):
    # Given Sam was referred by Alex
    # When Sam converts
    result = client.convert_participant("sam@example.com")
    # Then the documented body was posted
    assert only(sandbox, f"{P}/convert", "POST").json == {"campaignId": CAMPAIGN, "email": "sam@example.com"}
    # And the answer is the sample one, or says only success, per the reading
    if readings.convert_answer == "sample":
        assert result["data"] == {
            "email": "sam@example.com",
            "converted": True,
            "referrer": "alex@example.com",
            "rewardTriggered": True,
        }
    else:
        assert result == {"status": "success"}
    # And Alex has one successful referral and a pending reward
    assert sandbox.participant("alex@example.com")["referralCount"] == 1
    assert len(client.get_pending_rewards("alex@example.com")["data"]) == 1


def test_convert_of_a_converted_participant_raises_already_converted(sandbox, client, referred):
    # Given Sam already converted / When / Then the documented 409, whatever its body
    sandbox.convert("sam@example.com")
    with pytest.raises(AlreadyConverted):
        client.convert_participant("sam@example.com")


def test_convert_of_a_participant_nobody_referred_raises_validation_error_naming_the_email(client, referred):
    # Given Alex signed up without a referrer
    # When Alex is converted, Then the 400 is invalid input naming the email
    with pytest.raises(ValidationError) as raised:
        client.convert_participant("alex@example.com")
    assert raised.value.details[0]["field"] == "email"


def test_convert_of_an_unknown_participant_raises_participant_not_found(client):
    with pytest.raises(ParticipantNotFound):
        client.convert_participant("ghost@example.com")


# -- flag, order, referrer, rank ------------------------------------------------------------------


def test_flag_participant_posts_to_v3_and_drops_them_from_the_leaderboard(sandbox, client, referred):
    # Given a ranked participant
    # When Alex is flagged
    result = client.flag_participant("alex@example.com", "duplicate entries from same IP address")
    # Then the v3 endpoint got campaign, email and reason, and answered the documented body
    assert only(sandbox, "/api/v3/campaign/participant/flag", "POST").json == {
        "campaignId": CAMPAIGN,
        "email": "alex@example.com",
        "reason": "duplicate entries from same IP address",
    }
    assert result == {"status": "success", "message": "Participant flagged successfully"}
    # And Alex is out of the leaderboard
    assert sandbox.participant("alex@example.com")["flagged"] is True
    assert sandbox.rank_of("alex@example.com") is None


def test_flag_participant_without_a_reason_raises_validation_error(client, referred):
    # Given an empty reason / When / Then the documented 400
    with pytest.raises(ValidationError):
        client.flag_participant("alex@example.com", "")


def test_flag_of_an_unknown_participant_raises_participant_not_found(client):
    with pytest.raises(ParticipantNotFound):
        client.flag_participant("ghost@example.com", "spam")


def test_get_participant_order_sends_the_referral_code_when_given(sandbox, client, referred):
    # Given Sam bought with Alex's code
    alex, _ = referred
    sandbox.seed_order("sam@example.com", "1234567890", "45.00", "USD")
    # When the order is fetched with that code
    result = client.get_participant_order("sam@example.com", referral_code=alex["referralCode"])
    # Then the query had campaign, email and code, and the order came back
    assert only(sandbox, f"{P}/order", "GET").query == {
        "campaignId": CAMPAIGN,
        "email": "sam@example.com",
        "referralCode": alex["referralCode"],
    }
    assert result["data"]["orderId"] == "1234567890"


def test_get_participant_order_without_an_order_raises_not_found_not_participant_not_found(sandbox, client, referred):
    # Given Sam has no order / When the order is fetched without a code
    with pytest.raises(NotFound) as raised:
        client.get_participant_order("sam@example.com")
    # Then it is a plain NotFound (the document's "No order found"), and no referralCode was sent
    assert not isinstance(raised.value, ParticipantNotFound)
    assert "referralCode" not in only(sandbox, f"{P}/order", "GET").query


def test_get_referrer_by_participant_uses_v2_with_campaign_id(sandbox, client, referred):
    # Given Sam was referred by Alex Lee
    alex, _ = referred
    # When Sam's referrer is asked for
    result = client.get_referrer_by_participant("sam@example.com")
    # Then the v2 query had campaignId and email, and the documented referrer came back
    assert only(sandbox, f"{P}/referrer", "GET").query == {"campaignId": CAMPAIGN, "email": "sam@example.com"}
    assert result["data"] == {
        "referrer": {"name": "Alex Lee", "referralCode": alex["referralCode"], "campaignId": CAMPAIGN}
    }


def test_get_referrer_by_participant_of_an_unreferred_one_raises_not_found(client, referred):
    # Given Alex was not referred / When / Then the documented 404 "Referrer not found" is a plain NotFound
    with pytest.raises(NotFound) as raised:
        client.get_referrer_by_participant("alex@example.com")
    assert not isinstance(raised.value, ParticipantNotFound)


def test_get_referrer_by_referred_participant_uses_v3_with_the_token_in_the_query(sandbox, client, referred):
    # Given Sam was referred by Alex
    alex, _ = referred
    # When the v3 form is used
    result = client.get_referrer_by_referred_participant("sam@example.com")
    # Then the query carried email and apiToken only, and the referrer came back as a participant
    assert only(sandbox, "/api/v3/campaign/participant/referrer", "GET").query == {
        "email": "sam@example.com",
        "apiToken": KEY,
    }
    assert result["status"] == 200
    assert result["data"]["referralCode"] == alex["referralCode"]
    assert result["data"]["referredUsers"] == [{"email": "sam@example.com", "status": "joined"}]


def test_get_referrer_by_referred_participant_of_an_unreferred_one_is_empty(client, referred):
    # Given Alex signed up organically / When / Then "the response may be empty"
    assert client.get_referrer_by_referred_participant("alex@example.com") == {"status": 200, "data": {}}


def test_get_participant_rank_returns_the_leaderboard_position(sandbox, client, referred, readings):
    # Given Sam converted, so Alex leads
    sandbox.convert("sam@example.com")
    if readings.leaderboard:
        # When the rank is asked for, Then the documented answer gives the position
        assert client.get_participant_rank("alex@example.com") == {"status": "success", "data": {"rank": 1}}
    else:
        # When the campaign has no leaderboard, Then the rank is not available (a 400)
        with pytest.raises(ValidationError):
            client.get_participant_rank("alex@example.com")
    assert only(sandbox, f"{P}/rank", "GET").query == {"campaignId": CAMPAIGN, "email": "alex@example.com"}


# -- rewards --------------------------------------------------------------------------------------


def test_get_pending_rewards_sends_the_email_and_both_reward_headers(sandbox, client, referred):
    # Given a reward granted to Alex
    granted = sandbox.grant_reward("alex@example.com", milestone_id="milestone_5_referrals")
    # When Alex's pending rewards are fetched
    result = client.get_pending_rewards("alex@example.com")
    # Then the query had the email only, with the token and campaign headers
    received = only(sandbox, f"{REWARDS}/pending", "GET")
    assert received.query == {"email": "alex@example.com"}
    assert (received.header("x-api-token"), received.header("x-campaign-id")) == (KEY, CAMPAIGN)
    # And the reward came back in the documented shape
    assert result == {"data": [granted]}
    assert set(granted) == {"rewardId", "milestoneId", "status", "createdAt", "type", "referralsRequired"}


def test_pending_rewards_of_an_unknown_email_are_empty_or_participant_not_found(client, readings):
    # Given no such participant
    if readings.unknown_rewards == "empty":
        # When / Then the document's empty array
        assert client.get_pending_rewards("ghost@example.com") == {"data": []}
    else:
        with pytest.raises(ParticipantNotFound):
            client.get_pending_rewards("ghost@example.com")


def test_redeem_reward_posts_the_ids_and_removes_it_from_pending(sandbox, client, referred):
    # Given a pending reward
    granted = sandbox.grant_reward("alex@example.com")
    # When it is redeemed
    result = client.redeem_reward("alex@example.com", granted["milestoneId"], granted["rewardId"])
    # Then the documented body was posted with the campaign header, and answered the documented body
    received = only(sandbox, f"{REWARDS}/redeem", "POST")
    assert received.json == {
        "email": "alex@example.com",
        "milestoneId": granted["milestoneId"],
        "rewardId": granted["rewardId"],
    }
    assert received.header("x-campaign-id") == CAMPAIGN
    assert result == {"status": "success", "message": "Reward successfully marked as redeemed"}
    # And the reward is no longer pending
    assert client.get_pending_rewards("alex@example.com") == {"data": []}


def test_redeem_reward_twice_raises_already_redeemed(sandbox, client, referred):
    granted = sandbox.grant_reward("alex@example.com")
    client.redeem_reward("alex@example.com", granted["milestoneId"], granted["rewardId"])
    with pytest.raises(AlreadyRedeemed):
        client.redeem_reward("alex@example.com", granted["milestoneId"], granted["rewardId"])


def test_redeem_reward_of_an_unknown_reward_raises_reward_not_found(client, referred):
    # Given no reward / When / Then: a 404 on redeem reward, whatever its body
    with pytest.raises(RewardNotFound):
        client.redeem_reward("alex@example.com", "milestone_1_referrals", "clnope")


def test_redeem_milestone_posts_section_three_body_and_marks_it_redeemed(sandbox, client, referred):
    # Given a pending reward of a milestone
    granted = sandbox.grant_reward("alex@example.com", milestone_id="m-1")
    # When the milestone is redeemed the section-3 way
    result = client.redeem_milestone("alex@example.com", "m-1")
    # Then the section-3 body was posted to the app host
    assert only(sandbox, f"{P}/redeem", "POST").json == {
        "email": "alex@example.com",
        "campaignId": CAMPAIGN,
        "milestoneId": "m-1",
    }
    assert result["data"]["rewardId"] == granted["rewardId"]
    assert client.get_participant_data("alex@example.com")["data"]["rewards"][0]["isRedeemed"] is True


def test_redeem_milestone_of_an_unknown_milestone_raises_reward_not_found(client, referred):
    with pytest.raises(RewardNotFound):
        client.redeem_milestone("alex@example.com", "m-404")


# -- auth, campaign, throttling, secrecy -----------------------------------------------------------


def test_a_wrong_key_raises_provider_auth_failed_without_the_key(sandbox, fast_policy):
    # Given a client with the wrong token
    wrong = "vl-wrong-token-000"
    client = ViralLoopsClient(wrong, CAMPAIGN, base_url=sandbox.base_url, policy=fast_policy)
    # When it calls, Then the provider's 403 is an auth failure that does not show the key
    with pytest.raises(ProviderAuthFailed) as raised:
        client.get_participant("alex@example.com")
    assert wrong not in str(raised.value)


def test_an_unknown_campaign_is_the_documented_invalid_parameters(sandbox, fast_policy, referred):
    # Given a client for another campaign id
    client = ViralLoopsClient(KEY, "cl-other", base_url=sandbox.base_url, policy=fast_policy)
    # When / Then the 400 "ensure both email and campaignId are present and correct"
    with pytest.raises(ValidationError):
        client.convert_participant("sam@example.com")


def test_a_429_is_retried_and_the_call_succeeds_when_it_clears(sandbox, client, referred):
    # Given one 429
    sandbox.inject(429, headers={"Retry-After": "0"}, body={"success": False}, path="/data")
    # When participant data is asked for
    result = client.get_participant_data("alex@example.com")
    # Then the call was retried once and succeeded
    assert result["data"]["email"] == "alex@example.com"
    assert len(sandbox.requests_to(f"{P}/data")) == 2


def test_a_429_that_does_not_clear_raises_provider_throttled(sandbox, client, referred):
    # Given the sandbox's own limit of one request a minute, already used
    sandbox.set_rate_limit(SandboxRate(requests=1, per_seconds=60))
    client.get_participant_data("alex@example.com")
    # When another call is made, Then the provider's long Retry-After gives ProviderThrottled
    with pytest.raises(ProviderThrottled) as raised:
        client.get_participant_data("alex@example.com")
    assert raised.value.retry_after is not None
    assert raised.value.retry_after > 50


def test_a_provider_message_echoing_the_key_is_redacted(sandbox, client):
    # Given a provider error that repeats the token it got
    sandbox.inject(400, body={"status": "error", "message": f"Invalid apiToken {KEY}"})
    # When the v3 referrer (token in the query) is called
    with pytest.raises(ValidationError) as raised:
        client.get_referrer_by_referred_participant("alex@example.com")
    # Then the error does not carry the key
    assert KEY not in str(raised.value)
    assert "***" in raised.value.message


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.add_participant("bad email@example.com"),
        lambda c: c.get_participant("ghost@example.com"),
        lambda c: c.redeem_reward("ghost@example.com", "m", "r"),
        lambda c: c.update_participant("ghost@example.com"),
    ],
)
def test_no_error_message_carries_the_key(client, call):
    # Given calls that fail in the provider's documented ways / When one is made
    with pytest.raises(HubError) as raised:
        call(client)
    # Then neither the message nor the details hold the key
    assert KEY not in str(raised.value.to_dict())


# -- the sandbox's own behaviour ------------------------------------------------------------------


def test_sandbox_error_bodies_follow_the_error_body_reading(sandbox, readings):
    # Given an unknown participant
    # When it is asked for over HTTP
    response = requests.get(
        f"{sandbox.base_url}/v2/campaign/participant/data",
        params={"campaignId": CAMPAIGN, "email": "ghost@example.com"},
        headers={"x-api-token": KEY},
        timeout=5,
    )
    # Then the 404's body is opaque, or the document's wording
    assert response.status_code == 404
    expected = {"success": False, "code": 404} if readings.error_body == "opaque" else None
    assert response.json() == (expected or {"status": "error", "message": "Participant not found"})


def test_sandbox_matches_emails_exactly_or_folded_per_reading(sandbox, readings):
    # Given Alex stored as alex@example.com
    sandbox.seed_participant("alex@example.com")
    # When a raw request names ALEX@example.com
    response = requests.get(
        f"{sandbox.base_url}/v2/campaign/participant/data",
        params={"campaignId": CAMPAIGN, "email": "ALEX@example.com"},
        headers={"x-api-token": KEY},
        timeout=5,
    )
    # Then only the folded reading finds Alex
    assert response.status_code == (200 if readings.email_match == "folded" else 404)


def test_sandbox_readings_are_set_over_http(sandbox):
    # Given the sandbox's control route
    control = f"{sandbox.base_url.removesuffix('/api')}/_sandbox/readings"
    # When a reading is switched
    answer = requests.post(control, json={"participantAnswer": "full"}, timeout=5)
    # Then the sandbox reads it so, and an unknown reading is refused
    assert answer.json()["participantAnswer"] == "full"
    assert sandbox.readings.participant_answer == "full"
    assert requests.post(control, json={"nope": 1}, timeout=5).status_code == 400


def test_sandbox_ranks_by_successful_referrals_then_sign_up_order(sandbox):
    # Given A with two converted referrals, B with one, C with none (signed up first)
    sandbox.seed_participant("c@example.com")
    a = sandbox.seed_participant("a@example.com")
    b = sandbox.seed_participant("b@example.com")
    for friend in ("a1", "a2"):
        sandbox.seed_participant(f"{friend}@example.com", referrer=a["referralCode"], converted=True)
    sandbox.seed_participant("b1@example.com", referrer=b["referralCode"], converted=True)
    # When the ranks are read / Then A, B lead; the rest follow in sign-up order
    ranks = {email: sandbox.rank_of(f"{email}@example.com") for email in ("a", "b", "c", "a1", "a2", "b1")}
    assert ranks == {"a": 1, "b": 2, "c": 3, "a1": 4, "a2": 5, "b1": 6}


def test_sandbox_grants_a_reward_every_n_conversions(start_sandbox):
    # Given a campaign rewarding every second conversion
    sandbox = start_sandbox(ViralLoopsSandbox(api_key=KEY, campaign_id=CAMPAIGN, reward_every=2))
    alex = sandbox.seed_participant("alex@example.com")
    for friend in ("f1", "f2", "f3"):
        sandbox.seed_participant(f"{friend}@example.com", referrer=alex["referralCode"])
    # When three of Alex's referrals convert
    triggered = [sandbox.convert(f"{friend}@example.com")["rewardTriggered"] for friend in ("f1", "f2", "f3")]
    # Then only the second conversion triggered a reward
    assert triggered == [False, True, False]


def test_sandbox_accepts_the_token_in_the_query_or_the_body(sandbox, referred):
    # Given no x-api-token header / When the token travels in the query and in a body
    by_query = requests.get(
        f"{sandbox.base_url}/v2/campaign/participant/data",
        params={"campaignId": CAMPAIGN, "email": "alex@example.com", "apiToken": KEY},
        timeout=5,
    )
    by_body = requests.post(
        f"{sandbox.base_url}/v3/campaign/participant/flag",
        json={"apiToken": KEY, "campaignId": CAMPAIGN, "email": "sam@example.com", "reason": "spam"},
        timeout=5,
    )
    # Then both are accepted
    assert (by_query.status_code, by_body.status_code) == (200, 200)


def test_sandbox_refuses_a_missing_token_with_403(sandbox):
    response = requests.get(
        f"{sandbox.base_url}/v2/campaign/participant", params={"campaignId": CAMPAIGN, "email": "a@b.co"}, timeout=5
    )
    assert response.status_code == 403


def test_sandbox_reward_endpoints_accept_the_campaign_id_header_alone(sandbox, referred):
    # Given a pending reward and no token
    sandbox.grant_reward("alex@example.com")
    # When the pending rewards are asked for with x-campaign-id only
    response = requests.get(
        f"{sandbox.rewards_base_url}/campaign/participant/rewards/pending",
        params={"email": "alex@example.com"},
        headers={"x-campaign-id": CAMPAIGN},
        timeout=5,
    )
    # Then they are answered
    assert response.status_code == 200
    assert len(response.json()["data"]) == 1


def test_sandbox_requires_campaign_id_where_documented(sandbox, referred):
    # Given a convert without campaignId / When it is posted
    response = requests.post(
        f"{sandbox.base_url}/v2/campaign/participant/convert",
        json={"email": "sam@example.com"},
        headers={"x-api-token": KEY},
        timeout=5,
    )
    # Then it is a 400
    assert response.status_code == 400


def test_sandbox_serves_flag_on_the_v2_path_of_the_sample_request(sandbox, referred):
    response = requests.post(
        f"{sandbox.base_url}/v2/campaign/participant/flag",
        json={"campaignId": CAMPAIGN, "email": "alex@example.com", "reason": "spam"},
        headers={"x-api-token": KEY},
        timeout=5,
    )
    assert response.status_code == 200
    assert sandbox.participant("alex@example.com")["flagged"] is True


def test_sandbox_answers_its_rate_limit_with_retry_after(sandbox):
    # Given a limit of one request a minute
    sandbox.set_rate_limit(SandboxRate(requests=1, per_seconds=60))
    url = f"{sandbox.base_url}/v2/campaign/participant/rank"
    requests.get(url, headers={"x-api-token": KEY}, timeout=5)
    # When a second request comes / Then it is a 429 with Retry-After
    response = requests.get(url, headers={"x-api-token": KEY}, timeout=5)
    assert response.status_code == 429
    assert 50 <= int(response.headers["Retry-After"]) <= 60


def test_sandbox_control_routes_seed_participants_conversions_rewards_and_orders(sandbox, client):
    # Given an empty sandbox, seeded over HTTP
    control = f"{sandbox.base_url.removesuffix('/api')}/_sandbox"
    alex = requests.post(f"{control}/participants", json={"email": "alex@example.com"}, timeout=5).json()
    requests.post(
        f"{control}/participants", json={"email": "sam@example.com", "referrer": "alex@example.com"}, timeout=5
    )
    converted = requests.post(f"{control}/conversions", json={"email": "sam@example.com"}, timeout=5)
    reward = requests.post(f"{control}/rewards", json={"email": "sam@example.com", "milestoneId": "m-9"}, timeout=5)
    order = requests.post(f"{control}/orders", json={"email": "sam@example.com", "orderId": "o-1"}, timeout=5)
    listed = requests.get(f"{control}/participants", timeout=5).json()
    # When the client reads the state
    data = client.get_participant_data("alex@example.com")["data"]
    # Then the seeded state is what the API answers
    assert converted.status_code == 201
    assert data["referredUsers"] == [{"email": "sam@example.com", "status": "converted"}]
    assert reward.json()["milestoneId"] == "m-9"
    assert order.json()["referralCode"] == alex["referralCode"]
    assert [p["email"] for p in listed] == ["alex@example.com", "sam@example.com"]
