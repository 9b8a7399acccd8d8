"""Every route over HTTP on the local run, against the sandbox providers: what the user got back and
what the provider received."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from local.run import Sandboxes

from .conftest import Hub

GROWSURF, VIRAL_LOOPS, SPARKLOOP = "demo-growsurf", "demo-viral-loops", "demo-sparkloop"
CAMPAIGNS = [GROWSURF, VIRAL_LOOPS, SPARKLOOP]
PROVIDER_OF = {GROWSURF: "growsurf", VIRAL_LOOPS: "viral_loops", SPARKLOOP: "sparkloop"}
# The provider path that adds a participant, per campaign.
ADD_PATH = {
    GROWSURF: "/participant",
    VIRAL_LOOPS: "/v2/campaign/participant",
    SPARKLOOP: "/subscribers",
}


def email(tag: str = "user") -> str:
    return f"{tag}-{uuid.uuid4().hex[:10]}@example.com"


def sandbox_of(sandboxes: Sandboxes, campaign: str):
    return sandboxes.all[PROVIDER_OF[campaign]]


def add(hub: Hub, campaign: str, address: str, **fields) -> dict:
    response = hub.post(f"/campaigns/{campaign}/participants", {"email": address, **fields})
    assert response.status_code in (200, 201), response.text
    return response.json()


def referred_pair(hub: Hub, campaign: str) -> tuple[str, str]:
    """A referrer and a friend who signed up through the referrer's email."""
    referrer, friend = email("referrer"), email("friend")
    add(hub, campaign, referrer, firstName="Rita")
    add(hub, campaign, friend, referrer=referrer)
    return referrer, friend


# -- add participant -------------------------------------------------------------------------------


@pytest.mark.parametrize("campaign", CAMPAIGNS)
def test_add_participant_answers_201_with_the_normalized_participant(hub, sandboxes, campaign):
    # Given a new email
    address = email()
    # When it is added
    response = hub.post(f"/campaigns/{campaign}/participants", {"email": address, "firstName": "Ada", "lastName": "L"})
    # Then the hub answers 201 with the normalized participant
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["email"] == address
    assert body["created"] is True
    assert body["campaign"] == campaign
    assert body["provider"] == PROVIDER_OF[campaign]
    assert body["referralCode"]
    assert isinstance(body["providerData"], dict)
    # And the provider received one add with that email
    (received,) = sandbox_of(sandboxes, campaign).requests_to(ADD_PATH[campaign], "POST")
    assert received.json["email"] == address


@pytest.mark.parametrize("campaign", CAMPAIGNS)
def test_adding_an_existing_email_answers_200_with_created_false(hub, campaign):
    # Given a participant
    address = email()
    first = add(hub, campaign, address, firstName="Ada")
    # When the same email is added again
    response = hub.post(f"/campaigns/{campaign}/participants", {"email": address})
    # Then the hub answers 200 with the existing participant
    assert response.status_code == 200, response.text
    assert response.json()["created"] is False
    assert response.json()["id"] == first["id"]


@pytest.mark.parametrize("campaign", CAMPAIGNS)
def test_a_referrer_given_by_email_or_by_code_links_the_friend(hub, campaign):
    # Given a referrer
    referrer = add(hub, campaign, email("referrer"))
    # When one friend names the referrer by email and another by referral code
    by_email = add(hub, campaign, email("friend"), referrer=referrer["email"])
    by_code = add(hub, campaign, email("friend"), referrer=referrer["referralCode"])
    # Then both carry the referrer
    for friend in (by_email, by_code):
        assert friend["referrer"] is not None
        assert referrer["referralCode"] == friend["referrer"]["referralCode"] or (
            referrer["email"] == friend["referrer"]["email"]
        )


def test_an_unknown_referrer_email_is_a_validation_error_naming_the_field(hub):
    response = hub.post(
        f"/campaigns/{VIRAL_LOOPS}/participants", {"email": email(), "referrer": "nobody-here@example.com"}
    )
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["field"] == "referrer"


