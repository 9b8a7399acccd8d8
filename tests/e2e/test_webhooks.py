"""Provider webhooks end to end on the local run: signed deliveries in (no API key), refused when their
signature, token or timestamp is wrong, deduplicated, and turned into the Loops calls the sandbox
receives through the syncContact queue."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

import requests

from hub.flows.webhooks import REFUSED_MESSAGE
from local.run import Sandboxes
from local.sandbox.loops import EventRecord
from local.template import ROOT
from local.webhook import DEMO_WEBHOOK_SECRETS, signed

from .conftest import Hub

T = TypeVar("T")
REFUSED = {"error": {"code": "UNAUTHORIZED", "message": REFUSED_MESSAGE, "details": []}}
GROWSURF_SECRET = DEMO_WEBHOOK_SECRETS["demo-growsurf"]
SPARKLOOP_TOKEN = DEMO_WEBHOOK_SECRETS["demo-sparkloop"]
VIRAL_LOOPS_TOKEN = DEMO_WEBHOOK_SECRETS["demo-viral-loops"]


def tag() -> str:
    return uuid.uuid4().hex[:10]


def post(
    hub: Hub,
    provider: str,
    payload: dict[str, Any],
    *,
    secret: str | None = None,
    signed_at: float | None = None,
    headers: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
) -> requests.Response:
    """Deliver ``payload`` as the provider would (signed with ``secret`` when given), without an API key."""
    body = json.dumps(payload).encode("utf-8")
    proof_headers, proof_query = signed(provider, body, secret, now=signed_at) if secret else ({}, {})
    return hub.session.post(
        f"{hub.url}/webhooks/{provider}",
        data=body,
        headers={"Content-Type": "application/json", **proof_headers, **(headers or {})},
        params={**proof_query, **(query or {})},
        timeout=30,
    )


def wait_until(condition: Callable[[], T], timeout: float = 45.0) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("the expected outcome did not come within the wait")


def events_for(sandboxes: Sandboxes, email: str) -> list[EventRecord]:
    return [event for event in list(sandboxes.loops.events) if event.email == email]


def loops_requests_for(sandboxes: Sandboxes, email: str) -> list[Any]:
    return [r for r in list(sandboxes.loops.received) if isinstance(r.json, dict) and r.json.get("email") == email]


def growsurf_participant(name: str, **fields: Any) -> dict[str, Any]:
    ident = tag()[:6]
    return {
        "id": ident,
        "email": f"{name.lower()}-{tag()}@example.com",
        "firstName": name,
        "lastName": "Example",
        "rank": 3,
        "referralCount": 1,
        "shareUrl": f"https://example.com/?grsf={ident}",
        "createdAt": 1794990000000,
        "fraudRiskLevel": "LOW",
        "metadata": {},
        **fields,
    }


def growsurf_goal(sandboxes: Sandboxes, referrer: dict, referee: dict, *, referrer_side: bool = True) -> dict:
    """GrowSurf's PARTICIPANT_REACHED_A_GOAL for a double-sided reward: the referrer's copy or the referee's."""
    participant = {**referrer, "referee": referee} if referrer_side else {**referee, "referrer": referrer}
    return {
        "event": "PARTICIPANT_REACHED_A_GOAL",
        "createdAt": int(time.time() * 1000),
        "data": {
            "participant": participant,
            "reward": {
                "approved": True,
                "title": "A month free",
                "couponCode": "THANKS-20",
                "isReferrer": referrer_side,
                "type": "DOUBLE_SIDED",
                "rewardId": "crew_month",
                "id": f"prew_{referrer['id']}_{referee['id']}",
                "referrerId": referrer["id"],
                "referredId": referee["id"],
            },
            "campaign": {"id": sandboxes.growsurf.campaign_id, "name": "Demo"},
        },
    }


def growsurf_added(sandboxes: Sandboxes, participant: dict) -> dict:
    return {
        "event": "NEW_PARTICIPANT_ADDED",
        "createdAt": int(time.time() * 1000),
        "data": {**participant, "campaign": {"id": sandboxes.growsurf.campaign_id}},
    }


def fence(hub: Hub, sandboxes: Sandboxes) -> None:
    """Deliver a valid event and wait for it at Loops: whatever was queued before has had its time."""
    participant = growsurf_participant("Fence")
    assert post(hub, "growsurf", growsurf_added(sandboxes, participant), secret=GROWSURF_SECRET).status_code == 200
    wait_until(lambda: events_for(sandboxes, participant["email"]))


