"""The GrowSurf program's lifecycle operations over real HTTP against the GrowSurf sandbox: the campaign,
the participants page, update, delete, reward removal, approval without fulfilment and the campaign's
referrals. Each test asserts what GrowSurf received and what the hub answered, under every reading the
sandbox offers where the document is silent."""

from __future__ import annotations

import pytest
import requests

from hub.domain.errors import (
    AlreadyRedeemed,
    CampaignNotFound,
    Conflict,
    EmailTaken,
    ParticipantNotFound,
    ProviderError,
    RewardNotFound,
    ValidationError,
)
from hub.domain.models import Page, ReferralStatus, RewardRemoval, RewardStatus
from hub.domain.requests import UpdateParticipantRequest
from hub.providers.growsurf.client import GrowSurfClient
from hub.providers.growsurf.program import GrowSurfProgram
from hub.settings.config import CampaignConfig
from local.sandbox.growsurf import DEFAULT_REWARD_ID, GrowSurfSandbox

KEY = "gs-lifecycle-key-5b7e1d0c9a"
CAMPAIGN = "cmp7x2"
HUB_CAMPAIGN = "spring"
BASE = f"/v2/campaign/{CAMPAIGN}"
ANN = "ann+promo@example.com"
ANN_ENCODED = "ann%2Bpromo%40example.com"

#: The sandbox's readings where the document is silent: its default (the least convenient one) and the
#: others. Every test of this module runs under each.
SETTINGS = {
    "least-convenient": {},
    "conflicts-409-referrer-refused": {
        "error_style": "coded",
        "update_refusal_status": 409,
        "update_unknown_referrer": "refused",
        "referral_trigger": "SIGN_UP_QUALIFYING_ACTION",
        "trigger_refusals": True,
        "double_sided": False,
        "optional_fields": True,
    },
    "messages-422": {"error_style": "message", "update_refusal_status": 422, "approval_webhook": False},
}


@pytest.fixture(params=list(SETTINGS), ids=list(SETTINGS))
def sandbox(request, start_sandbox) -> GrowSurfSandbox:
    return start_sandbox(GrowSurfSandbox(api_key=KEY, campaign_id=CAMPAIGN, **SETTINGS[request.param]))


@pytest.fixture
def client(sandbox, fast_policy) -> GrowSurfClient:
    return GrowSurfClient(KEY, CAMPAIGN, base_url=sandbox.base_url, policy=fast_policy)


def program(client: GrowSurfClient, credit_referrals: str = "on_conversion") -> GrowSurfProgram:
    config = CampaignConfig.model_validate(
        {"provider": "growsurf", "campaign_id": CAMPAIGN, "key": {"value": KEY}, "credit_referrals": credit_referrals}
    )
    return GrowSurfProgram(HUB_CAMPAIGN, config, client)


@pytest.fixture
def hub(client) -> GrowSurfProgram:
    return program(client)


@pytest.fixture
def ann(sandbox) -> dict:
    """A participant others can name as their referrer; her email needs encoding in a path."""
    return sandbox.seed_participant(ANN, first_name="Ann", last_name="Lee", metadata={"plan": "free", "team": "a"})


@pytest.fixture
def bob(sandbox, ann) -> dict:
    """A participant Ann referred, whose credit is still pending."""
    return sandbox.seed_participant(
        "bob@example.com", first_name="Bob", referrer=ann["id"], referral_status="CREDIT_PENDING"
    )


def calls(sandbox: GrowSurfSandbox) -> list[tuple[str, str]]:
    """What GrowSurf received, in order, as (method, decoded path)."""
    return [(r.method, r.path) for r in sandbox.received]


def update(**fields) -> UpdateParticipantRequest:
    return UpdateParticipantRequest.model_validate(fields)


# -- the campaign ----------------------------------------------------------------------------------


def test_campaign_details_reads_get_campaign_and_normalizes_it(sandbox, hub, ann, bob):
    # Given a campaign of two participants, one referral credited
    sandbox.trigger(bob["id"])
    # When the campaign is read
    campaign = hub.campaign_details()
    # Then GrowSurf got one GET of the campaign, with the key
    (received,) = sandbox.received
    assert (received.method, received.path) == ("GET", BASE)
    assert received.header("Authorization") == f"Bearer {KEY}"
    # And the hub answers GrowSurf's campaign under its own name, with the catalog normalized
    assert (campaign.campaign, campaign.name, campaign.status) == (HUB_CAMPAIGN, sandbox.campaign_name, "IN_PROGRESS")
    assert (campaign.participant_count, campaign.referral_count) == (2, 1)
    (reward,) = campaign.rewards
    assert (reward.id, reward.conversions_required) == (DEFAULT_REWARD_ID, 1)
    assert reward.type == ("DOUBLE_SIDED" if sandbox.double_sided else "SINGLE_SIDED")
    assert reward.description == campaign.provider_data["rewards"][0]["description"]
    assert campaign.provider_data["id"] == CAMPAIGN


