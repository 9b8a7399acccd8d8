"""Webhook verification (signatures, tokens, which campaign) and normalization per provider, against the
payloads the providers document."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
from moto import mock_aws

from hub.domain.errors import MalformedRequest, NotFound, ProviderUnavailable, ValidationError
from hub.domain.models import Provider
from hub.edge.openapi import document
from hub.flows.webhooks import (
    REFUSED_MESSAGE,
    Delivery,
    EventKind,
    WebhookRefused,
    WebhookUnavailable,
    campaign_for,
    growsurf_signature,
    normalize_growsurf,
    normalize_sparkloop,
    normalize_viral_loops,
    parse_payload,
    provider_named,
    verify_growsurf,
    verify_token,
)
from hub.settings import config
from local.template import load
from local.webhook import growsurf_signature_header, refresh_signature, with_webhook_secrets

SECRET = "whsec-unit-test"
NOW = 1_795_000_000.0
BODY = b'{"event": "NEW_PARTICIPANT_ADDED"}'


def header_for(body: bytes, *, secret: str = SECRET, at: float = NOW) -> str:
    return growsurf_signature_header(secret, body, int(at * 1000))


def refused_for(error: WebhookRefused, reason: str) -> None:
    """The refusal has the cause ``reason`` for the log, and tells the caller nothing of it."""
    assert error.reason == reason
    assert error.to_dict() == {"error": {"code": "UNAUTHORIZED", "message": REFUSED_MESSAGE, "details": []}}


# -- GrowSurf signatures -----------------------------------------------------------------------------


def test_a_valid_growsurf_signature_is_accepted():
    # Given a body signed with the campaign's secret just now
    header = header_for(BODY)
    # When it is verified
    verify_growsurf(header, BODY, SECRET, now=NOW + 2)
    # Then no error is raised, and the signer and the verifier agree on the formula
    assert header.endswith(growsurf_signature(SECRET, BODY, str(int(NOW * 1000))))


def test_a_growsurf_signature_made_with_another_secret_is_refused_without_saying_why():
    # Given a body signed with a secret that is not the campaign's
    header = header_for(BODY, secret="someone-else")
    # When it is verified
    with pytest.raises(WebhookRefused) as refused:
        verify_growsurf(header, BODY, SECRET, now=NOW)
    # Then it is the one fixed UNAUTHORIZED, the cause kept for the log only
    refused_for(refused.value, "wrong_signature")


def test_a_growsurf_signature_of_another_body_is_refused():
    # Given a signature made for a different body
    header = header_for(b'{"event": "CAMPAIGN_ENDED"}')
    # When the delivered body is verified with it
    with pytest.raises(WebhookRefused) as refused:
        verify_growsurf(header, BODY, SECRET, now=NOW)
    # Then it is refused
    refused_for(refused.value, "wrong_signature")


@pytest.mark.parametrize("offset", [-301, 301, -86_400])
def test_a_growsurf_signature_with_a_stale_or_future_timestamp_is_refused(offset):
    # Given a genuine signature made more than five minutes before (or after) the delivery
    header = header_for(BODY, at=NOW + offset)
    # When it is verified now
    with pytest.raises(WebhookRefused) as refused:
        verify_growsurf(header, BODY, SECRET, now=NOW)
    # Then it is refused for its timestamp (in the log), with the same answer as any refusal
    refused_for(refused.value, "stale_signature")


@pytest.mark.parametrize(
    "header",
    [
        "v=abc",
        "ts=1795000000000",
        "ts=soon,v=abc",
        "ts=1795000000000,v=",
        "garbage",
        "ts=١٧٩٥,v=abc",
        "ts=" + "9" * 400 + ",v=abc",
        "ts=" + "1" * 5000 + ",v=abc",
    ],
)
def test_a_malformed_growsurf_signature_header_is_refused(header):
    # Given a GrowSurf-Signature header that is not ts=<ms>,v=<hex> (a ts of 400 digits among them)
    # When it is verified
    with pytest.raises(WebhookRefused) as refused:
        verify_growsurf(header, BODY, SECRET, now=NOW)
    # Then it is refused as malformed, not an overflow
    refused_for(refused.value, "malformed_signature")


@pytest.mark.parametrize("header", [None, "", "  "])
def test_a_missing_growsurf_signature_header_is_refused(header):
    # Given no GrowSurf-Signature header
    # When the delivery is verified
    with pytest.raises(WebhookRefused) as refused:
        verify_growsurf(header, BODY, SECRET, now=NOW)
    # Then it is refused as missing
    refused_for(refused.value, "missing_signature")


def test_a_growsurf_header_with_several_signatures_is_accepted_when_one_matches():
    # Given a header carrying an old secret's signature and the current one's (as during a rotation)
    ts = str(int(NOW * 1000))
    header = f"ts={ts},v={growsurf_signature('old-secret', BODY, ts)},v={growsurf_signature(SECRET, BODY, ts)}"
    # When it is verified with the current secret
    verify_growsurf(header, BODY, SECRET, now=NOW)
    # Then it is accepted (no error)


@pytest.mark.parametrize("value", ["é☃", "\ud800"])
def test_a_non_ascii_signature_is_refused_not_crashed(value):
    # Given a signature value that is not hexadecimal text (a lone surrogate among them)
    header = f"ts={int(NOW * 1000)},v={value}"
    # When it is verified
    with pytest.raises(WebhookRefused) as refused:
        verify_growsurf(header, BODY, SECRET, now=NOW)
    # Then it is an ordinary refusal
    refused_for(refused.value, "wrong_signature")


# -- tokens ------------------------------------------------------------------------------------------


def test_the_right_token_is_accepted():
    # Given SparkLoop's token equal to the campaign's secret
    # When it is verified
    verify_token(SECRET, SECRET)
    # Then no error is raised


@pytest.mark.parametrize(
    ("given", "cause"),
    [("wrong", "wrong_token"), ("", "missing_token"), (None, "missing_token"), ("\udcff", "wrong_token")],
)
def test_a_wrong_or_missing_token_is_refused(given, cause):
    # Given a token that is not the campaign's secret, or none
    # When it is verified
    with pytest.raises(WebhookRefused) as refused:
        verify_token(given, SECRET)
    # Then it is refused, naming neither the token nor the secret
    refused_for(refused.value, cause)
    assert SECRET not in json.dumps(refused.value.to_dict())


def test_an_unreadable_body_is_refused_before_anything_else():
    # Given a proxy event whose body claims base64 but is not, and one holding a lone surrogate
    # When each is read as a delivery
    with pytest.raises(WebhookRefused) as not_base64:
        Delivery.from_proxy("growsurf", "%%%", True, {}, {})
    with pytest.raises(WebhookRefused) as not_utf8:
        Delivery.from_proxy("growsurf", '{"a": "\ud800"}', False, {}, {})
    # Then both are the one refusal
    refused_for(not_base64.value, "unreadable_body")
    refused_for(not_utf8.value, "unreadable_body")


# -- which campaign ----------------------------------------------------------------------------------


CONFIG = """
[campaigns.spring]
provider = "growsurf"
campaign_id = "gs-spring"
key = { value = "gs-key" }