# -- GrowSurf ----------------------------------------------------------------------------------------


def test_a_validly_signed_growsurf_goal_becomes_contact_syncs_and_loops_events(hub: Hub, sandboxes: Sandboxes):
    # Given GrowSurf's goal event for a referrer whose friend converted, signed with the campaign's secret
    referrer, referee = growsurf_participant("Ada"), growsurf_participant("Grace")
    # When GrowSurf delivers it (no API key: only the signature)
    response = post(hub, "growsurf", growsurf_goal(sandboxes, referrer, referee), secret=GROWSURF_SECRET)
    # Then the hub answers 200 with the job and the two events it queued
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["campaign"] == "demo-growsurf"
    assert body["queued"] == ["referralRewardEarned", "referralConverted"]
    assert body["duplicates"] == []
    # And Loops received the referrer's contact with its referral stats, and both events, each once
    events = wait_until(
        lambda: len(events_for(sandboxes, referrer["email"])) == 2 and events_for(sandboxes, referrer["email"])
    )
    by_name = {event.name: event for event in events}
    assert set(by_name) == {"referralRewardEarned", "referralConverted"}
    assert by_name["referralRewardEarned"].event_properties["rewardId"] == f"prew_{referrer['id']}_{referee['id']}"
    assert by_name["referralRewardEarned"].event_properties["couponCode"] == "THANKS-20"
    assert by_name["referralConverted"].event_properties["referredEmail"] == referee["email"]
    assert all(event.idempotency_key for event in events)
    contact = sandboxes.loops.contact(referrer["email"])
    assert contact is not None
    # And the event's data travelled as eventProperties, not as contact properties written onto the contact
    assert all(event.contact_properties == {} for event in events)
    assert not {"rewardId", "couponCode", "referredEmail"} & set(contact)
    assert contact["referralCount"] == 1
    assert contact["referralShareUrl"] == referrer["shareUrl"]
    assert contact["referralCampaign"] == "demo-growsurf"
    # And the job counts both rows done
    job = wait_until(lambda: (j := hub.get(f"/imports/{body['jobId']}").json())["status"] == "completed" and j)
    assert (job["total"], job["succeeded"], job["failed"]) == (2, 2, 0)


def test_a_growsurf_delivery_with_a_wrong_signature_is_refused_and_does_nothing(hub: Hub, sandboxes: Sandboxes):
    # Given a goal event signed with a secret that is not the campaign's
    referrer, referee = growsurf_participant("Mallory"), growsurf_participant("Eve")
    # When it is delivered
    response = post(hub, "growsurf", growsurf_goal(sandboxes, referrer, referee), secret="not-the-secret")
    # Then the hub answers the one fixed 401 UNAUTHORIZED, saying nothing of why
    assert response.status_code == 401, response.text
    assert response.json() == REFUSED
    # And nothing reached Loops for either participant
    fence(hub, sandboxes)
    assert loops_requests_for(sandboxes, referrer["email"]) == []
    assert loops_requests_for(sandboxes, referee["email"]) == []


def test_a_growsurf_delivery_with_a_stale_timestamp_is_refused(hub: Hub, sandboxes: Sandboxes):
    # Given a genuine signature made ten minutes before the delivery
    participant = growsurf_participant("Late")
    payload = growsurf_added(sandboxes, participant)
    # When it is delivered now
    response = post(hub, "growsurf", payload, secret=GROWSURF_SECRET, signed_at=time.time() - 600)
    # Then it is refused with the same answer as any refusal (the log says it was the timestamp)
    assert response.status_code == 401, response.text
    assert response.json() == REFUSED
    fence(hub, sandboxes)
    assert loops_requests_for(sandboxes, participant["email"]) == []