# -- reads -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("campaign", CAMPAIGNS)
def test_get_participant_answers_the_normalized_participant(hub, campaign):
    address = email()
    add(hub, campaign, address, firstName="Grace")
    response = hub.get(f"/campaigns/{campaign}/participants/{address}")
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["email"], body["firstName"], body["campaign"]) == (address, "Grace", campaign)
    assert set(body) >= {"id", "referralCode", "shareUrl", "referralCount", "rank", "referrer", "flagged", "createdAt"}


@pytest.mark.parametrize("campaign", CAMPAIGNS)
def test_an_unknown_participant_is_404_participant_not_found(hub, campaign):
    response = hub.get(f"/campaigns/{campaign}/participants/{email('ghost')}")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "PARTICIPANT_NOT_FOUND"


def test_an_unknown_campaign_is_404_campaign_not_found(hub):
    response = hub.get(f"/campaigns/no-such-campaign/participants/{email()}")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "CAMPAIGN_NOT_FOUND"


@pytest.mark.parametrize("campaign", CAMPAIGNS)
def test_referrals_list_the_referred_friend(hub, campaign):
    referrer, friend = referred_pair(hub, campaign)
    response = hub.get(f"/campaigns/{campaign}/participants/{referrer}/referrals")
    assert response.status_code == 200, response.text
    assert [item["email"] for item in response.json()["items"]] == [friend]


def test_leaderboard_ranks_by_referrals_and_pages(hub):
    # Given a referrer with a converted friend, and two more participants
    referrer, friend = referred_pair(hub, GROWSURF)
    assert hub.post(f"/campaigns/{GROWSURF}/conversions", {"email": friend}).status_code == 200
    add(hub, GROWSURF, email())
    # When the first page of one is read
    first = hub.get(f"/campaigns/{GROWSURF}/leaderboard?limit=2")
    # Then the referrer leads and a cursor leads to the next page
    assert first.status_code == 200, first.text
    page = first.json()
    assert page["items"][0]["email"] == referrer
    assert page["nextCursor"]
    second = hub.get(f"/campaigns/{GROWSURF}/leaderboard?limit=2&cursor={page['nextCursor']}")
    assert second.status_code == 200
    assert {p["email"] for p in second.json()["items"]}.isdisjoint({p["email"] for p in page["items"]})


@pytest.mark.parametrize(("campaign", "operation"), [(VIRAL_LOOPS, "leaderboard"), (SPARKLOOP, "leaderboard")])
def test_an_operation_the_provider_lacks_is_501_naming_provider_and_operation(hub, campaign, operation):
    response = hub.get(f"/campaigns/{campaign}/leaderboard")
    assert response.status_code == 501
    error = response.json()["error"]
    assert error["code"] == "UNSUPPORTED_OPERATION"
    assert error["details"][0]["operation"] == operation


# -- convert, redeem, flag -------------------------------------------------------------------------


@pytest.mark.parametrize("campaign", [GROWSURF, VIRAL_LOOPS])
def test_convert_credits_the_referrer_once(hub, campaign):
    # Given a referred friend
    referrer, friend = referred_pair(hub, campaign)
    # When the friend converts
    response = hub.post(f"/campaigns/{campaign}/conversions", {"email": friend})
    # Then the referrer's referral count went up by one
    assert response.status_code == 200, response.text
    assert response.json()["converted"] is True
    assert hub.get(f"/campaigns/{campaign}/participants/{referrer}").json()["referralCount"] == 1


def test_convert_on_sparkloop_is_501_and_reaches_no_provider(hub, sandboxes):
    # Given a SparkLoop subscriber
    address = email()
    add(hub, SPARKLOOP, address)
    sandboxes.sparkloop.received.clear()
    # When a conversion is asked for
    response = hub.post(f"/campaigns/{SPARKLOOP}/conversions", {"email": address})
    # Then 501 names SparkLoop, and SparkLoop received nothing
    assert response.status_code == 501
    assert response.json()["error"]["details"] == [{"provider": "SparkLoop", "operation": "convert"}]
    assert sandboxes.sparkloop.received == []


