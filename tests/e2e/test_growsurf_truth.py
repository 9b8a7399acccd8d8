"""GrowSurf as its document has it, through the hub's HTTP API: referral credit, convert answers, and the
approval webhook (the hub spawned by ``python -m local.run`` against the test's own sandboxes)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator

import pytest
import requests

from local.run import Sandboxes
from local.webhook import DEMO_WEBHOOK_SECRETS, growsurf_signature_header

from .conftest import Hub

GROWSURF = "demo-growsurf"


def email(tag: str) -> str:
    return f"{tag}-{uuid.uuid4().hex[:10]}@example.com"


@pytest.fixture
def growsurf_settings(sandboxes: Sandboxes) -> Iterator[None]:
    """Settings a test changes are put back: the sandboxes live for the whole session."""
    before = sandboxes.growsurf.settings()
    yield
    sandboxes.growsurf.configure(**before)


def referred(hub: Hub) -> tuple[str, str]:
    referrer, friend = email("referrer"), email("friend")
    assert hub.post(f"/campaigns/{GROWSURF}/participants", {"email": referrer}).status_code == 201
    assert hub.post(f"/campaigns/{GROWSURF}/participants", {"email": friend, "referrer": referrer}).status_code == 201
    return referrer, friend


def test_a_referred_sign_up_reaches_growsurf_with_credit_pending(hub, sandboxes):
    # Given the demo campaign (credit_referrals on_conversion) and a GrowSurf whose trigger is "Sign Up"
    # When a referred friend signs up
    referrer, friend = referred(hub)
    # Then GrowSurf received referralStatus CREDIT_PENDING, and the referrer has no credit yet
    posts = [r for r in sandboxes.growsurf.requests_to("/participant", "POST") if r.json.get("email") == friend]
    assert posts[0].json["referralStatus"] == "CREDIT_PENDING"
    assert hub.get(f"/campaigns/{GROWSURF}/participants/{referrer}").json()["referralCount"] == 0


def test_convert_answers_credited_true_when_the_referrer_was_credited(hub):
    # Given a referred friend
    referrer, friend = referred(hub)
    # When the friend converts
    response = hub.post(f"/campaigns/{GROWSURF}/conversions", {"email": friend})
    # Then the answer says the referrer was credited, and it was
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["converted"], body["credited"], body["referralStatus"]) == (True, True, "CREDIT_AWARDED")
    assert body["referrer"]["email"] == referrer
    assert hub.get(f"/campaigns/{GROWSURF}/participants/{referrer}").json()["referralCount"] == 1


def test_convert_past_the_credit_window_answers_credited_false_with_the_reason(hub, sandboxes, growsurf_settings):
    # Given a campaign whose credit expires an hour after sign-up, and a friend who signed up two hours ago
    sandboxes.growsurf.configure(creditExpiryMs=3_600_000)
    referrer, friend = email("referrer"), email("friend")
    hub.post(f"/campaigns/{GROWSURF}/participants", {"email": referrer})
    joined = sandboxes.growsurf.clock() - 7_200_000
    sandboxes.growsurf.seed_participant(friend, referrer=referrer, referral_status="CREDIT_PENDING", created_at=joined)
    # When the friend converts
    response = hub.post(f"/campaigns/{GROWSURF}/conversions", {"email": friend})
    # Then GrowSurf answered success, but the hub says nobody was credited, and why
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["credited"], body["referralStatus"]) == (False, "CREDIT_EXPIRED")
    assert body["reason"].startswith("CREDIT_EXPIRED")
    assert hub.get(f"/campaigns/{GROWSURF}/participants/{referrer}").json()["referralCount"] == 0


def test_converting_a_credited_referral_again_is_409_already_converted(hub, sandboxes):
    # Given a friend whose referral GrowSurf credited already
    _, friend = referred(hub)
    sandboxes.growsurf.trigger(friend)
    # When the friend converts through the hub
    response = hub.post(f"/campaigns/{GROWSURF}/conversions", {"email": friend})
    # Then 409 ALREADY_CONVERTED
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "ALREADY_CONVERTED"


def test_converting_a_participant_nobody_referred_is_409_not_referred(hub, sandboxes):
    # Given someone who joined directly
    solo = email("solo")
    hub.post(f"/campaigns/{GROWSURF}/participants", {"email": solo})
    # When they convert
    response = hub.post(f"/campaigns/{GROWSURF}/conversions", {"email": solo})
    # Then 409 NOT_REFERRED names why, and GrowSurf's trigger was not called
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "NOT_REFERRED"
    assert sandboxes.growsurf.requests_to("/ref", "POST") == []


def test_a_field_growsurf_has_no_place_for_is_422_naming_it(hub, sandboxes):
    # Given a sign-up with a UTM source
    # When it is added to the GrowSurf campaign
    response = hub.post(f"/campaigns/{GROWSURF}/participants", {"email": email("utm"), "utmSource": "news"})
    # Then 422 names the field and GrowSurf, and GrowSurf received nothing
    assert response.status_code == 422
    assert response.json()["error"]["details"] == [
        {"field": "utmSource", "reason": "GrowSurf has no place for this field"}
    ]
    assert sandboxes.growsurf.received == []


def deliver(hub: Hub, payload: dict) -> requests.Response:
    body = json.dumps(payload).encode()
    signature = growsurf_signature_header(DEMO_WEBHOOK_SECRETS[GROWSURF], body, int(time.time() * 1000))
    headers = {"Content-Type": "application/json", "GrowSurf-Signature": signature}
    return requests.post(
        f"{hub.url}/webhooks/growsurf", data=body, headers=headers, params={"campaign": GROWSURF}, timeout=30
    )


def test_the_approval_webhook_of_the_hubs_redeem_is_one_reward_redeemed(hub, sandboxes):
    # Given a referrer whose reward unlocked (pending approval) and whose goal webhook the hub took
    referrer, friend = referred(hub)
    hub.post(f"/campaigns/{GROWSURF}/conversions", {"email": friend})
    reached = next(w for w in sandboxes.growsurf.webhooks if w["data"]["participant"]["email"] == referrer)
    assert deliver(hub, reached).json()["queued"] == ["referralRewardEarned", "referralConverted"]
    reward_id = reached["data"]["reward"]["id"]
    # When the hub redeems it (approve with fulfill), and GrowSurf's approval webhook (approved false) arrives twice
    assert hub.post(f"/campaigns/{GROWSURF}/redemptions", {"email": referrer, "rewardId": reward_id}).status_code == 200
    approval = sandboxes.growsurf.webhooks[-1]
    first, again = deliver(hub, approval).json(), deliver(hub, approval).json()
    # Then it is one reward redeemed, the conversion not sent twice, and the redelivery a duplicate
    assert approval["data"]["reward"]["approved"] is False
    assert first["queued"] == ["referralRewardRedeemed"]
    assert first["duplicates"] == ["referralConverted"]
    assert again["queued"] == []