def test_campaign_details_of_an_unknown_campaign_is_campaign_not_found(sandbox, fast_policy):
    # Given a program of a campaign id GrowSurf does not have
    other = program(GrowSurfClient(KEY, "nosuch", base_url=sandbox.base_url, policy=fast_policy))
    # When its campaign is read, Then CampaignNotFound
    with pytest.raises(CampaignNotFound):
        other.campaign_details()
    assert calls(sandbox) == [("GET", "/v2/campaign/nosuch")]


# -- the participants page -------------------------------------------------------------------------


def test_participants_page_sends_limit_and_next_id_and_answers_next_id_as_the_cursor(sandbox, hub):
    # Given three participants
    ids = [sandbox.seed_participant(f"p{n}@example.com")["id"] for n in range(3)]
    # When a page of two is read, then the page its cursor names
    first = hub.participants_page(None, 2)
    second = hub.participants_page(first.next_cursor, 2)
    # Then GrowSurf got limit, then nextId and limit
    assert [r.query for r in sandbox.requests_to(f"{BASE}/participants", "GET")] == [
        {"limit": "2"},
        {"nextId": ids[2], "limit": "2"},
    ]
    # And the pages hold the participants in sign-up order, normalized; the last page has no cursor
    assert [p.id for p in first.items] == ids[:2]
    assert first.next_cursor == ids[2]
    assert [(p.id, p.email, p.campaign) for p in second.items] == [(ids[2], "p2@example.com", HUB_CAMPAIGN)]
    assert second.next_cursor is None


def test_a_cursor_growsurf_refuses_is_a_validation_error_naming_the_cursor(sandbox, hub, ann):
    # Given no participant 'zzzzzz' to start a page at
    # When a page is asked for from it
    with pytest.raises(ValidationError) as raised:
        hub.participants_page("zzzzzz", 10)
    # Then GrowSurf was asked (and refused with 400), and the hub names the cursor (422, not 502)
    (received,) = sandbox.requests_to(f"{BASE}/participants", "GET")
    assert (received.query, received.status) == ({"nextId": "zzzzzz", "limit": "10"}, 400)
    assert [d["field"] for d in raised.value.details] == ["cursor"]


def test_a_first_page_growsurf_refuses_is_not_blamed_on_a_cursor(sandbox, hub):
    # Given GrowSurf refusing the list with 400
    sandbox.inject(400, path="/participants")
    # When the first page is read, Then a validation error that names no cursor (none was sent)
    with pytest.raises(ValidationError) as raised:
        hub.participants_page(None, 10)
    assert "cursor" not in {d.get("field") for d in raised.value.details}


@pytest.mark.parametrize("limit", [0, 101])
def test_a_participants_limit_out_of_range_names_limit_before_any_call(sandbox, hub, limit):
    # Given a page size GrowSurf does not take
    # When a page is asked for, Then a validation error names limit, and GrowSurf was not called
    with pytest.raises(ValidationError) as raised:
        hub.participants_page(None, limit)
    assert [d["field"] for d in raised.value.details] == ["limit"]
    assert sandbox.received == []


def test_an_empty_campaign_is_one_empty_page(sandbox, hub):
    # Given no participants
    # When the first page is read, Then it is empty and the last
    assert hub.participants_page(None, 20) == Page(items=[], next_cursor=None)


# -- update ----------------------------------------------------------------------------------------


def test_update_sends_names_metadata_and_the_new_email_to_the_participants_email(sandbox, hub, ann):
    # Given Ann, with metadata
    new = "ann.lee@example.com"
    # When her names, email and metadata are changed (a null removes a key)
    result = hub.update_participant(
        ANN,
        update(firstName="Annie", lastName="Li", email=new, metadata={"plan": "pro", "team": None}),
    )
    # Then GrowSurf was asked who she is and whether the new email is free, then got one update by her email
    assert calls(sandbox) == [
        ("GET", f"{BASE}/participant/{ANN}"),
        ("GET", f"{BASE}/participant/{new}"),
        ("POST", f"{BASE}/participant/{ANN}"),
    ]
    assert f"{BASE}/participant/{ANN_ENCODED}" in sandbox.raw_uris
    (post,) = sandbox.requests_to(f"/participant/{ANN}", "POST")
    assert post.json == {
        "email": new,
        "firstName": "Annie",
        "lastName": "Li",
        "metadata": {"plan": "pro", "team": None},
    }
    # And the hub answers the participant GrowSurf returned, normalized
    assert (result.id, result.email, result.first_name, result.last_name) == (ann["id"], new, "Annie", "Li")
    assert result.provider_data["metadata"] == {"plan": "pro"}
    assert sandbox.participant(new)["id"] == ann["id"]