def test_a_replayed_growsurf_delivery_is_acknowledged_but_not_acted_on_twice(hub: Hub, sandboxes: Sandboxes):
    # Given a goal delivery, and the very same request (body and signature) sent again
    referrer, referee = growsurf_participant("Ada"), growsurf_participant("Grace")
    body = json.dumps(growsurf_goal(sandboxes, referrer, referee)).encode("utf-8")
    headers, _ = signed("growsurf", body, GROWSURF_SECRET)
    url = f"{hub.url}/webhooks/growsurf"
    # When both arrive
    first = hub.session.post(url, data=body, headers=headers, timeout=30)
    replay = hub.session.post(url, data=body, headers=headers, timeout=30)
    # Then both are answered 200 (the provider stops retrying), the replay with nothing queued
    assert first.status_code == 200, first.text
    assert replay.status_code == 200, replay.text
    assert first.json()["queued"] == ["referralRewardEarned", "referralConverted"]
    assert replay.json()["queued"] == []
    assert replay.json()["duplicates"] == ["referralRewardEarned", "referralConverted"]
    assert replay.json()["jobId"] is None
    assert replay.headers["Idempotent-Replayed"] == "true"
    # And Loops received each event once
    wait_until(lambda: len(events_for(sandboxes, referrer["email"])) >= 2)
    fence(hub, sandboxes)
    names = sorted(event.name for event in events_for(sandboxes, referrer["email"]))
    assert names == ["referralConverted", "referralRewardEarned"]


def test_the_second_copy_of_a_double_sided_goal_adds_only_the_referees_reward(hub: Hub, sandboxes: Sandboxes):
    # Given the two events GrowSurf sends for one double-sided reward: the referrer's, then the referee's
    referrer, referee = growsurf_participant("Ada"), growsurf_participant("Grace")
    referrer_copy = growsurf_goal(sandboxes, referrer, referee, referrer_side=True)
    referee_copy = growsurf_goal(sandboxes, referrer, referee, referrer_side=False)
    # When both are delivered
    first = post(hub, "growsurf", referrer_copy, secret=GROWSURF_SECRET)
    second = post(hub, "growsurf", referee_copy, secret=GROWSURF_SECRET)
    # Then the conversion they share is queued once; the referee's own reward is queued
    assert first.json()["queued"] == ["referralRewardEarned", "referralConverted"]
    assert second.json()["queued"] == ["referralRewardEarned"]
    assert second.json()["duplicates"] == ["referralConverted"]
    # And Loops got one conversion (the referrer's) and one reward per side
    wait_until(lambda: events_for(sandboxes, referee["email"]) and len(events_for(sandboxes, referrer["email"])) >= 2)
    fence(hub, sandboxes)
    assert sorted(e.name for e in events_for(sandboxes, referrer["email"])) == [
        "referralConverted",
        "referralRewardEarned",
    ]
    assert [e.name for e in events_for(sandboxes, referee["email"])] == ["referralRewardEarned"]


def test_an_event_the_hub_does_not_act_on_is_acknowledged_and_ignored(hub: Hub, sandboxes: Sandboxes):
    # Given a verified CAMPAIGN_ENDED delivery
    payload = {"event": "CAMPAIGN_ENDED", "createdAt": 1795000000000, "data": {"id": sandboxes.growsurf.campaign_id}}
    # When it is delivered
    response = post(hub, "growsurf", payload, secret=GROWSURF_SECRET)
    # Then it is answered 200 (no retries), saying it is ignored, with nothing queued
    assert response.status_code == 200, response.text
    assert response.json()["eventType"] == "CAMPAIGN_ENDED"
    assert response.json()["queued"] == []
    assert "not an event the hub acts on" in response.json()["ignored"]


def test_a_verified_body_that_is_not_json_is_a_400(hub: Hub, sandboxes: Sandboxes):
    # Given a body that is not JSON, correctly signed
    body = b"event=NEW_PARTICIPANT_ADDED"
    headers, _ = signed("growsurf", body, GROWSURF_SECRET)
    # When it is delivered for the campaign
    response = hub.session.post(
        f"{hub.url}/webhooks/growsurf", data=body, headers=headers, params={"campaign": "demo-growsurf"}, timeout=30
    )
    # Then it is a 400 VALIDATION_ERROR naming the body
    assert response.status_code == 400, response.text
    assert response.json()["error"]["details"][0]["field"] == "body"


# -- SparkLoop and Viral Loops -----------------------------------------------------------------------