[campaigns.autumn]
provider = "growsurf"
campaign_id = "gs-autumn"
key = { value = "gs-key" }

[campaigns.waitlist]
provider = "viral_loops"
campaign_id = "vl-waitlist"
key = { value = "vl-key" }

[campaigns.beta]
provider = "viral_loops"
campaign_id = "vl-beta"
key = { value = "vl-key" }

[campaigns.letter]
provider = "sparkloop"
campaign_id = "MF-letter"
key = { value = "sl-key" }
"""
SECRETS = {"spring": "spring-secret", "autumn": "autumn-secret", "waitlist": "waitlist-token", "beta": "beta-token"}


def use_config(tmp_path, monkeypatch, text: str) -> None:
    path = tmp_path / "hub.toml"
    path.write_text(text)
    monkeypatch.setenv("HUB_CONFIG", str(path))
    config.load_config.cache_clear()


@pytest.fixture
def configured(tmp_path, monkeypatch) -> Iterator[None]:
    use_config(tmp_path, monkeypatch, with_webhook_secrets(CONFIG, SECRETS))
    yield
    config.load_config.cache_clear()


def growsurf_delivery(secret: str, query: dict[str, str] | None = None) -> Delivery:
    header = growsurf_signature_header(secret, BODY, int(time.time() * 1000))
    return Delivery("growsurf", BODY, {"growsurf-signature": header}, query or {})


def test_the_campaign_is_the_one_the_payload_names(configured):
    # Given a delivery signed with autumn's secret, naming autumn's campaign id
    delivery = growsurf_delivery("autumn-secret")
    # When its campaign is found
    campaign = campaign_for(Provider.GROWSURF, delivery, "gs-autumn")
    # Then it is autumn
    assert campaign == "autumn"


def test_the_campaign_named_in_the_url_wins(configured):
    # Given a delivery for ?campaign=spring signed with spring's secret
    delivery = growsurf_delivery("spring-secret", {"campaign": "spring"})
    # When its campaign is found
    # Then it is spring
    assert campaign_for(Provider.GROWSURF, delivery, None) == "spring"


def test_a_delivery_signed_with_another_campaigns_secret_is_refused(configured):
    # Given a delivery naming spring's campaign id but signed with autumn's secret
    delivery = growsurf_delivery("autumn-secret")
    # When its campaign is found
    with pytest.raises(WebhookRefused) as refused:
        campaign_for(Provider.GROWSURF, delivery, "gs-spring")
    # Then it is refused: a secret only verifies its own campaign
    refused_for(refused.value, "wrong_signature")


def test_a_viral_loops_delivery_finds_its_campaign_by_its_token(configured):
    # Given two Viral Loops campaigns and a payload that names none, delivered with beta's token
    delivery = Delivery("viral_loops", b"{}", {}, {"token": "beta-token"})
    # When its campaign is found
    # Then it is the campaign whose secret the token is
    assert campaign_for(Provider.VIRAL_LOOPS, delivery, None) == "beta"


def test_a_provider_without_any_webhook_secret_refuses_every_delivery(configured):
    # Given a SparkLoop campaign with no webhook_secret
    delivery = Delivery("sparkloop", b"{}", {"sparkloop-token": "anything"}, {})
    # When a delivery comes naming it
    with pytest.raises(WebhookRefused) as refused:
        campaign_for(Provider.SPARKLOOP, delivery, "MF-letter")
    # Then it is refused like any other, without telling the stranger the campaign exists
    refused_for(refused.value, "unknown_campaign_id")


@pytest.mark.parametrize("asked", ["waitlist", "letter", "nowhere"])
def test_an_unknown_campaign_in_the_url_is_refused_like_a_wrong_signature(configured, asked):
    # Given ?campaign= naming a campaign of another provider, one without a secret, or none at all
    delivery = growsurf_delivery("spring-secret", {"campaign": asked})
    # When its campaign is found
    with pytest.raises(WebhookRefused) as refused:
        campaign_for(Provider.GROWSURF, delivery, None)
    # Then the answer is the same as for any refusal: nothing tells which campaigns exist
    refused_for(refused.value, "unknown_campaign")
    assert asked not in json.dumps(refused.value.to_dict())


UNREADABLE = """
[campaigns.spring]
provider = "growsurf"
campaign_id = "gs-spring"
key = { value = "gs-key" }
webhook_secret = { secret = "referral-hub/spring-webhook" }
"""


def test_a_webhook_secret_that_cannot_be_read_is_a_503_naming_nothing(tmp_path, monkeypatch):
    # Given a campaign whose webhook secret is in a Secrets Manager secret that does not exist
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    use_config(tmp_path, monkeypatch, UNREADABLE)
    delivery = growsurf_delivery("spring-secret", {"campaign": "spring"})
    # When a delivery for it comes
    with mock_aws(), pytest.raises(WebhookUnavailable) as unavailable:
        campaign_for(Provider.GROWSURF, delivery, None)
    config.load_config.cache_clear()
    # Then it is 503 (the provider retries), naming neither the secret nor the campaign
    answer = json.dumps(unavailable.value.to_dict())
    # (hub.edge.api is not imported here: its Powertools Metrics would take the namespace of a test's environment)
    assert isinstance(unavailable.value, ProviderUnavailable)  # 503 in the API's one error table
    assert unavailable.value.code == "PROVIDER_UNAVAILABLE"
    assert "referral-hub" not in answer
    assert "spring" not in answer


def test_an_unknown_provider_is_no_route():
    # Given a provider the hub has no webhook for
    # When it is looked up
    with pytest.raises(NotFound) as unknown:
        provider_named("loops")
    # Then it is ROUTE_NOT_FOUND (like any path the API does not serve), listing the public providers
    assert unknown.value.code == "ROUTE_NOT_FOUND"
    assert "growsurf, viral_loops, sparkloop" in str(unknown.value)


@pytest.mark.parametrize(("body", "reason_text"), [(b"not json", "Expecting value"), (b"[1, 2]", "is not an object")])
def test_a_verified_body_that_is_not_a_json_object_is_a_400(body, reason_text):
    # Given a body that is not a JSON object
    # When it is parsed
    with pytest.raises(MalformedRequest) as bad:
        parse_payload(body)
    # Then it is a VALIDATION_ERROR naming the body
    assert bad.value.details[0]["field"] == "body"
    assert reason_text in bad.value.details[0]["reason"]


# -- GrowSurf normalization --------------------------------------------------------------------------

RICHARD = {
    "id": "x9a7uu",
    "email": "richard@piedpiper.com",
    "firstName": "Richard",
    "lastName": "Hendricks",
    "rank": 9,
    "referralCount": 11,
    "shareUrl": "http://piedpiper.com?grsf=x9a7uu",
    "createdAt": 1554431962667,
    "fraudRiskLevel": "LOW",
    "fraudReasonCode": "UNIQUE_IDENTITY",
    "metadata": {"companyName": "Pied Piper, Inc"},
}
BILLY = {
    "id": "uxjbxu",
    "email": "i_was_referred@somesite.com",
    "firstName": "Billy",
    "lastName": "Smith",
    "referralCount": 0,
    "shareUrl": "http://piedpiper.com?grsf=uxjbxu",
    "fraudRiskLevel": "LOW",
    "metadata": {},
}
REWARD = {
    "approved": True,
    "couponCode": "PROMO_20_OFF",
    "description": "Win a free t-shirt",
    "title": "Early-Bird Reward",
    "isReferrer": True,
    "type": "DOUBLE_SIDED",
    "rewardId": "crew_xlj123",
    "id": "prew_ccm2ue",
    "referredId": "uxjbxu",
    "referrerId": "x9a7uu",
}
CAMPAIGN = {"id": "ct8f71", "name": "Middle Out Compression Campaign"}


def goal(*, referrer_side: bool = True, approved: bool = True) -> dict:
    participant = {**RICHARD, "referee": BILLY} if referrer_side else {**BILLY, "referrer": RICHARD}
    reward = {**REWARD, "isReferrer": referrer_side, "approved": approved}
    return {
        "event": "PARTICIPANT_REACHED_A_GOAL",
        "createdAt": 1558345202613,
        "data": {"participant": participant, "reward": reward, "campaign": CAMPAIGN},
    }


def test_a_growsurf_goal_is_a_reward_earned_and_the_referral_that_unlocked_it():
    # Given GrowSurf's documented goal event for a referrer
    # When it is normalized
    normalized = normalize_growsurf(goal(), "spring")
    # Then the referrer earned the reward and the referral converted, both for the referrer's contact
    earned, converted = normalized.events
    assert normalized.type == "PARTICIPANT_REACHED_A_GOAL"
    assert earned.kind is EventKind.REWARD_EARNED
    assert earned.contact.email == "richard@piedpiper.com"
    assert earned.contact.event is not None
    assert earned.contact.event.name == "referralRewardEarned"
    assert earned.contact.event.properties == {
        "referralCampaign": "spring",
        "referralProvider": "growsurf",
        "rewardId": "prew_ccm2ue",
        "rewardName": "Early-Bird Reward",
        "rewardStatus": "approved",
        "couponCode": "PROMO_20_OFF",
        "isReferrer": True,
    }
    assert earned.contact.properties["referralCount"] == 11
    assert earned.contact.properties["referralRank"] == 9
    assert earned.contact.properties["referralShareUrl"] == "http://piedpiper.com?grsf=x9a7uu"
    assert converted.kind is EventKind.REFERRAL_CONVERTED
    assert converted.contact.email == "richard@piedpiper.com"
    assert converted.contact.event is not None
    assert converted.contact.event.properties["referredEmail"] == "i_was_referred@somesite.com"


def test_both_copies_of_a_double_sided_goal_are_the_same_conversion_but_two_rewards():
    # Given the two events GrowSurf sends for a double-sided reward: the referrer's and the referee's
    referrer_copy = normalize_growsurf(goal(referrer_side=True), "spring")
    referee_copy = normalize_growsurf(goal(referrer_side=False), "spring")
    # When their events are compared
    conversions = [e for e in referrer_copy.events + referee_copy.events if e.kind is EventKind.REFERRAL_CONVERTED]
    rewards = [e for e in referrer_copy.events + referee_copy.events if e.kind is EventKind.REWARD_EARNED]
    # Then the conversion is one event (same key), the rewards are two (one per side)
    assert len({e.dedup_key(Provider.GROWSURF, "spring") for e in conversions}) == 1
    assert conversions[1].contact.email == "richard@piedpiper.com"
    assert {e.contact.email for e in rewards} == {"richard@piedpiper.com", "i_was_referred@somesite.com"}
    assert len({e.dedup_key(Provider.GROWSURF, "spring") for e in rewards}) == 2


def test_a_pending_and_then_approved_growsurf_reward_are_two_states():
    # Given the same reward sent pending, then approved (manual approval)
    pending = normalize_growsurf(goal(approved=False), "spring").events[0]
    approved = normalize_growsurf(goal(approved=True), "spring").events[0]
    # When compared
    # Then they are two events with their status
    assert pending.dedup_key(Provider.GROWSURF, "spring") != approved.dedup_key(Provider.GROWSURF, "spring")
    assert pending.contact.event is not None
    assert pending.contact.event.properties["rewardStatus"] == "pending"


# -- the approval webhook: GrowSurf emits the goal again on approve, with data.reward.approved false ---


@pytest.fixture
def growsurf_reward(start_sandbox, fast_policy):
    """A GrowSurf sandbox (manual approval, single-sided) where Ann's referral of Bob unlocked a pending
    reward, the program reading it back, and the goal webhook GrowSurf emitted for it."""
    from hub.providers.growsurf.client import GrowSurfClient
    from hub.providers.growsurf.program import GrowSurfProgram
    from hub.settings.config import CampaignConfig
    from local.sandbox.growsurf import GrowSurfSandbox

    sandbox = start_sandbox(GrowSurfSandbox(api_key="k", campaign_id="cmp", double_sided=False))
    ann = sandbox.seed_participant("ann@example.com", first_name="Ann")
    sandbox.seed_participant("bob@example.com", referrer=ann["id"], referral_status="CREDIT_PENDING")
    sandbox.trigger("bob@example.com")
    config = CampaignConfig.model_validate({"provider": "growsurf", "campaign_id": "cmp", "key": {"value": "k"}})
    program = GrowSurfProgram(
        "spring", config, GrowSurfClient("k", "cmp", base_url=sandbox.base_url, policy=fast_policy)
    )

    def lookup(email: str, reward_id: str) -> dict | None:
        reward = program.reward(email, reward_id)
        return reward.provider_data if reward else None

    (reached,) = sandbox.webhooks
    return sandbox, program, lookup, reached


def test_a_goal_reached_under_manual_approval_is_a_pending_reward(growsurf_reward):
    # Given the goal GrowSurf emitted when Ann's reward unlocked, not approved yet
    _, _, lookup, reached = growsurf_reward
    # When it is normalized, reading the reward back
    earned = normalize_growsurf(reached, "spring", lookup).events[0]
    # Then it is a pending reward earned
    assert earned.kind is EventKind.REWARD_EARNED
    assert earned.contact.event is not None
    assert earned.contact.event.properties["rewardStatus"] == "pending"


def test_the_approval_webhook_with_approved_false_is_the_approval_not_a_duplicate(growsurf_reward):
    # Given the pending goal handled, then the reward approved (not fulfilled) at GrowSurf
    sandbox, _, lookup, reached = growsurf_reward
    pending = normalize_growsurf(reached, "spring", lookup).events[0]
    reward_id = reached["data"]["reward"]["id"]
    sandbox.rewards[reward_id].approved = True
    sandbox.rewards[reward_id].approved_at = sandbox.clock()
    approval = {**reached, "data": {**reached["data"], "reward": {**reached["data"]["reward"], "approved": False}}}
    # When the approval's goal (data.reward.approved false, as documented) is normalized
    approved = normalize_growsurf(approval, "spring", lookup).events[0]
    # Then it is the approved state, a distinct event from the pending one
    assert approved.contact.event is not None
    assert approved.contact.event.properties["rewardStatus"] == "approved"
    assert approved.dedup_key(Provider.GROWSURF, "spring") != pending.dedup_key(Provider.GROWSURF, "spring")


def test_the_webhook_of_the_hubs_own_redeem_is_one_reward_redeemed(growsurf_reward):
    # Given the pending goal handled, then the hub's own redeem (approve with fulfill)
    sandbox, program, lookup, reached = growsurf_reward
    pending = normalize_growsurf(reached, "spring", lookup).events[0]
    program.redeem("ann@example.com", reached["data"]["reward"]["id"], None)
    approval = sandbox.webhooks[-1]
    # When the goal GrowSurf emitted for that approval is normalized, and delivered again
    first = normalize_growsurf(approval, "spring", lookup).events
    again = normalize_growsurf(approval, "spring", lookup).events
    # Then GrowSurf's payload said approved false, yet the event is the reward redeemed, once
    assert approval["data"]["reward"]["approved"] is False
    assert first[0].kind is EventKind.REWARD_REDEEMED
    assert first[0].contact.event is not None
    assert first[0].contact.event.properties["rewardStatus"] == "redeemed"
    assert first[0].dedup_key(Provider.GROWSURF, "spring") == again[0].dedup_key(Provider.GROWSURF, "spring")
    assert first[0].dedup_key(Provider.GROWSURF, "spring") != pending.dedup_key(Provider.GROWSURF, "spring")
    # And the referral it came from is the same conversion as the pending goal's
    assert first[1].dedup_key(Provider.GROWSURF, "spring") == (
        normalize_growsurf(reached, "spring").events[1].dedup_key(Provider.GROWSURF, "spring")
    )


def test_a_new_growsurf_participant_is_a_participant_added_with_its_referrer():
    # Given GrowSurf's documented NEW_PARTICIPANT_ADDED (a referred participant)
    payload = {
        "event": "NEW_PARTICIPANT_ADDED",
        "createdAt": 1558345215720,
        "data": {**BILLY, "referredBy": "x9a7uu", "referrer": {**RICHARD, "rank": "9"}, "campaign": CAMPAIGN},
    }
    # When it is normalized
    (added,) = normalize_growsurf(payload, "spring").events
    # Then the new participant's contact carries its code, share URL and who referred it
    assert added.kind is EventKind.PARTICIPANT_ADDED
    assert added.contact.email == "i_was_referred@somesite.com"
    assert added.contact.first_name == "Billy"
    assert added.contact.properties["referralCode"] == "uxjbxu"
    assert added.contact.properties["referredByEmail"] == "richard@piedpiper.com"
    assert added.contact.properties["referredByCode"] == "x9a7uu"
    assert added.identity == ("uxjbxu",)


def test_a_growsurf_fraud_status_change_flags_the_contact():
    # Given GrowSurf's documented PARTICIPANT_FRAUD_STATUS_UPDATED to HIGH
    payload = {
        "event": "PARTICIPANT_FRAUD_STATUS_UPDATED",
        "createdAt": 1558345215720,
        "data": {
            "participant": {**BILLY, "fraudRiskLevel": "HIGH", "fraudReasonCode": "REFERRAL_CHAIN_FRAUD"},
            "campaign": CAMPAIGN,
        },
    }
    # When it is normalized
    (changed,) = normalize_growsurf(payload, "spring").events
    # Then the contact is flagged with the level, and the event says why
    assert changed.kind is EventKind.FRAUD_STATUS_CHANGED
    assert changed.contact.properties["referralFlagged"] is True
    assert changed.contact.properties["referralFraudRiskLevel"] == "HIGH"
    assert changed.contact.event is not None
    assert changed.contact.event.properties["fraudReasonCode"] == "REFERRAL_CHAIN_FRAUD"


@pytest.mark.parametrize("event", ["CAMPAIGN_ENDED", "NEW_COMMISSION_ADDED", "SOMETHING_NEW", None])
def test_growsurf_events_the_hub_does_not_act_on_are_ignored(event):
    # Given an event the hub has nothing to do with
    payload = {"event": event, "createdAt": 1558345152138, "data": {"id": "ct8f71"}}
    # When it is normalized
    normalized = normalize_growsurf(payload, "spring")
    # Then there are no events, and a reason
    assert normalized.events == []
    assert "not an event the hub acts on" in (normalized.ignored or "")


def test_a_growsurf_goal_without_the_participant_email_names_the_field():
    # Given a goal event whose participant has no email
    payload = goal()
    del payload["data"]["participant"]["email"]
    # When it is normalized
    with pytest.raises(ValidationError) as invalid:
        normalize_growsurf(payload, "spring")
    # Then the error names the field
    assert invalid.value.details == [{"field": "data.participant.email", "reason": "is required"}]


def test_a_growsurf_goal_without_a_reward_id_names_the_field():
    # Given a goal event whose reward has no id
    payload = goal()
    del payload["data"]["reward"]["id"]
    # When it is normalized
    with pytest.raises(ValidationError) as invalid:
        normalize_growsurf(payload, "spring")
    # Then the error names the field
    assert invalid.value.details[0]["field"] == "data.reward.id"


# -- SparkLoop: the payload says whom to read; SparkLoop's answer is what is sent ------------------

SPARKLOOP_KEY, SPARKLOOP_CAMPAIGN = "sl-key", "MF6319db9890"


@pytest.fixture
def sparkloop(start_sandbox, fast_policy):
    """A SparkLoop sandbox where John Smith (4 referrals in all) referred John Doe, and the program that
    reads it back."""
    from hub.providers.sparkloop.client import SparkLoopClient
    from hub.providers.sparkloop.program import SparkLoopProgram
    from hub.settings.config import CampaignConfig
    from local.sandbox.sparkloop import SparkLoopSandbox

    sandbox = start_sandbox(SparkLoopSandbox(api_key=SPARKLOOP_KEY, campaign_id=SPARKLOOP_CAMPAIGN))
    smith = sandbox.seed_subscriber("john.smith@email.com", name="John Smith")
    sandbox.seed_subscriber("john.doe@email.com", name="John Doe", referrer=smith["ref_code"])
    for n in range(3):
        sandbox.seed_subscriber(f"friend{n}@email.com", referrer=smith["ref_code"])
    settings = {"provider": "sparkloop", "campaign_id": SPARKLOOP_CAMPAIGN, "key": {"value": SPARKLOOP_KEY}}
    client = SparkLoopClient(SPARKLOOP_KEY, SPARKLOOP_CAMPAIGN, base_url=sandbox.base_url, policy=fast_policy)
    return sandbox, SparkLoopProgram("letter", CampaignConfig.model_validate(settings), client)


JOHN_DOE = {
    "id": "sub_hjdgc74u",
    "first_name": "John",
    "name": "John Doe",
    "email": "john.doe@email.com",
    "referral_code": "ada90f39",
    "referral_link": "https://mywebsite.com?rh_ref=ada90f39",
    "referred": True,
    "tot_referrals": 0,
    "created_at": 1564400550,
}
JOHN_SMITH = {
    "id": "sub_93ehus8h",
    "first_name": "John",
    "name": "John Smith",
    "email": "john.smith@email.com",
    "referral_code": "f9464199",
    "referral_link": "https://mywebsite.com?rh_ref=f9464199",
    "referred": False,
    "tot_referrals": 4,
    "created_at": 1564403873,
}


def sparkloop_unlocked(**changes) -> dict:
    return {
        "type": "reward_unlocked",
        "campaign_id": SPARKLOOP_CAMPAIGN,
        "referrals": 4,
        "coupon_code": "9wusha0",
        "subscriber": {**JOHN_SMITH},
        "reward": {"id": "reward_cdebf4f013", "name": "2018 Private Report", "referrals": 4, "recurring": False},
        **changes,
    }


def test_a_sparkloop_new_referral_adds_the_subscriber_and_credits_the_referrer_as_sparkloop_has_them(sparkloop):
    # Given SparkLoop's documented new_referral, John Doe referred by John Smith at SparkLoop
    _, program = sparkloop
    payload = {
        "type": "new_referral",
        "campaign_id": SPARKLOOP_CAMPAIGN,
        "subscriber": JOHN_DOE,
        "referrer": JOHN_SMITH,
    }
    # When it is normalized
    added, converted = normalize_sparkloop(payload, program).events
    # Then the subscriber was added (referred by the referrer) and the referrer credited, with SparkLoop's data
    assert added.kind is EventKind.PARTICIPANT_ADDED
    assert added.contact.email == "john.doe@email.com"
    assert (added.contact.first_name, added.contact.last_name) == ("John", "Doe")
    assert added.contact.properties["referredByEmail"] == "john.smith@email.com"
    assert added.contact.properties["referralCode"] != "ada90f39"  # SparkLoop's own code, not the payload's
    assert "referralShareUrl" not in added.contact.properties  # the payload's link is not taken
    assert converted.kind is EventKind.REFERRAL_CONVERTED
    assert converted.contact.email == "john.smith@email.com"
    assert converted.contact.properties["referralCount"] == 4
    # And the dedup identities are SparkLoop's subscriber ids, not the payload's
    sandbox, _ = sparkloop
    doe, smith = sandbox.subscriber("john.doe@email.com")["uuid"], sandbox.subscriber("john.smith@email.com")["uuid"]
    assert added.identity == (doe,)
    assert converted.identity == (smith, doe)


def test_a_sparkloop_new_referral_of_a_subscriber_sparkloop_does_not_have_is_unconfirmed(sparkloop):
    # Given a new_referral whose subscriber SparkLoop has never heard of
    _, program = sparkloop
    stranger = {**JOHN_DOE, "email": "mallory@example.com"}
    payload = {
        "type": "new_referral",
        "campaign_id": SPARKLOOP_CAMPAIGN,
        "subscriber": stranger,
        "referrer": JOHN_SMITH,
    }
    # When it is normalized
    normalized = normalize_sparkloop(payload, program)
    # Then nothing is to be sent, and the reason says the provider did not confirm it
    assert normalized.events == []
    assert normalized.unconfirmed
    assert "not confirmed by the provider" in (normalized.ignored or "")


def test_a_sparkloop_new_referral_naming_another_referrer_is_unconfirmed(sparkloop):
    # Given a new_referral claiming friend0 referred John Doe (John Smith did)
    _, program = sparkloop
    claimed = {**JOHN_SMITH, "email": "friend0@email.com"}
    payload = {"type": "new_referral", "campaign_id": SPARKLOOP_CAMPAIGN, "subscriber": JOHN_DOE, "referrer": claimed}
    # When it is normalized
    normalized = normalize_sparkloop(payload, program)
    # Then neither the participant nor the conversion is sent
    assert normalized.events == []
    assert normalized.unconfirmed


def test_a_sparkloop_reward_unlocked_sends_only_what_sparkloop_confirms(sparkloop):
    # Given SparkLoop's documented reward_unlocked at 4 referrals, for John Smith who has 4 at SparkLoop
    _, program = sparkloop
    # When it is normalized
    (earned,) = normalize_sparkloop(sparkloop_unlocked(), program).events
    # Then it is a reward earned at that count, without the payload's reward name or coupon code
    assert earned.kind is EventKind.REWARD_EARNED
    assert earned.contact.event is not None
    assert earned.contact.event.properties == {
        "referralCampaign": "letter",
        "referralProvider": "sparkloop",
        "rewardReferrals": 4,
        "rewardStatus": "approved",
    }
    # And it is known by SparkLoop's subscriber id and the count SparkLoop bears out
    sandbox, _ = sparkloop
    assert earned.identity == (sandbox.subscriber("john.smith@email.com")["uuid"], "4")


def test_a_sparkloop_replay_with_other_payload_ids_is_the_same_event(sparkloop):
    # Given a reward_unlocked, and the same one replayed by a token holder with new subscriber and reward ids
    _, program = sparkloop
    replay = sparkloop_unlocked()
    replay["subscriber"] = {**replay["subscriber"], "id": "sub_forged"}
    replay["reward"] = {**replay["reward"], "id": "reward_forged"}
    # When both are normalized
    (one,) = normalize_sparkloop(sparkloop_unlocked(), program).events
    (two,) = normalize_sparkloop(replay, program).events
    # Then they are one event to the dedup: SparkLoop's subscriber and the count it bears out
    assert one.dedup_key(Provider.SPARKLOOP, "letter") == two.dedup_key(Provider.SPARKLOOP, "letter")


def test_a_sparkloop_reward_unlocked_beyond_the_subscribers_referrals_is_unconfirmed(sparkloop):
    # Given a reward_unlocked at 10 referrals for John Smith, who has 4 at SparkLoop
    _, program = sparkloop
    # When it is normalized
    normalized = normalize_sparkloop(sparkloop_unlocked(referrals=10), program)
    # Then nothing is sent
    assert normalized.events == []
    assert normalized.unconfirmed


def test_a_sparkloop_reward_redeemed_is_a_reward_redeemed_of_that_variant(sparkloop):
    # Given SparkLoop's documented reward_redeemed
    _, program = sparkloop
    payload = {
        "type": "reward_redeemed",
        "campaign_id": SPARKLOOP_CAMPAIGN,
        "referrals": 4,
        "subscriber": JOHN_SMITH,
        "reward": {"id": "reward_cdebf4f013", "name": "T-shirt"},
        "reward_variant_name": "T-Shirt XXL",
        "reward_variant_sku": "t_shirt_xxl",
    }
    # When it is normalized
    (redeemed,) = normalize_sparkloop(payload, program).events
    # Then it is the redemption at that count, without the payload's names or variant
    assert redeemed.kind is EventKind.REWARD_REDEEMED
    assert redeemed.contact.event is not None
    assert redeemed.contact.event.name == "referralRewardRedeemed"
    assert "rewardVariant" not in redeemed.contact.event.properties
    sandbox, _ = sparkloop
    assert redeemed.identity == (sandbox.subscriber("john.smith@email.com")["uuid"], "4")


@pytest.mark.parametrize("kind", ["new_partner_referral", "new_offer_lead", "sync_subscriber"])
def test_sparkloop_events_the_hub_does_not_act_on_are_ignored(sparkloop, kind):
    # Given a partner, lead or sync event
    _, program = sparkloop
    # When it is normalized
    normalized = normalize_sparkloop({"type": kind, "campaign_id": SPARKLOOP_CAMPAIGN}, program)
    # Then nothing is to be done, and it is not a refusal of the provider's word
    assert normalized.events == []
    assert normalized.type == kind
    assert not normalized.unconfirmed


# -- Viral Loops: the same rule ----------------------------------------------------------------------

VIRAL_LOOPS_KEY, VIRAL_LOOPS_CAMPAIGN = "vl-key", "vl-waitlist"


@pytest.fixture
def viral_loops(start_sandbox, fast_policy):
    """A Viral Loops sandbox where Nalyssa referred Lana, and the program that reads it back."""
    from hub.providers.viral_loops.client import ViralLoopsClient
    from hub.providers.viral_loops.program import ViralLoopsProgram
    from hub.settings.config import CampaignConfig
    from local.sandbox.viral_loops import ViralLoopsSandbox

    sandbox = start_sandbox(ViralLoopsSandbox(api_key=VIRAL_LOOPS_KEY, campaign_id=VIRAL_LOOPS_CAMPAIGN))
    sandbox.seed_participant("nalyssa@example.com", first_name="Nalyssa")
    sandbox.seed_participant("lana@example.com", first_name="Lana", referrer="nalyssa@example.com")
    sandbox.seed_participant("other@example.com", first_name="Other")
    settings = {"provider": "viral_loops", "campaign_id": VIRAL_LOOPS_CAMPAIGN, "key": {"value": VIRAL_LOOPS_KEY}}
    client = ViralLoopsClient(
        VIRAL_LOOPS_KEY,
        VIRAL_LOOPS_CAMPAIGN,
        base_url=sandbox.base_url,
        rewards_url=sandbox.rewards_base_url,
        policy=fast_policy,
    )
    return sandbox, ViralLoopsProgram("waitlist", CampaignConfig.model_validate(settings), client)


LANA = {"firstname": "Lana", "lastname": "Dr.", "email": "lana@example.com", "referralCode": "abc123"}
NALYSSA = {"firstname": "Nalyssa", "lastname": "Gr", "email": "nalyssa@example.com", "referralCode": "dfg456"}


def test_a_viral_loops_participation_is_a_participant_added_as_viral_loops_has_it(viral_loops):
    # Given Viral Loops' documented participation event (which says no referral count)
    sandbox, program = viral_loops
    payload = {"type": "participation", "user": {**LANA, "firstname": "Forged"}, "referrer": NALYSSA}
    # When it is normalized
    (added,) = normalize_viral_loops(payload, program).events
    # Then the participant is added with Viral Loops' code, name and referrer, not the payload's
    lana, nalyssa = sandbox.participant("lana@example.com"), sandbox.participant("nalyssa@example.com")
    assert added.contact.email == "lana@example.com"
    assert added.contact.first_name == "Lana"
    assert added.contact.properties["referralCode"] == lana["referralCode"]
    assert added.contact.properties["referredByCode"] == nalyssa["referralCode"]
    assert added.contact.properties["referredByEmail"] == "nalyssa@example.com"
    assert added.identity == (lana["referralCode"],)


def test_a_viral_loops_participation_naming_another_referrer_is_unconfirmed(viral_loops):
    # Given a participation claiming Other referred Lana (Nalyssa did)
    _, program = viral_loops
    payload = {"type": "participation", "user": LANA, "referrer": {**NALYSSA, "email": "other@example.com"}}
    # When it is normalized
    normalized = normalize_viral_loops(payload, program)
    # Then nothing is sent
    assert normalized.events == []
    assert normalized.unconfirmed


def test_a_viral_loops_participation_of_an_unknown_user_is_unconfirmed(viral_loops):
    # Given a participation of someone Viral Loops does not have
    _, program = viral_loops
    payload = {"type": "participation", "user": {**LANA, "email": "mallory@example.com"}}
    # When it is normalized
    normalized = normalize_viral_loops(payload, program)
    # Then nothing is sent
    assert normalized.events == []
    assert "not confirmed by the provider" in (normalized.ignored or "")


def test_a_viral_loops_conversion_credits_the_referrer_once_viral_loops_has_it_converted(viral_loops):
    # Given Lana's conversion, done at Viral Loops, delivered with Nalyssa as the referrer
    sandbox, program = viral_loops
    sandbox.convert("lana@example.com")
    payload = {"type": "conversion", "user": LANA, "referrer": NALYSSA}
    # When it is normalized
    (converted,) = normalize_viral_loops(payload, program).events
    # Then the referrer's contact gets referralConverted naming the friend
    assert converted.kind is EventKind.REFERRAL_CONVERTED
    assert converted.contact.email == "nalyssa@example.com"
    assert converted.contact.event is not None
    assert converted.contact.event.properties["referredEmail"] == "lana@example.com"
    code = {email: sandbox.participant(email)["referralCode"] for email in ("nalyssa@example.com", "lana@example.com")}
    assert converted.identity == (code["nalyssa@example.com"], code["lana@example.com"])


def test_a_viral_loops_conversion_viral_loops_has_not_made_is_unconfirmed(viral_loops):
    # Given a conversion of Lana, who is not converted at Viral Loops
    _, program = viral_loops
    payload = {"type": "conversion", "user": LANA, "referrer": NALYSSA}
    # When it is normalized
    normalized = normalize_viral_loops(payload, program)
    # Then nobody is credited
    assert normalized.events == []
    assert normalized.unconfirmed


def test_a_viral_loops_milestone_names_the_reward_as_viral_loops_has_it(viral_loops):
    # Given a reward Nalyssa has at Viral Loops, and a milestone naming it with a forged name
    sandbox, program = viral_loops
    reward = sandbox.grant_reward("nalyssa@example.com")
    payload = {"type": "milestone", "user": NALYSSA, "reward": {"id": reward["rewardId"], "name": "FREE-1000"}}
    # When it is normalized
    (earned,) = normalize_viral_loops(payload, program).events
    # Then the reward earned carries Viral Loops' own description and status
    assert earned.kind is EventKind.REWARD_EARNED
    assert earned.contact.event is not None
    assert earned.contact.event.properties["rewardName"] == reward["type"]
    assert earned.contact.event.properties["rewardStatus"] == "pending"
    assert earned.identity == (sandbox.participant("nalyssa@example.com")["referralCode"], reward["rewardId"])


def test_a_viral_loops_replay_with_other_payload_ids_is_the_same_event(viral_loops):
    # Given a milestone, and the same milestone replayed by a token holder with the user's id changed
    sandbox, program = viral_loops
    reward = sandbox.grant_reward("nalyssa@example.com")
    first = {"type": "milestone", "user": NALYSSA, "reward": {"id": reward["rewardId"]}}
    replay = {"type": "milestone", "user": {**NALYSSA, "id": "forged-1"}, "reward": {"id": reward["rewardId"]}}
    # When both are normalized
    (one,) = normalize_viral_loops(first, program).events
    (two,) = normalize_viral_loops(replay, program).events
    # Then they are one event to the dedup: its identity is Viral Loops' own, not the payload's
    assert one.dedup_key(Provider.VIRAL_LOOPS, "waitlist") == two.dedup_key(Provider.VIRAL_LOOPS, "waitlist")


def test_a_viral_loops_milestone_of_a_reward_viral_loops_does_not_have_is_unconfirmed(viral_loops):
    # Given a milestone naming a reward Nalyssa does not have
    _, program = viral_loops
    payload = {"type": "milestone", "user": NALYSSA, "reward": {"id": "clforged", "name": "FREE-1000"}}
    # When it is normalized
    normalized = normalize_viral_loops(payload, program)
    # Then nothing is sent
    assert normalized.events == []
    assert normalized.unconfirmed


def test_a_viral_loops_event_of_another_type_is_ignored(viral_loops):
    # Given a type the hub does not know
    _, program = viral_loops
    # When it is normalized
    normalized = normalize_viral_loops({"type": "newReferralCount", "user": LANA}, program)
    # Then nothing is to be done
    assert normalized.events == []
    assert not normalized.unconfirmed


def test_a_viral_loops_participation_with_an_invalid_email_names_the_field(viral_loops):
    # Given a user whose email is not one
    _, program = viral_loops
    payload = {"type": "participation", "user": {**LANA, "email": "not-an-email"}}
    # When it is normalized
    with pytest.raises(ValidationError) as invalid:
        normalize_viral_loops(payload, program)
    # Then the field is named with why
    assert invalid.value.details[0]["field"] == "user.email"
    assert "email address" in invalid.value.details[0]["reason"]


# -- the route ---------------------------------------------------------------------------------------


def test_the_webhook_route_alone_needs_no_api_key():
    # Given the template's routes as the local gateway reads them
    routes = {(route.method, route.path): route.api_key_required for route, _ in load().routes()}
    # Then the webhook route takes no API key, and every other route requires one
    assert routes.pop(("POST", "/webhooks/{provider}")) is False
    assert all(routes.values())


def test_the_openapi_document_shows_the_webhook_route_without_api_key_security():
    # Given the OpenAPI document
    operation = document()["paths"]["/webhooks/{provider}"]["post"]
    # Then the webhook route overrides the API key security, answers 401 (not 403), takes no Idempotency-Key
    assert operation["security"] == []
    assert "401" in operation["responses"]
    assert "403" not in operation["responses"]
    names = [parameter["name"] for parameter in operation["parameters"]]
    assert "Idempotency-Key" not in names
    assert names[0] == "provider"


# -- the local helpers -------------------------------------------------------------------------------


def test_webhook_secrets_are_added_to_a_configuration_once():
    # Given a configuration given the secrets, then given them again
    once = with_webhook_secrets(CONFIG, SECRETS)
    twice = with_webhook_secrets(once, SECRETS)
    # When it is read
    campaigns = config.parse_config(twice, "test").campaigns
    # Then each named campaign has its secret, once, and the others none
    assert twice == once
    assert campaigns["spring"].webhook_secret is not None
    assert campaigns["spring"].webhook_secret.value is not None
    assert campaigns["spring"].webhook_secret.value.get_secret_value() == "spring-secret"
    assert campaigns["letter"].webhook_secret is None


def test_a_sample_is_signed_again_only_when_its_signature_was_genuine():
    # Given a sample signed with the secret long ago, and one signed with another secret
    old = int((NOW - 86_400) * 1000)
    genuine = {"headers": {"GrowSurf-Signature": growsurf_signature_header(SECRET, BODY, old)}, "body": BODY.decode()}
    forged = {"headers": {"GrowSurf-Signature": growsurf_signature_header("x", BODY, old)}, "body": BODY.decode()}
    # When both are refreshed for now
    refreshed = refresh_signature(genuine, SECRET, now=NOW)
    kept = refresh_signature(forged, SECRET, now=NOW)
    # Then the genuine one verifies now, and the forged one is left as it was
    verify_growsurf(refreshed["headers"]["GrowSurf-Signature"], BODY, SECRET, now=NOW)
    assert kept == forged


def test_a_verified_body_with_nan_is_refused_naming_the_field():
    # Given a delivery whose body carries a number JSON has no place for
    body = b'{"event": "PARTICIPANT_REACHED_A_GOAL", "data": {"reward": {"value": NaN}}}'

    # When it is read, Then it is refused with the field's path, as every other body the hub reads
    with pytest.raises(ValidationError) as raised:
        parse_payload(body)
    assert [d["field"] for d in raised.value.details] == ["data.reward.value"]