def test_a_names_or_metadata_update_is_one_call(sandbox, hub, ann):
    # Given Ann
    # When her first name and a metadata key change
    result = hub.update_participant(ANN, update(firstName="Annie", metadata={"seats": 3}))
    # Then GrowSurf got exactly one call: the update, with those fields only
    assert calls(sandbox) == [("POST", f"{BASE}/participant/{ANN}")]
    assert sandbox.received[0].json == {"firstName": "Annie", "metadata": {"seats": 3}}
    assert result.first_name == "Annie"
    assert result.provider_data["metadata"] == {"plan": "free", "team": "a", "seats": 3}


@pytest.mark.parametrize("changes", [{"firstName": "X"}, {"email": "new@example.com"}, {"referrer": ANN}])
def test_updating_an_unknown_participant_is_participant_not_found(sandbox, hub, ann, changes):
    # Given nobody with the email ghost@example.com
    # When they are updated, Then ParticipantNotFound (a 404 on their path), and nothing was changed
    with pytest.raises(ParticipantNotFound):
        hub.update_participant("ghost@example.com", update(**changes))
    assert all(r.status == 404 for r in sandbox.received if r.path.endswith("/ghost@example.com"))
    assert sandbox.participant(ANN)["firstName"] == "Ann"


def test_an_email_another_participant_has_is_email_taken_and_nothing_is_updated(sandbox, hub, ann, bob):
    # Given Ann and Bob
    # When Bob's email is changed to Ann's
    with pytest.raises(EmailTaken) as raised:
        hub.update_participant("bob@example.com", update(email=ANN, firstName="Robert"))
    # Then the hub answers 409 EMAIL_TAKEN naming email, and GrowSurf got no update
    assert raised.value.code == "EMAIL_TAKEN"
    assert [d["field"] for d in raised.value.details] == ["email"]
    assert sandbox.requests_to("/participant/bob@example.com", "POST") == []
    assert sandbox.participant(bob["id"])["firstName"] == "Bob"


def test_an_email_taken_after_it_was_checked_is_still_email_taken(sandbox, hub, ann, bob):
    # Given GrowSurf answering the check of Ann's email "not found" once, as if she joined just after it
    sandbox.inject(404, path=f"/participant/{ANN}", method="GET")
    # When Bob's email is changed to Ann's
    with pytest.raises(EmailTaken) as raised:
        hub.update_participant("bob@example.com", update(email=ANN))
    # Then GrowSurf refused the update (with its undocumented error), and the hub read that the email is Ann's
    (post,) = sandbox.requests_to("/participant/bob@example.com", "POST")
    assert post.status == sandbox.update_refusal_status
    assert [d["field"] for d in raised.value.details] == ["email"]
    assert sandbox.participant(bob["id"])["email"] == "bob@example.com"


def test_the_participants_own_email_in_other_case_is_not_taken(sandbox, hub, ann):
    # Given Ann
    # When her email is sent again in capitals
    result = hub.update_participant(ANN, update(email=ANN.upper()))
    # Then nobody else was looked up, and the update went through
    assert calls(sandbox) == [("GET", f"{BASE}/participant/{ANN}"), ("POST", f"{BASE}/participant/{ANN}")]
    assert result.email == ANN.upper()


@pytest.mark.parametrize(
    ("credit_referrals", "status", "credited"),
    [("on_conversion", "CREDIT_PENDING", 0), ("on_signup", "CREDIT_AWARDED", 1)],
)
def test_a_referrer_by_referral_code_is_looked_up_and_sent_as_its_id(
    sandbox, client, ann, credit_referrals, status, credited
):
    # Given Gil, whom nobody referred
    sandbox.seed_participant("gil@example.com")
    # When Ann's referral code (her GrowSurf id) is set as his referrer
    result = program(client, credit_referrals).update_participant("gil@example.com", update(referrer=ann["id"]))
    # Then GrowSurf was asked for Gil and for Ann by id, then got referredBy with the credit_referrals status
    assert calls(sandbox) == [
        ("GET", f"{BASE}/participant/gil@example.com"),
        ("GET", f"{BASE}/participant/{ann['id']}"),
        ("POST", f"{BASE}/participant/gil@example.com"),
    ]
    assert sandbox.received[-1].json == {"referredBy": ann["id"], "referralStatus": status}
    # And the answer names Ann as his referrer; she is credited as the campaign's setting says
    assert result.referrer is not None
    assert (result.referrer.referral_code, result.referrer.email) == (ann["id"], ANN)
    assert sandbox.participant(ann["id"])["referralCount"] == credited


def test_a_referrer_by_email_is_sent_as_the_referrers_id(sandbox, hub, ann):
    # Given Gil, whom nobody referred
    sandbox.seed_participant("gil@example.com")
    # When Ann's email is set as his referrer
    result = hub.update_participant("gil@example.com", update(referrer=ANN, lastName="Bert"))
    # Then Ann was looked up by her encoded email, and her id went as referredBy
    assert f"{BASE}/participant/{ANN_ENCODED}" in sandbox.raw_uris
    (post,) = sandbox.requests_to("/participant/gil@example.com", "POST")
    assert post.json == {"referredBy": ann["id"], "referralStatus": "CREDIT_PENDING", "lastName": "Bert"}
    assert result.referrer is not None and result.referrer.referral_code == ann["id"]