def sparkloop_referral(sandboxes: Sandboxes, *, seeded: bool = True) -> dict[str, Any]:
    """SparkLoop's new_referral of Grace by Ada (who has three referrals); with ``seeded`` both are
    SparkLoop's subscribers, as they are when SparkLoop sends it (the hub reads them back)."""
    ada, grace = f"ada-{tag()}@example.com", f"grace-{tag()}@example.com"
    if seeded:
        referrer = sandboxes.sparkloop.seed_subscriber(ada, name="Ada Example")
        sandboxes.sparkloop.seed_subscriber(grace, name="Grace Example", referrer=ada)
        for n in range(2):
            sandboxes.sparkloop.seed_subscriber(f"friend{n}-{tag()}@example.com", referrer=referrer["ref_code"])

    def subscriber(name: str, email: str, count: int) -> dict[str, Any]:
        code = tag()[:8]
        return {
            "id": f"sub_{tag()}",
            "first_name": name,
            "name": f"{name} Example",
            "email": email,
            "referral_code": code,
            "referral_link": f"https://example.com/?rh_ref={code}",
            "tot_referrals": count,
            "created_at": 1794990000,
        }

    return {
        "type": "new_referral",
        "campaign_id": sandboxes.sparkloop.campaign_id,
        "subscriber": subscriber("Grace", grace, 0),
        "referrer": subscriber("Ada", ada, 3),
    }


def test_sparkloop_with_a_wrong_token_is_refused(hub: Hub, sandboxes: Sandboxes):
    # Given a SparkLoop delivery carrying a token that is not the campaign's
    payload = sparkloop_referral(sandboxes)
    # When it is delivered
    response = post(hub, "sparkloop", payload, headers={"SparkLoop-Token": "guessed-token"})
    # Then it is refused, and nothing reaches Loops
    assert response.status_code == 401, response.text
    assert response.json() == REFUSED
    fence(hub, sandboxes)
    assert loops_requests_for(sandboxes, payload["subscriber"]["email"]) == []


def test_a_sparkloop_new_referral_adds_the_subscriber_and_credits_the_referrer(hub: Hub, sandboxes: Sandboxes):
    # Given SparkLoop's new_referral with the account's token
    payload = sparkloop_referral(sandboxes)
    subscriber, referrer = payload["subscriber"]["email"], payload["referrer"]["email"]
    # When it is delivered
    response = post(hub, "sparkloop", payload, secret=SPARKLOOP_TOKEN)
    # Then the subscriber's contact gets referralParticipantAdded, the referrer's referralConverted
    assert response.status_code == 200, response.text
    assert response.json()["campaign"] == "demo-sparkloop"
    wait_until(lambda: events_for(sandboxes, subscriber) and events_for(sandboxes, referrer))
    assert [e.name for e in events_for(sandboxes, subscriber)] == ["referralParticipantAdded"]
    assert [e.name for e in events_for(sandboxes, referrer)] == ["referralConverted"]
    added = sandboxes.loops.contact(subscriber)
    assert added is not None
    assert added["referredByEmail"] == referrer
    assert added["firstName"] == "Grace"
    credited = sandboxes.loops.contact(referrer)
    assert credited is not None
    assert credited["referralCount"] == 3


def test_a_viral_loops_participation_with_the_url_token_reaches_loops(hub: Hub, sandboxes: Sandboxes):
    # Given Viral Loops' participation event of a participant it has, delivered to the URL with the token
    user = {"firstname": "Lana", "lastname": "D", "email": f"lana-{tag()}@example.com", "referralCode": tag()}
    seeded = sandboxes.viral_loops.seed_participant(user["email"], first_name="Lana")
    payload = {"type": "participation", "user": user}
    # When it is delivered
    response = post(hub, "viral_loops", payload, secret=VIRAL_LOOPS_TOKEN)
    # Then the participant's contact gets referralParticipantAdded with its code
    assert response.status_code == 200, response.text
    assert response.json()["campaign"] == "demo-viral-loops"
    (event,) = wait_until(lambda: events_for(sandboxes, user["email"]))
    assert event.name == "referralParticipantAdded"
    contact = sandboxes.loops.contact(user["email"])
    assert contact is not None
    # And the contact carries Viral Loops' referral code, not the payload's
    assert contact["referralCode"] == seeded["referralCode"]


def test_a_viral_loops_delivery_without_the_token_is_refused(hub: Hub, sandboxes: Sandboxes):
    # Given a participation event posted to the webhook URL without its token
    payload = {"type": "participation", "user": {"email": f"nobody-{tag()}@example.com"}}
    # When it is delivered
    response = post(hub, "viral_loops", payload, query={"campaign": "demo-viral-loops"})
    # Then it is refused
    assert response.status_code == 401, response.text
    assert response.json() == REFUSED