@pytest.mark.parametrize("campaign", [GROWSURF, VIRAL_LOOPS])
def test_a_repeated_convert_without_a_key_reaches_the_provider_once(hub, sandboxes, campaign):
    # Given a referred friend converted once
    _, friend = referred_pair(hub, campaign)
    first = hub.post(f"/campaigns/{campaign}/conversions", {"email": friend})
    # When the same conversion is retried
    second = hub.post(f"/campaigns/{campaign}/conversions", {"email": friend})
    # Then the retry replays the first answer and the provider saw one conversion
    assert second.status_code == first.status_code == 200
    assert second.headers.get("Idempotent-Replayed") == "true"
    assert second.json() == first.json()
    converts = [r for r in sandbox_of(sandboxes, campaign).received if r.path.endswith(("/convert", "/ref"))]
    assert len(converts) == 1


@pytest.mark.parametrize("campaign", [GROWSURF, VIRAL_LOOPS])
def test_a_convert_retried_with_the_email_spelt_otherwise_is_a_replay_not_a_key_reuse(hub, sandboxes, campaign):
    # Given a referred friend converted once, without a key
    _, friend = referred_pair(hub, campaign)
    first = hub.post(f"/campaigns/{campaign}/conversions", {"email": friend})
    # When the conversion is retried with the email in capitals
    second = hub.post(f"/campaigns/{campaign}/conversions", {"email": friend.upper()})
    # Then it is the same conversion: the first answer again, and one conversion at the provider
    assert second.status_code == first.status_code == 200, second.text
    assert second.headers.get("Idempotent-Replayed") == "true"
    assert second.json() == first.json()
    converts = [r for r in sandbox_of(sandboxes, campaign).received if r.path.endswith(("/convert", "/ref"))]
    assert len(converts) == 1


def test_a_convert_retried_without_its_key_after_a_keyed_call_is_a_replay(hub, sandboxes):
    # Given a conversion made with an Idempotency-Key
    _, friend = referred_pair(hub, GROWSURF)
    keyed = hub.post(
        f"/campaigns/{GROWSURF}/conversions", {"email": friend}, headers={"Idempotency-Key": "k-" + friend}
    )
    # When a retry comes without the header (a retry layer that drops it), or with another key
    bare = hub.post(f"/campaigns/{GROWSURF}/conversions", {"email": friend})
    other = hub.post(f"/campaigns/{GROWSURF}/conversions", {"email": friend}, headers={"Idempotency-Key": "other"})
    # Then each answers the first conversion, replayed, and GrowSurf was asked to credit once
    assert keyed.status_code == bare.status_code == other.status_code == 200, (bare.text, other.text)
    assert bare.headers.get("Idempotent-Replayed") == other.headers.get("Idempotent-Replayed") == "true"
    assert bare.json() == other.json() == keyed.json()
    assert len(sandboxes.growsurf.requests_to("/ref", "POST")) == 1


@pytest.mark.parametrize("campaign", [GROWSURF, VIRAL_LOOPS])
def test_redeem_marks_the_pending_reward_redeemed(hub, campaign):
    # Given a referrer whose friend converted, earning a pending reward
    referrer, friend = referred_pair(hub, campaign)
    assert hub.post(f"/campaigns/{campaign}/conversions", {"email": friend}).status_code == 200
    pending = hub.get(f"/campaigns/{campaign}/participants/{referrer}/rewards?status=pending").json()["items"]
    assert len(pending) == 1
    reward = pending[0]
    # When it is redeemed
    response = hub.post(
        f"/campaigns/{campaign}/redemptions",
        {"email": referrer, "rewardId": reward["id"], "milestoneId": reward.get("milestoneId")},
    )
    # Then it is no longer pending, and shows as redeemed
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "redeemed"
    after = hub.get(f"/campaigns/{campaign}/participants/{referrer}/rewards").json()["items"]
    assert [r["status"] for r in after if r["id"] == reward["id"]] in (["redeemed"], [])
    assert hub.get(f"/campaigns/{campaign}/participants/{referrer}/rewards?status=pending").json()["items"] == []