@pytest.mark.parametrize("referrer", ["zzzzzz", "ghost@example.com"])
def test_an_unknown_referrer_is_a_validation_error_naming_referrer_and_nothing_is_updated(sandbox, hub, ann, referrer):
    # Given no participant with that referral code or email
    # When Ann is given it as her referrer
    with pytest.raises(ValidationError) as raised:
        hub.update_participant(ANN, update(referrer=referrer, firstName="Annie"))
    # Then the hub names referrer (GrowSurf might have ignored it), and GrowSurf got no update
    assert [d["field"] for d in raised.value.details] == ["referrer"]
    assert sandbox.requests_to(f"/participant/{ANN}", "POST") == []
    assert sandbox.participant(ANN)["firstName"] == "Ann"


@pytest.mark.parametrize("referrer", ["..", "a b", "x/y", "ann?x=1"])
def test_a_referral_code_no_participant_id_can_be_is_refused_without_a_lookup(sandbox, hub, ann, referrer):
    # Given a referral code no GrowSurf id or vanity key looks like
    # When Ann is given it as her referrer, Then a validation error names referrer
    with pytest.raises(ValidationError) as raised:
        hub.update_participant(ANN, update(referrer=referrer))
    assert [d["field"] for d in raised.value.details] == ["referrer"]
    # And GrowSurf was asked about Ann only, and got no update
    assert calls(sandbox) == [("GET", f"{BASE}/participant/{ANN}")]


def test_a_participant_cannot_be_its_own_referrer(sandbox, hub, ann):
    # Given Ann
    # When she is given her own referral code as referrer
    with pytest.raises(ValidationError) as raised:
        hub.update_participant(ANN, update(referrer=ann["id"]))
    # Then a validation error names referrer, and GrowSurf got no update
    assert raised.value.details == [{"field": "referrer", "reason": "a participant cannot be its own referrer"}]
    assert sandbox.requests_to(f"/participant/{ANN}", "POST") == []


def test_a_participant_referred_by_someone_else_is_a_conflict_naming_referrer(sandbox, hub, ann, bob):
    # Given Bob, referred by Ann, and Cat
    cat = sandbox.seed_participant("cat@example.com")
    # When Cat is set as Bob's referrer
    with pytest.raises(Conflict) as raised:
        hub.update_participant("bob@example.com", update(referrer=cat["id"]))
    # Then 409 names referrer (GrowSurf does not change an assigned referrer), and no update was sent
    assert [d["field"] for d in raised.value.details] == ["referrer"]
    assert sandbox.requests_to("/participant/bob@example.com", "POST") == []
    assert sandbox.participant(bob["id"])["referrer"]["id"] == ann["id"]


def test_a_participant_whose_referrer_was_removed_still_has_one_for_growsurf(sandbox, client, hub, ann, bob):
    # Given Bob, whose referrer Ann was removed (his referral status stays, his referrer is null)
    client.remove_participant_by_id(ann["id"])
    assert sandbox.participant(bob["id"])["referrer"] is None
    cat = sandbox.seed_participant("cat@example.com")
    # When Cat is set as his referrer, Then 409 names referrer, and no update was sent
    with pytest.raises(Conflict) as raised:
        hub.update_participant("bob@example.com", update(referrer=cat["id"]))
    assert [d["field"] for d in raised.value.details] == ["referrer"]
    assert sandbox.requests_to("/participant/bob@example.com", "POST") == []


def test_the_referrer_a_participant_has_already_is_not_sent_again(sandbox, hub, ann, bob):
    # Given Bob, referred by Ann
    # When Ann (by email) is set as his referrer again, with a new first name
    result = hub.update_participant("bob@example.com", update(referrer=ANN, firstName="Bobby"))
    # Then GrowSurf got the name only (it would refuse referredBy once a referrer is assigned)
    (post,) = sandbox.requests_to("/participant/bob@example.com", "POST")
    assert post.json == {"firstName": "Bobby"}
    assert (result.first_name, result.referrer.referral_code) == ("Bobby", ann["id"])


def test_the_update_fields_are_the_documented_update_participant_fields():
    # Given Update Participant's body: referredBy, email, firstName, lastName, metadata (and referralStatus,
    # vanityKeys, which the hub's update has no field for)
    # When the program's placed update fields are read, Then every field of the hub's update has its place
    assert GrowSurfProgram.update_fields == {"firstName", "lastName", "email", "metadata", "referrer"}


def test_an_update_answer_that_is_not_a_participant_is_a_provider_error(sandbox, hub, ann):
    # Given GrowSurf answering the update with success but no participant
    sandbox.inject(200, body={"success": True}, path="/participant/", method="POST")
    # When Ann is updated, Then the provider failed (502), not the hub (500)
    with pytest.raises(ProviderError):
        hub.update_participant(ANN, update(firstName="Annie"))