def test_every_refusal_answers_the_same_whatever_failed(hub: Hub, sandboxes: Sandboxes):
    # Given deliveries failing each check a stranger could probe: an unknown campaign, a campaign id no
    # campaign has, no signature, a 400-digit timestamp, a body that is not base64, a wrong token
    payload = growsurf_added(sandboxes, growsurf_participant("Probe"))
    body = json.dumps(payload).encode("utf-8")
    url = f"{hub.url}/webhooks/growsurf"
    attempts = [
        post(hub, "growsurf", payload, secret=GROWSURF_SECRET, query={"campaign": "demo-viral-loops"}),
        post(hub, "growsurf", {**payload, "data": {**payload["data"], "campaign": {"id": "nope"}}}),
        post(hub, "growsurf", payload),
        hub.session.post(url, data=body, headers={"GrowSurf-Signature": "ts=" + "9" * 400 + ",v=ab"}, timeout=30),
        post(hub, "sparkloop", sparkloop_referral(sandboxes, seeded=False), headers={"SparkLoop-Token": "x"}),
        post(hub, "viral_loops", {"type": "participation"}, query={"token": "x", "campaign": "demo-growsurf"}),
    ]
    # When their answers are compared
    # Then each is the same 401 with the same body: nothing tells which check failed or what exists
    assert [response.status_code for response in attempts] == [401] * len(attempts)
    assert all(response.json() == REFUSED for response in attempts)


def test_a_sparkloop_referral_sparkloop_does_not_have_is_acknowledged_but_not_emailed(hub: Hub, sandboxes: Sandboxes):
    # Given a new_referral with the account's token, of subscribers SparkLoop has never heard of
    payload = sparkloop_referral(sandboxes, seeded=False)
    # When it is delivered
    response = post(hub, "sparkloop", payload, secret=SPARKLOOP_TOKEN)
    # Then it is acknowledged (SparkLoop stops retrying), ignored as not confirmed, nothing queued
    assert response.status_code == 200, response.text
    assert response.json()["queued"] == []
    assert response.json()["jobId"] is None
    assert "not confirmed by the provider" in response.json()["ignored"]
    # And Loops received nothing for either of them
    fence(hub, sandboxes)
    assert loops_requests_for(sandboxes, payload["subscriber"]["email"]) == []
    assert loops_requests_for(sandboxes, payload["referrer"]["email"]) == []


def test_a_sparkloop_reward_sends_no_coupon_or_name_sparkloop_cannot_confirm(hub: Hub, sandboxes: Sandboxes):
    # Given Ada, a SparkLoop subscriber with three referrals, and a reward_unlocked at three carrying a
    # coupon code and a reward name (SparkLoop's API has no rewards to confirm them against)
    referral = sparkloop_referral(sandboxes)
    ada = referral["referrer"]
    payload = {
        "type": "reward_unlocked",
        "campaign_id": sandboxes.sparkloop.campaign_id,
        "referrals": 3,
        "coupon_code": "ATTACKER-CODE",
        "subscriber": ada,
        "reward": {"id": f"reward_{tag()}", "name": "Click evil.example", "referrals": 3},
    }
    # When it is delivered with the account's token
    response = post(hub, "sparkloop", payload, secret=SPARKLOOP_TOKEN)
    # Then the reward earned is queued
    assert response.status_code == 200, response.text
    assert response.json()["queued"] == ["referralRewardEarned"]
    # And Loops' event carries the count SparkLoop confirmed, not the payload's coupon code or name
    (earned,) = wait_until(lambda: events_for(sandboxes, ada["email"]))
    assert earned.event_properties["rewardReferrals"] == 3
    assert not {"couponCode", "rewardName"} & set(earned.event_properties)


def test_a_viral_loops_milestone_of_a_reward_viral_loops_does_not_have_is_not_emailed(hub: Hub, sandboxes: Sandboxes):
    # Given a Viral Loops participant without rewards, and a milestone claiming one with a coupon-like name
    email = f"lana-{tag()}@example.com"
    sandboxes.viral_loops.seed_participant(email, first_name="Lana")
    payload = {"type": "milestone", "user": {"email": email}, "reward": {"id": "clforged", "name": "FREE-1000"}}
    # When it is delivered with the campaign's token
    response = post(hub, "viral_loops", payload, secret=VIRAL_LOOPS_TOKEN)
    # Then it is acknowledged and ignored, and nothing reaches Loops
    assert response.status_code == 200, response.text
    assert "not confirmed by the provider" in response.json()["ignored"]
    fence(hub, sandboxes)
    assert loops_requests_for(sandboxes, email) == []