def test_flag_sends_the_reason_to_viral_loops(hub, sandboxes):
    address = email()
    add(hub, VIRAL_LOOPS, address)
    response = hub.post(f"/campaigns/{VIRAL_LOOPS}/flags", {"email": address, "reason": "same IP as 40 others"})
    assert response.status_code == 200, response.text
    assert response.json()["flagged"] is True
    (received,) = sandboxes.viral_loops.requests_to("/participant/flag", "POST")
    assert (received.json["email"], received.json["reason"]) == (address, "same IP as 40 others")
    # Viral Loops' participant answers never say whether one is flagged: the provider's state says it
    assert sandboxes.viral_loops.participant(address)["flagged"] is True


def test_viral_loops_rewards_are_read_and_redeemed_on_the_rewards_host(hub, sandboxes):
    # Given a Viral Loops referrer with a pending reward
    referrer, friend = referred_pair(hub, VIRAL_LOOPS)
    hub.post(f"/campaigns/{VIRAL_LOOPS}/conversions", {"email": friend})
    (reward,) = hub.get(f"/campaigns/{VIRAL_LOOPS}/participants/{referrer}/rewards?status=pending").json()["items"]
    # When it is redeemed
    response = hub.post(f"/campaigns/{VIRAL_LOOPS}/redemptions", {"email": referrer, "rewardId": reward["id"]})
    # Then it is redeemed, and every reward call reached the rewards base (…/v2/…), never the /api host
    assert response.status_code == 200, response.text
    reward_paths = [r.path for r in sandboxes.viral_loops.received if "/rewards/" in r.path]
    assert reward_paths and all(path.startswith("/v2/campaign/participant/rewards/") for path in reward_paths)


def test_a_viral_loops_convert_answers_credited(hub, sandboxes):
    # Given a referred Viral Loops participant
    referrer, friend = referred_pair(hub, VIRAL_LOOPS)
    # When the friend converts
    response = hub.post(f"/campaigns/{VIRAL_LOOPS}/conversions", {"email": friend})
    # Then the hub says the referrer was credited, and Viral Loops counts it
    assert response.status_code == 200, response.text
    assert response.json()["credited"] is True
    assert sandboxes.viral_loops.participant(referrer)["referralCount"] == 1


def test_a_convert_answers_the_same_keys_whatever_the_provider(hub, sandboxes):
    # Given a referred participant in the GrowSurf and in the Viral Loops campaign
    answers, friends = {}, {}
    for campaign in (GROWSURF, VIRAL_LOOPS):
        _referrer, friends[campaign] = referred_pair(hub, campaign)
        # When each converts
        response = hub.post(f"/campaigns/{campaign}/conversions", {"email": friends[campaign]})
        assert response.status_code == 200, response.text
        answers[campaign] = response.json()
    # Then both answers carry the same keys, each credited, naming the referrer the provider credited
    assert set(answers[GROWSURF]) == set(answers[VIRAL_LOOPS])
    for campaign, body in answers.items():
        assert (body["campaign"], body["converted"], body["credited"]) == (campaign, True, True)
    assert answers[GROWSURF]["referralStatus"] == "CREDIT_AWARDED"
    assert answers[VIRAL_LOOPS]["referralStatus"] is None
    # And each provider received its own convert call for that friend
    triggers = sandboxes.growsurf.requests_to("/ref", "POST")
    assert len(triggers) == 1 and triggers[0].path.split("/")[-2] in (
        friends[GROWSURF],
        sandboxes.growsurf.participant(friends[GROWSURF])["id"],
    )
    (converted,) = sandboxes.viral_loops.requests_to("/convert", "POST")
    assert converted.path == "/api/v2/campaign/participant/convert"
    assert converted.json == {"campaignId": sandboxes.viral_loops.campaign_id, "email": friends[VIRAL_LOOPS]}


def test_a_viral_loops_add_with_an_ip_address_is_refused_naming_it(hub, sandboxes):
    # Given an add carrying ipAddress, which Viral Loops has no place for
    response = hub.post(f"/campaigns/{VIRAL_LOOPS}/participants", {"email": email(), "ipAddress": "203.0.113.9"})
    # Then it is refused with 422 naming the field, and Viral Loops received nothing
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["field"] == "ipAddress"
    assert sandboxes.viral_loops.received == []