# -- delete ----------------------------------------------------------------------------------------


def test_delete_removes_the_participant_by_email_in_one_call(sandbox, hub, ann, bob):
    # Given Ann and Bob
    # When Ann is deleted
    assert hub.delete_participant(ANN) is None
    # Then GrowSurf got one DELETE of her encoded email, and she is gone; Bob is not
    assert calls(sandbox) == [("DELETE", f"{BASE}/participant/{ANN}")]
    assert f"{BASE}/participant/{ANN_ENCODED}" in sandbox.raw_uris
    assert [p.email for p in sandbox.participants.values()] == ["bob@example.com"]


def test_deleting_an_unknown_participant_is_participant_not_found(sandbox, hub, ann):
    # Given nobody with that email
    # When it is deleted, Then ParticipantNotFound after the one call, and Ann is still there
    with pytest.raises(ParticipantNotFound):
        hub.delete_participant("ghost@example.com")
    assert calls(sandbox) == [("DELETE", f"{BASE}/participant/ghost@example.com")]
    assert sandbox.participant(ANN)["id"] == ann["id"]


def test_a_second_delete_is_participant_not_found(sandbox, hub, ann):
    # Given Ann deleted
    hub.delete_participant(ANN)
    # When she is deleted again, Then ParticipantNotFound
    with pytest.raises(ParticipantNotFound):
        hub.delete_participant(ANN)
    assert [r.status for r in sandbox.received] == [200, 404]


def test_a_removal_answering_success_false_is_a_provider_error(sandbox, hub, ann):
    # Given GrowSurf answering the removal 200 with success false
    sandbox.inject(200, body={"success": False}, method="DELETE")
    # When Ann is deleted, Then the hub does not claim she was (502)
    with pytest.raises(ProviderError):
        hub.delete_participant(ANN)


# -- reward removal --------------------------------------------------------------------------------


def test_remove_reward_reads_the_participants_rewards_then_removes_that_one(sandbox, hub, ann):
    # Given Ann with two rewards pending approval
    reward, kept = sandbox.grant_reward(ann["id"]), sandbox.grant_reward(ann["id"])
    # When one is removed
    result = hub.remove_reward(ANN, reward["id"])
    # Then GrowSurf was asked for Ann and her rewards, then got one DELETE of that reward
    assert calls(sandbox) == [
        ("GET", f"{BASE}/participant/{ANN}"),
        ("GET", f"{BASE}/participant/{ann['id']}/rewards"),
        ("DELETE", f"{BASE}/reward/{reward['id']}"),
    ]
    # And the hub answers the removal; the other reward stays
    assert result == RewardRemoval(campaign=HUB_CAMPAIGN, email=ANN, reward_id=reward["id"], removed=True)
    assert [r["id"] for r in sandbox.rewards_of(ann["id"])] == [kept["id"]]


def test_another_participants_reward_is_reward_not_found_and_never_removed(sandbox, hub, ann, bob):
    # Given a reward of Bob's
    reward = sandbox.grant_reward(bob["id"])
    # When it is removed as Ann's
    with pytest.raises(RewardNotFound) as raised:
        hub.remove_reward(ANN, reward["id"])
    # Then 404 names rewardId, no DELETE reached GrowSurf, and Bob keeps it
    assert [d["field"] for d in raised.value.details] == ["rewardId"]
    assert sandbox.requests_to(f"/reward/{reward['id']}", "DELETE") == []
    assert [r["id"] for r in sandbox.rewards_of(bob["id"])] == [reward["id"]]


def test_an_unknown_reward_id_is_reward_not_found(sandbox, hub, ann):
    # Given Ann with one reward
    sandbox.grant_reward(ann["id"])
    # When a reward id nobody has is removed, Then 404 names rewardId, and nothing was removed
    with pytest.raises(RewardNotFound) as raised:
        hub.remove_reward(ANN, "nope42")
    assert [d["field"] for d in raised.value.details] == ["rewardId"]
    assert [r.method for r in sandbox.received] == ["GET", "GET"]


def test_the_catalog_reward_id_is_not_a_participant_reward(sandbox, hub, ann):
    # Given Ann with a reward of the catalog's reward
    sandbox.grant_reward(ann["id"])
    # When the catalog reward's id is removed, Then 404: removal takes the participant reward's id
    with pytest.raises(RewardNotFound):
        hub.remove_reward(ANN, DEFAULT_REWARD_ID)
    assert sandbox.requests_to("/reward/", "DELETE") == []