def test_a_sparkloop_delivery_sparkloop_cannot_confirm_now_is_a_503(hub: Hub, sandboxes: Sandboxes):
    # Given a genuine new_referral, and SparkLoop answering 503 to every read
    payload = sparkloop_referral(sandboxes)
    sandboxes.sparkloop.inject(503, times=100, path="/subscribers")
    # When it is delivered
    response = post(hub, "sparkloop", payload, secret=SPARKLOOP_TOKEN)
    # Then it fails with 503 (SparkLoop delivers it again later), and nothing reaches Loops
    assert response.status_code == 503, response.text
    assert response.json()["error"]["code"] == "PROVIDER_UNAVAILABLE"
    fence(hub, sandboxes)
    assert loops_requests_for(sandboxes, payload["subscriber"]["email"]) == []


# -- the command line --------------------------------------------------------------------------------


def test_the_command_line_signs_a_sample_and_posts_it(hub: Hub, sandboxes: Sandboxes):
    # Given the GrowSurf participant-added sample event and the local run's demo secret
    env = {key: value for key, value in os.environ.items() if key != "HUB_CONFIG"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "layers/hub/python"), str(ROOT)])
    sample = ROOT / "events/api_webhook_growsurf_participant_added.json"
    # When the command line delivers it to the hub
    done = subprocess.run(  # noqa: S603 - our own interpreter and module
        [
            sys.executable,
            "-m",
            "local.webhook",
            "growsurf",
            str(sample),
            "--url",
            hub.url,
            "--campaign",
            "demo-growsurf",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    # Then the hub accepted it, and Loops received the participant's event
    assert done.returncode == 0, done.stdout + done.stderr
    status, answer = done.stdout.split("\n", 1)
    assert status == "200"
    assert json.loads(answer)["queued"] == ["referralParticipantAdded"]
    email = json.loads(json.loads(sample.read_text())["body"])["data"]["email"]
    (event,) = wait_until(lambda: events_for(sandboxes, email))
    assert event.name == "referralParticipantAdded"


def test_no_webhook_secret_appears_in_the_hub_log(hub: Hub, sandboxes: Sandboxes):
    # Given deliveries with right and wrong secrets, a token in the URL among them
    post(
        hub,
        "viral_loops",
        {"type": "participation", "user": {"email": f"log-{tag()}@example.com"}},
        secret=VIRAL_LOOPS_TOKEN,
    )
    post(hub, "sparkloop", sparkloop_referral(sandboxes), headers={"SparkLoop-Token": SPARKLOOP_TOKEN + "x"})
    # When the hub's log is read
    log = hub.log_path.read_text(errors="replace")
    # Then none of the webhook secrets is in it
    assert "/webhooks/" in log
    assert [secret for secret in DEMO_WEBHOOK_SECRETS.values() if secret in log] == []


def test_a_webhook_event_reaches_loops_events_send_with_its_data_in_event_properties(hub: Hub, sandboxes: Sandboxes):
    # Given GrowSurf's goal event for a referrer whose friend converted
    referrer, referee = growsurf_participant("Ada"), growsurf_participant("Grace")
    # When GrowSurf delivers it
    response = post(hub, "growsurf", growsurf_goal(sandboxes, referrer, referee), secret=GROWSURF_SECRET)
    assert response.status_code == 200, response.text
    wait_until(lambda: len(events_for(sandboxes, referrer["email"])) == 2)
    # Then each events/send body held only the email, the event name and eventProperties
    sends = [
        r.json for r in sandboxes.loops.requests_to("/events/send", "POST") if r.json["email"] == referrer["email"]
    ]
    assert {body["eventName"] for body in sends} == {"referralRewardEarned", "referralConverted"}
    assert all(set(body) == {"email", "eventName", "eventProperties"} for body in sends)
    earned = next(body for body in sends if body["eventName"] == "referralRewardEarned")
    assert earned["eventProperties"]["rewardId"] == f"prew_{referrer['id']}_{referee['id']}"
    assert earned["eventProperties"]["couponCode"] == "THANKS-20"
    assert earned["eventProperties"]["referralCampaign"] == "demo-growsurf"
    # And the contact properties (the referral stats) went to contacts/update, without the event's data
    updates = [
        r.json for r in sandboxes.loops.requests_to("/contacts/update", "PUT") if r.json["email"] == referrer["email"]
    ]
    assert updates
    assert all(update["referralShareUrl"] == referrer["shareUrl"] for update in updates)
    assert all(not {"rewardId", "couponCode", "eventProperties"} & set(update) for update in updates)