def test_a_viral_loops_participant_is_read_with_a_mixed_case_email(hub, sandboxes):
    # Given a Viral Loops participant
    address = email()
    add(hub, VIRAL_LOOPS, address, firstName="Grace")
    # When it is read with its email in upper case
    response = hub.get(f"/campaigns/{VIRAL_LOOPS}/participants/{address.upper()}")
    # Then it is found (Viral Loops was sent the lower-case email) and its id is its referral code
    assert response.status_code == 200, response.text
    assert response.json()["id"] == response.json()["referralCode"]
    assert {r.query.get("email") for r in sandboxes.viral_loops.requests_to("/participant", "GET")} == {address}


@pytest.mark.parametrize("campaign", [GROWSURF, SPARKLOOP])
def test_flag_where_the_provider_has_none_is_501(hub, campaign):
    response = hub.post(f"/campaigns/{campaign}/flags", {"email": email(), "reason": "spam"})
    assert response.status_code == 501
    assert response.json()["error"]["code"] == "UNSUPPORTED_OPERATION"


# -- exactly once under concurrency ----------------------------------------------------------------


def test_ten_concurrent_identical_redeems_reach_the_provider_once(hub, sandboxes):
    # Given a pending Viral Loops reward
    referrer, friend = referred_pair(hub, VIRAL_LOOPS)
    hub.post(f"/campaigns/{VIRAL_LOOPS}/conversions", {"email": friend})
    reward = hub.get(f"/campaigns/{VIRAL_LOOPS}/participants/{referrer}/rewards?status=pending").json()["items"][0]
    body = {"email": referrer, "rewardId": reward["id"], "milestoneId": reward["milestoneId"]}
    # When ten identical redeems with the same key arrive at once
    with ThreadPoolExecutor(max_workers=10) as pool:
        answers = list(
            pool.map(
                lambda _: hub.post(
                    f"/campaigns/{VIRAL_LOOPS}/redemptions", body, headers={"Idempotency-Key": "redeem-once"}
                ),
                range(10),
            )
        )
    # Then every caller got the same success, and the provider received exactly one redeem
    assert [a.status_code for a in answers] == [200] * 10
    assert len({a.text for a in answers}) == 1 or len({str(sorted(a.json().items())) for a in answers}) == 1
    assert len(sandboxes.viral_loops.requests_to("/rewards/redeem", "POST")) == 1


def test_ten_concurrent_converts_without_a_key_reach_the_provider_once(hub, sandboxes):
    _, friend = referred_pair(hub, GROWSURF)
    with ThreadPoolExecutor(max_workers=10) as pool:
        answers = list(pool.map(lambda _: hub.post(f"/campaigns/{GROWSURF}/conversions", {"email": friend}), range(10)))
    assert [a.status_code for a in answers] == [200] * 10
    assert len(sandboxes.growsurf.requests_to("/ref", "POST")) == 1