@pytest.mark.parametrize("state", [{"approved": True}, {"fulfilled": True}])
def test_an_approved_reward_is_a_conflict_and_never_removed(sandbox, hub, ann, state):
    # Given Ann's reward approved (or fulfilled)
    reward = sandbox.grant_reward(ann["id"], **state)
    # When it is removed
    with pytest.raises(Conflict) as raised:
        hub.remove_reward(ANN, reward["id"])
    # Then 409 says it is already approved, and no DELETE reached GrowSurf
    assert "already approved" in raised.value.message
    assert [d["field"] for d in raised.value.details] == ["rewardId"]
    assert sandbox.requests_to(f"/reward/{reward['id']}", "DELETE") == []
    assert len(sandbox.rewards_of(ann["id"])) == 1


def test_a_reward_approved_after_it_was_read_is_a_conflict(sandbox, hub, ann):
    # Given Ann's reward approved, and GrowSurf answering the first rewards read as it was before that
    reward = sandbox.grant_reward(ann["id"], approved=True)
    before = {**reward, "approved": False, "approvedAt": None, "isAvailable": False}
    sandbox.inject(200, body={"limit": 100, "nextId": None, "rewards": [before]}, path="/rewards", method="GET")
    # When it is removed
    with pytest.raises(Conflict) as raised:
        hub.remove_reward(ANN, reward["id"])
    # Then GrowSurf refused the DELETE, the hub read the reward again, and answers that it is approved
    (removal,) = sandbox.requests_to(f"/reward/{reward['id']}", "DELETE")
    assert removal.status == 400
    assert "already approved" in raised.value.message
    assert len(sandbox.rewards_of(ann["id"])) == 1


def test_removing_a_reward_of_an_unknown_participant_is_participant_not_found(sandbox, hub):
    # Given nobody with that email
    # When a reward of theirs is removed, Then ParticipantNotFound, and no DELETE was sent
    with pytest.raises(ParticipantNotFound):
        hub.remove_reward("ghost@example.com", "abc123")
    assert sandbox.requests_to("/reward/abc123", "DELETE") == []


# -- redeem with and without fulfilment ------------------------------------------------------------


def test_redeem_without_fulfil_approves_the_reward_only(sandbox, hub, ann):
    # Given Ann's reward pending approval
    reward = sandbox.grant_reward(ann["id"])
    # When it is redeemed with fulfill false
    result = hub.redeem(ANN, reward["id"], None, fulfill=False)
    # Then GrowSurf got the approve with fulfill false, and no fulfil
    (approve,) = sandbox.requests_to(f"/reward/{reward['id']}/approve", "POST")
    assert approve.json == {"fulfill": False}
    assert sandbox.requests_to(f"/reward/{reward['id']}/fulfill", "POST") == []
    # And the hub answers approved; GrowSurf holds it approved, not fulfilled
    assert (result.reward_id, result.status) == (reward["id"], RewardStatus.APPROVED)
    (held,) = sandbox.rewards_of(ann["id"])
    assert (held["approved"], held["status"], held["isFulfilled"]) == (True, "PENDING", False)


def test_redeem_without_fulfil_of_an_approved_reward_is_a_conflict(sandbox, hub, ann):
    # Given Ann's reward approved already
    reward = sandbox.grant_reward(ann["id"], approved=True)
    # When it is redeemed with fulfill false, Then 409 says it is approved, and nothing was sent
    with pytest.raises(Conflict) as raised:
        hub.redeem(ANN, reward["id"], None, fulfill=False)
    assert "already approved" in raised.value.message
    assert sandbox.requests_to("/approve", "POST") == []


def test_redeem_without_fulfil_of_a_fulfilled_reward_is_already_redeemed(sandbox, hub, ann):
    # Given Ann's reward fulfilled
    reward = sandbox.grant_reward(ann["id"], fulfilled=True)
    # When it is redeemed with fulfill false, Then 409 ALREADY_REDEEMED, and nothing was sent
    with pytest.raises(AlreadyRedeemed):
        hub.redeem(ANN, reward["id"], None, fulfill=False)
    assert sandbox.requests_to("/approve", "POST") == []


def test_redeem_with_fulfil_approves_and_fulfils_in_one_call(sandbox, hub, ann):
    # Given Ann's reward pending approval
    reward = sandbox.grant_reward(ann["id"])
    # When it is redeemed (fulfill left at its default)
    result = hub.redeem(ANN, reward["id"], None)
    # Then GrowSurf got the approve with fulfill true, and the reward is fulfilled
    (approve,) = sandbox.requests_to(f"/reward/{reward['id']}/approve", "POST")
    assert approve.json == {"fulfill": True}
    assert result.status == RewardStatus.REDEEMED
    assert sandbox.rewards_of(ann["id"])[0]["status"] == "FULFILLED"


def test_redeem_with_fulfil_of_an_approved_reward_fulfils_it(sandbox, hub, ann):
    # Given Ann's reward approved already
    reward = sandbox.grant_reward(ann["id"], approved=True)
    # When it is redeemed with fulfill true, Then GrowSurf got the fulfil (not another approve)
    result = hub.redeem(ANN, reward["id"], None, fulfill=True)
    assert len(sandbox.requests_to(f"/reward/{reward['id']}/fulfill", "POST")) == 1
    assert sandbox.requests_to("/approve", "POST") == []
    assert result.status == RewardStatus.REDEEMED


def test_redeem_of_another_participants_reward_approves_nothing(sandbox, hub, ann, bob):
    # Given a reward of Bob's
    reward = sandbox.grant_reward(bob["id"])
    # When Ann redeems it without fulfilment, Then 404 names rewardId, and nothing was approved
    with pytest.raises(RewardNotFound) as raised:
        hub.redeem(ANN, reward["id"], None, fulfill=False)
    assert [d["field"] for d in raised.value.details] == ["rewardId"]
    assert sandbox.requests_to("/approve", "POST") == []


# -- the campaign's referrals ----------------------------------------------------------------------


def referrals_of(sandbox: GrowSurfSandbox, referrer: dict, count: int) -> list[dict]:
    """``count`` participants referred by ``referrer``, pending, joined one after another."""
    return [
        sandbox.seed_participant(
            f"friend{n}@example.com",
            referrer=referrer["id"],
            referral_status="CREDIT_PENDING",
            created_at=1_700_000_000_000 + n,
        )
        for n in range(count)
    ]


def test_campaign_referrals_page_by_offset_oldest_first(sandbox, hub, ann):
    # Given three referrals, joined in order
    friends = referrals_of(sandbox, ann, 3)
    # When a page of two is read, then the page its cursor names
    first = hub.campaign_referrals(None, 2, None)
    second = hub.campaign_referrals(first.next_cursor, 2, None)
    # Then GrowSurf got the documented sort, limit and offsets
    assert [r.query for r in sandbox.requests_to(f"{BASE}/referrals", "GET")] == [
        {"sortBy": "createdAt", "desc": "false", "limit": "2", "offset": "0"},
        {"sortBy": "createdAt", "desc": "false", "limit": "2", "offset": "2"},
    ]
    # And the pages hold the referrals oldest first, normalized; the last page has no cursor
    assert [(r.id, r.email, r.status) for r in first.items] == [
        (friends[0]["id"], "friend0@example.com", ReferralStatus.PENDING),
        (friends[1]["id"], "friend1@example.com", ReferralStatus.PENDING),
    ]
    assert first.next_cursor == "2"
    assert [r.id for r in second.items] == [friends[2]["id"]]
    assert second.next_cursor is None


def test_a_referral_credited_while_paging_does_not_move_between_pages(sandbox, hub, ann):
    # Given three referrals, and the first page of two read
    friends = referrals_of(sandbox, ann, 3)
    first = hub.campaign_referrals(None, 2, None)
    # When the first one is credited (its updatedAt changes), and the next page is read
    sandbox.trigger(friends[0]["id"])
    second = hub.campaign_referrals(first.next_cursor, 2, None)
    # Then every referral was listed once
    assert [r.id for r in first.items + second.items] == [f["id"] for f in friends]


@pytest.mark.parametrize(
    ("status", "growsurf"),
    [
        (ReferralStatus.PENDING, "CREDIT_PENDING"),
        (ReferralStatus.CONVERTED, "CREDIT_AWARDED"),
        (ReferralStatus.EXPIRED, "CREDIT_EXPIRED"),
        (ReferralStatus.INVITED, "INVITE_SENT"),
    ],
)
def test_campaign_referrals_filter_on_growsurfs_referral_status(sandbox, client, hub, ann, status, growsurf):
    # Given one referral or invite of each status
    converted = referrals_of(sandbox, ann, 2)[1]
    sandbox.trigger(converted["id"])
    sandbox.seed_participant("late@example.com", referrer=ann["id"], referral_status="CREDIT_EXPIRED")
    client.send_participant_invites_by_id(
        ann["id"], email_addresses=["zed@example.com"], message_text="{{referrerMessage}}", subject_text="Hi"
    )
    sandbox.received.clear()
    # When the campaign's referrals of one status are read
    page = hub.campaign_referrals(None, 50, status)
    # Then GrowSurf got that status as its referralStatus filter, and only such referrals came back
    (received,) = sandbox.received
    assert received.query["referralStatus"] == growsurf
    assert len(page.items) == 1
    assert [r.status for r in page.items] == [status]
    assert page.items[0].provider_data["referralStatus"] == growsurf


def test_an_invite_is_listed_without_its_masked_email(sandbox, client, hub, ann):
    # Given an invite Ann sent
    client.send_participant_invites_by_id(
        ann["id"], email_addresses=["zed@example.com"], message_text="{{referrerMessage}}", subject_text="Hi"
    )
    # When the campaign's invites are read, Then the invite has no email (GrowSurf masks it)
    (invite,) = hub.campaign_referrals(None, 10, ReferralStatus.INVITED).items
    assert invite.email is None
    assert invite.provider_data["referredBy"] == ann["id"]