def test_an_idempotency_key_reused_with_another_body_is_409(hub):
    address = email()
    add(hub, VIRAL_LOOPS, address)
    headers = {"Idempotency-Key": f"flag-{uuid.uuid4()}"}
    first = hub.post(f"/campaigns/{VIRAL_LOOPS}/flags", {"email": address, "reason": "one"}, headers=headers)
    second = hub.post(f"/campaigns/{VIRAL_LOOPS}/flags", {"email": address, "reason": "two"}, headers=headers)
    assert first.status_code == 200
    assert second.status_code == 409
    assert second.json()["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"


def test_a_replayed_add_answers_the_first_status_and_body(hub, sandboxes):
    headers = {"Idempotency-Key": f"add-{uuid.uuid4()}"}
    body = {"email": email(), "firstName": "Ada"}
    first = hub.post(f"/campaigns/{GROWSURF}/participants", body, headers=headers)
    second = hub.post(f"/campaigns/{GROWSURF}/participants", body, headers=headers)
    assert (first.status_code, second.status_code) == (201, 201)
    assert second.json() == first.json()
    assert second.headers["Idempotent-Replayed"] == "true"
    assert len(sandboxes.growsurf.requests_to("/participant", "POST")) == 1


# -- contacts --------------------------------------------------------------------------------------


def test_sync_contact_upserts_the_contact_and_sends_the_event_once(hub, sandboxes):
    # Given a contact with properties and an event, sent twice with one key
    address = email()
    body = {
        "email": address,
        "firstName": "Ada",
        "userId": "u-1",
        "properties": {"plan": "pro"},
        "event": {"name": "upgraded", "properties": {"price": 99}},
    }
    headers = {"Idempotency-Key": f"sync-{uuid.uuid4()}"}
    first = hub.post("/contacts/sync", body, headers=headers)
    second = hub.post("/contacts/sync", body, headers=headers)
    # Then Loops received one upsert with the fields and one event with an idempotency key
    assert first.status_code == second.status_code == 200, first.text
    (update,) = sandboxes.loops.requests_to("/contacts/update", "PUT")
    assert (update.json["email"], update.json["firstName"], update.json["userId"], update.json["plan"]) == (
        address,
        "Ada",
        "u-1",
        "pro",
    )
    (event,) = sandboxes.loops.requests_to("/events/send", "POST")
    assert (event.json["eventName"], event.json["eventProperties"]["price"]) == ("upgraded", 99)
    assert event.header("Idempotency-Key")


@pytest.mark.parametrize("campaign", CAMPAIGNS)
def test_sync_from_a_campaign_copies_referral_stats_onto_the_contact(hub, sandboxes, campaign):
    # Given a referrer with a referred friend
    referrer, _ = referred_pair(hub, campaign)
    participant = hub.get(f"/campaigns/{campaign}/participants/{referrer}").json()
    # When the referrer's contact is synced from the campaign
    response = hub.post("/contacts/sync", {"campaign": campaign, "email": referrer})
    # Then Loops received the referral stats as contact properties
    assert response.status_code == 200, response.text
    (update,) = sandboxes.loops.requests_to("/contacts/update", "PUT")
    assert update.json["email"] == referrer
    assert update.json["referralCode"] == participant["referralCode"]
    assert update.json["referralCount"] == participant["referralCount"]
    assert update.json["referralCampaign"] == campaign


# -- failures --------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", [None, "wrong-key"])
def test_no_or_a_wrong_api_key_is_refused_before_any_function_runs(hub, sandboxes, key):
    request_kwargs = {"key": ""} if key is None else {"key": key}
    response = hub.post(f"/campaigns/{GROWSURF}/participants", {"email": email()}, **request_kwargs)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "UNAUTHORIZED"
    assert sandboxes.growsurf.received == []


def test_a_provider_failing_answers_502(hub, sandboxes):
    sandboxes.growsurf.inject(500, times=20)
    response = hub.get(f"/campaigns/{GROWSURF}/participants/{email()}")
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "PROVIDER_ERROR"


def test_a_provider_unavailable_answers_503(hub, sandboxes):
    sandboxes.sparkloop.inject(503, times=20)
    response = hub.get(f"/campaigns/{SPARKLOOP}/participants/{email()}")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "PROVIDER_UNAVAILABLE"


def test_a_provider_timing_out_answers_504_within_the_budget(hub, sandboxes):
    # Given a provider slower than the hub's read timeout (1 s) on every attempt
    sandboxes.viral_loops.inject(delay=2.5, times=20)
    # When a read is made, Then the hub gives up with 504 within its budget (4 s) and a read timeout
    response = hub.get(f"/campaigns/{VIRAL_LOOPS}/participants/{email()}")
    assert response.status_code == 504
    assert response.json()["error"]["code"] == "PROVIDER_TIMEOUT"
    assert response.elapsed.total_seconds() < 4 + 1 + 2


def test_an_unknown_route_is_404_in_the_error_shape(hub):
    response = hub.get("/nothing/here")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "ROUTE_NOT_FOUND"


def test_openapi_document_lists_every_route(hub):
    document = hub.get("/openapi.json").json()
    assert document["openapi"].startswith("3.")
    assert "/campaigns/{campaign}/participants" in document["paths"]
    assert "/contacts/sync" in document["paths"]