@pytest.mark.parametrize("cursor", ["abc", "-1", "1.5", "", "9999999999", "zzzzzz"])
def test_a_referrals_cursor_that_is_no_offset_is_refused_before_any_call(sandbox, hub, cursor):
    # Given a cursor no referrals page answered
    # When the referrals are read from it, Then a validation error names cursor, and GrowSurf was not called
    with pytest.raises(ValidationError) as raised:
        hub.campaign_referrals(cursor, 10, None)
    assert [d["field"] for d in raised.value.details] == ["cursor"]
    assert sandbox.received == []


def test_a_referrals_offset_growsurf_refuses_names_the_cursor(sandbox, hub):
    # Given GrowSurf refusing the referrals list with 400
    sandbox.inject(400, path="/referrals")
    # When a page is read from an offset, Then the hub names the cursor (422, not 502)
    with pytest.raises(ValidationError) as raised:
        hub.campaign_referrals("40", 10, None)
    assert [d["field"] for d in raised.value.details] == ["cursor"]
    assert sandbox.received[0].query["offset"] == "40"


def test_referrals_past_the_end_are_an_empty_last_page(sandbox, hub, ann):
    # Given one referral
    referrals_of(sandbox, ann, 1)
    # When a page past it is read, Then it is empty and the last
    assert hub.campaign_referrals("5", 10, None) == Page(items=[], next_cursor=None)


@pytest.mark.parametrize("limit", [0, 101])
def test_a_referrals_limit_out_of_range_names_limit_before_any_call(sandbox, hub, limit):
    # Given a page size GrowSurf does not take
    # When referrals are read with it, Then a validation error names limit, and GrowSurf was not called
    with pytest.raises(ValidationError) as raised:
        hub.campaign_referrals(None, limit, None)
    assert [d["field"] for d in raised.value.details] == ["limit"]
    assert sandbox.received == []


# -- the sandbox's readings where the document is silent -------------------------------------------


def test_the_sandbox_reads_an_unknown_update_referrer_by_its_setting(sandbox, client, ann):
    # Given an update naming a referrer nobody is, sent straight to GrowSurf
    # When Ann is updated with it
    if sandbox.update_unknown_referrer == "refused":
        # Then it is refused with 400
        with pytest.raises(ValidationError):
            client.update_participant_by_email(ANN, referred_by="zzzzzz", first_name="Annie")
        assert sandbox.participant(ANN)["firstName"] == "Ann"
    else:
        # Then the referrer is ignored, and the rest of the update made
        result = client.update_participant_by_email(ANN, referred_by="zzzzzz", first_name="Annie")
        assert (result["firstName"], result["referrer"]) == ("Annie", None)


def test_the_sandbox_answers_update_refusals_with_its_setting_status(sandbox, ann, bob):
    # Given Bob, referred by Ann, and a raw update of his
    url = f"{sandbox.base_url}/campaign/{CAMPAIGN}/participant/bob@example.com"
    headers = {"Authorization": f"Bearer {KEY}"}
    # When he is given Ann's email, or another referrer
    taken = requests.post(url, json={"email": ANN}, headers=headers, timeout=2)
    other = sandbox.seed_participant("cat@example.com")
    assigned = requests.post(url, json={"referredBy": other["id"]}, headers=headers, timeout=2)
    # Then both are refused with the setting's status, and Bob is unchanged
    assert (taken.status_code, assigned.status_code) == (sandbox.update_refusal_status,) * 2
    assert sandbox.participant(bob["id"])["email"] == "bob@example.com"


@pytest.mark.parametrize(
    ("name", "value"), [("updateRefusalStatus", 500), ("updateRefusalStatus", True), ("updateUnknownReferrer", "x")]
)
def test_the_sandbox_refuses_a_reading_it_does_not_have(sandbox, name, value):
    # Given the sandbox's settings
    before = sandbox.settings()
    # When a value it has no reading for is set, Then it is refused, and nothing changed
    with pytest.raises(ValueError, match="must be one of"):
        sandbox.configure(**{name: value})
    assert sandbox.settings() == before


def test_the_sandbox_settings_route_shows_and_takes_the_new_readings(sandbox):
    # Given the sandbox's control routes
    control = sandbox.base_url.removesuffix("/v2") + "/_sandbox/settings"
    # When the two update readings are switched over HTTP
    changed = requests.post(
        control, json={"updateRefusalStatus": 409, "updateUnknownReferrer": "refused"}, timeout=2
    ).json()
    # Then the settings say so, and the sandbox acts on them
    assert (changed["updateRefusalStatus"], changed["updateUnknownReferrer"]) == (409, "refused")
    assert (sandbox.update_refusal_status, sandbox.update_unknown_referrer) == (409, "refused")


def test_the_sandbox_campaign_reward_has_a_referral_description_only_when_double_sided(sandbox, client):
    # Given the sandbox's one catalog reward
    # When the campaign is read, Then the friend's side is described only for a double-sided reward
    (reward,) = client.get_campaign()["rewards"]
    assert ("referralDescription" in reward) is sandbox.double_sided
