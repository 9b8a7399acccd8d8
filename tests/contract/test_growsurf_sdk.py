"""GrowSurf's official Python client (``growsurf-python``) against the GrowSurf sandbox, over loopback.

The client is generated from GrowSurf's own API description and built with strict response validation
here, so an answer of the sandbox it cannot parse fails the test, and a request it makes that the
sandbox refuses is a sandbox bug. Every documented operation the client offers is called, under each of
the sandbox's readings of what the document leaves open.
"""

from __future__ import annotations

import growsurf
import pytest

from local.sandbox.growsurf import GrowSurfSandbox

KEY = "gs-contract-key"
CAMPAIGN = "cnt123"
SETTINGS = {
    "least-convenient": {},
    "documented-others": {
        "error_style": "coded",
        "referral_trigger": "SIGN_UP_QUALIFYING_ACTION",
        "trigger_refusals": True,
        "double_sided": False,
        "optional_fields": True,
        "update_refusal_status": 409,
        "update_unknown_referrer": "refused",
    },
}


@pytest.fixture(params=list(SETTINGS), ids=list(SETTINGS))
def sandbox(request, start_sandbox) -> GrowSurfSandbox:
    return start_sandbox(GrowSurfSandbox(api_key=KEY, campaign_id=CAMPAIGN, **SETTINGS[request.param]))


@pytest.fixture
def sdk(sandbox) -> growsurf.Growsurf:
    return growsurf.Growsurf(api_key=KEY, base_url=sandbox.base_url, max_retries=0, _strict_response_validation=True)


@pytest.fixture
def ann(sandbox) -> dict:
    return sandbox.seed_participant("ann@example.com", first_name="Ann", last_name="Lee")


@pytest.fixture
def bob(sandbox, ann) -> dict:
    """Ann's friend, whose credit is pending."""
    return sandbox.seed_participant(
        "bob@example.com", first_name="Bob", referrer=ann["id"], referral_status="CREDIT_PENDING"
    )


def credited_reward(sandbox, ann, bob) -> str:
    """Bob's referral credited, which unlocks Ann's reward (pending approval); its participant reward id."""
    sandbox.trigger(bob["id"])
    return sandbox.rewards_of(ann["id"])[0]["id"]


def test_retrieve_campaign(sdk, ann):
    # Given a campaign with one participant
    # When the official client retrieves it
    campaign = sdk.campaign.retrieve(CAMPAIGN)
    # Then it parses, with the campaign's id, count and reward catalog
    assert (campaign.id, campaign.participant_count) == (CAMPAIGN, 1)
    assert campaign.rewards[0].conversions_required == 1


def test_retrieve_campaign_parses_the_reward_catalog_of_each_side(sdk, sandbox):
    # Given the sandbox's catalog reward (double-sided with the friend's description, or single-sided)
    # When the official client retrieves the campaign
    (reward,) = sdk.campaign.retrieve(CAMPAIGN).rewards
    # Then the reward parses with its type, and the friend's side only when double-sided
    assert reward.type == ("DOUBLE_SIDED" if sandbox.double_sided else "SINGLE_SIDED")
    assert (reward.referral_description is not None) is sandbox.double_sided


def test_list_campaigns(sdk):
    # Given the account's one campaign
    # When the official client lists campaigns, Then it parses and holds it
    assert [c.id for c in sdk.campaign.list().campaigns] == [CAMPAIGN]


def test_add_participant_with_a_referrer_and_referral_status(sdk, sandbox, ann):
    # Given Ann
    # When the official client adds her friend with every add field it has that the document gives
    added = sdk.campaign.participant.add(
        CAMPAIGN,
        email="fay@example.com",
        first_name="Fay",
        last_name="Ng",
        ip_address="203.0.113.9",
        metadata={"plan": "pro"},
        referred_by=ann["id"],
        referral_status="CREDIT_PENDING",
    )
    # Then the sandbox took the documented body, and the answer parses as the new participant
    post = sandbox.requests_to(f"/campaign/{CAMPAIGN}/participant", "POST")[0]
    assert post.json["referredBy"] == ann["id"] and post.json["referralStatus"] == "CREDIT_PENDING"
    assert (added.email, added.first_name, added.referral_status) == ("fay@example.com", "Fay", "CREDIT_PENDING")
    assert added.referrer is not None and added.referrer.id == ann["id"]
    assert added.metadata == {"plan": "pro"}


def test_add_an_existing_email_answers_that_participant_unchanged(sdk, ann):
    # Given Ann
    # When she is added again with another name
    again = sdk.campaign.participant.add(CAMPAIGN, email="ann@example.com", first_name="Other")
    # Then the existing participant comes back unchanged
    assert (again.id, again.first_name) == (ann["id"], "Ann")


def test_retrieve_participant_by_id_and_by_email(sdk, ann):
    # Given Ann
    # When she is retrieved by id and by email
    by_id = sdk.campaign.participant.retrieve(ann["id"], id=CAMPAIGN)
    by_email = sdk.campaign.participant.retrieve("ann@example.com", id=CAMPAIGN)
    # Then both parse as Ann
    assert by_id.id == by_email.id == ann["id"]
    assert (by_id.rank, by_id.referral_count, by_id.rewards) == (1, 0, [])


def test_list_participants(sdk, ann, bob):
    # Given two participants
    # When the official client lists a page of one
    page = sdk.campaign.list_participants(CAMPAIGN, limit=1)
    # Then it parses, with the next page's id
    assert [p.email for p in page.participants] == ["ann@example.com"]
    assert page.next_id == bob["id"]


def test_list_participants_follows_next_id_to_the_last_page(sdk, sandbox, ann, bob):
    # Given two participants and the first page of one
    first = sdk.campaign.list_participants(CAMPAIGN, limit=1)
    # When the official client reads the page its nextId names
    second = sdk.campaign.list_participants(CAMPAIGN, limit=1, next_id=first.next_id)
    # Then the sandbox took nextId, and the last page parses with a null nextId
    assert sandbox.requests_to(f"/campaign/{CAMPAIGN}/participants", "GET")[1].query == {
        "limit": "1",
        "nextId": bob["id"],
    }
    assert [p.email for p in second.participants] == ["bob@example.com"]
    assert second.next_id is None


def test_list_leaderboard(sdk, sandbox, ann, bob):
    # Given Ann credited for Bob
    sandbox.trigger(bob["id"])
    # When the official client reads the all-time leaderboard
    board = sdk.campaign.list_leaderboard(CAMPAIGN, leaderboard_type="ALL_TIME", limit=2)
    # Then it parses, Ann first
    first = board.participants[0]
    assert (first.email, first.rank, first.referral_count) == ("ann@example.com", 1, 1)


def test_update_participant(sdk, sandbox, ann):
    # Given Ann
    # When the official client updates her name and metadata
    updated = sdk.campaign.participant.update(ann["id"], id=CAMPAIGN, first_name="Annie", metadata={"team": "a"})
    # Then the answer parses with the change
    assert (updated.first_name, updated.metadata) == ("Annie", {"team": "a"})


def test_update_participant_by_email_with_a_new_email_a_referrer_and_a_removed_key(sdk, sandbox, ann):
    # Given Gil, whom nobody referred, with metadata
    sandbox.seed_participant("gil+1@example.com", metadata={"plan": "free", "team": "a"})
    # When the official client updates him by email: a new email, Ann as referrer, a key removed
    updated = sdk.campaign.participant.update(
        "gil+1@example.com",
        id=CAMPAIGN,
        email="gil@example.com",
        referred_by=ann["id"],
        referral_status="CREDIT_PENDING",
        metadata={"plan": "pro", "team": None},
    )
    # Then the sandbox took the documented body on the email's path, and the answer parses as changed
    (post,) = sandbox.requests_to("/participant/gil+1@example.com", "POST")
    assert post.json == {
        "email": "gil@example.com",
        "referredBy": ann["id"],
        "referralStatus": "CREDIT_PENDING",
        "metadata": {"plan": "pro", "team": None},
    }
    assert (updated.email, updated.metadata, updated.referral_status) == (
        "gil@example.com",
        {"plan": "pro"},
        "CREDIT_PENDING",
    )
    assert updated.referrer is not None and updated.referrer.id == ann["id"]


def test_an_update_to_a_taken_email_is_the_clients_error_for_the_settings_status(sdk, sandbox, ann, bob):
    # Given Ann and Bob, and the sandbox's status for the document's undocumented update errors
    expected = {400: growsurf.BadRequestError, 409: growsurf.ConflictError, 422: growsurf.UnprocessableEntityError}
    # When the official client gives Bob Ann's email, Then its error of that status, and Bob is unchanged
    with pytest.raises(expected[sandbox.update_refusal_status]):
        sdk.campaign.participant.update("bob@example.com", id=CAMPAIGN, email="ann@example.com")
    assert sandbox.participant(bob["id"])["email"] == "bob@example.com"


def test_trigger_referral_credits_a_pending_referral(sdk, sandbox, ann, bob):
    # Given Bob's pending referral
    # When the official client triggers it by email
    answer = sdk.campaign.participant.trigger_referral("bob@example.com", id=CAMPAIGN)
    # Then the sandbox accepted its request, the answer parses, and Ann is credited
    assert (answer.success, answer.message) == (True, "Successfully awarded referral credit.")
    assert sandbox.participant(ann["id"])["referralCount"] == 1


def test_list_participant_rewards(sdk, sandbox, ann, bob):
    # Given Ann's reward unlocked
    reward_id = credited_reward(sandbox, ann, bob)
    # When the official client lists her rewards
    rewards = sdk.campaign.participant.list_rewards(ann["id"], id=CAMPAIGN)
    # Then it parses, the reward pending approval
    assert [(r.id, r.status, r.approved, r.is_referrer) for r in rewards.rewards] == [
        (reward_id, "PENDING", False, True)
    ]
    assert rewards.next_id is None


def test_approve_then_fulfill_a_reward(sdk, sandbox, ann, bob):
    # Given Ann's reward pending approval
    reward_id = credited_reward(sandbox, ann, bob)
    # When the official client approves it, then fulfills it
    approved = sdk.campaign.reward.approve(reward_id, id=CAMPAIGN)
    fulfilled = sdk.campaign.reward.fulfill(reward_id, id=CAMPAIGN)
    # Then both answers parse as success, and the reward is fulfilled
    assert (approved.success, fulfilled.success) == (True, True)
    assert sandbox.rewards_of(ann["id"])[0]["status"] == "FULFILLED"


def test_approve_with_fulfill(sdk, sandbox, ann, bob):
    # Given Ann's reward pending approval
    reward_id = credited_reward(sandbox, ann, bob)
    # When the official client approves it with fulfill
    answer = sdk.campaign.reward.approve(reward_id, id=CAMPAIGN, fulfill=True)
    # Then the sandbox took the body, and the reward is fulfilled
    assert answer.success is True
    assert sandbox.requests_to(f"/reward/{reward_id}/approve", "POST")[0].json == {"fulfill": True}
    assert sandbox.rewards_of(ann["id"])[0]["status"] == "FULFILLED"


def test_approve_without_fulfill(sdk, sandbox, ann, bob):
    # Given Ann's reward pending approval
    reward_id = credited_reward(sandbox, ann, bob)
    # When the official client approves it with fulfill false
    answer = sdk.campaign.reward.approve(reward_id, id=CAMPAIGN, fulfill=False)
    # Then the sandbox took the body, and the reward is approved, not fulfilled
    assert answer.success is True
    assert sandbox.requests_to(f"/reward/{reward_id}/approve", "POST")[0].json == {"fulfill": False}
    (reward,) = sdk.campaign.participant.list_rewards(ann["id"], id=CAMPAIGN).rewards
    assert (reward.approved, reward.status, reward.is_fulfilled) == (True, "PENDING", False)


def test_removing_an_approved_reward_is_the_clients_bad_request(sdk, sandbox, ann, bob):
    # Given Ann's reward approved
    reward_id = credited_reward(sandbox, ann, bob)
    sdk.campaign.reward.approve(reward_id, id=CAMPAIGN)
    # When the official client removes it, Then its BadRequestError, and the reward stays
    with pytest.raises(growsurf.BadRequestError):
        sdk.campaign.reward.delete(reward_id, id=CAMPAIGN)
    assert [r["id"] for r in sandbox.rewards_of(ann["id"])] == [reward_id]


def test_remove_a_reward(sdk, sandbox, ann, bob):
    # Given Ann's reward pending approval
    reward_id = credited_reward(sandbox, ann, bob)
    # When the official client removes it
    answer = sdk.campaign.reward.delete(reward_id, id=CAMPAIGN)
    # Then the answer parses and the reward is gone
    assert answer.success is True
    assert sandbox.rewards_of(ann["id"]) == []


def test_list_campaign_referrals(sdk, ann, bob):
    # Given Bob referred by Ann
    # When the official client lists the campaign's referrals
    referrals = sdk.campaign.list_referrals(CAMPAIGN, limit=10)
    # Then it parses, Bob pending, referred by Ann
    assert [(r.email, r.referral_status, r.referred_by) for r in referrals.referrals] == [
        ("bob@example.com", "CREDIT_PENDING", ann["id"])
    ]
    assert referrals.more is False


def test_list_campaign_referrals_sorted_by_offset_and_status(sdk, sandbox, ann, bob):
    # Given Bob's referral credited, and Cat's pending
    sandbox.trigger(bob["id"])
    sandbox.seed_participant("cat@example.com", referrer=ann["id"], referral_status="CREDIT_PENDING")
    # When the official client lists the pending ones oldest first from offset 0, then the rest from offset 1
    first = sdk.campaign.list_referrals(
        CAMPAIGN, sort_by="createdAt", desc=False, limit=1, offset=0, referral_status="CREDIT_PENDING"
    )
    rest = sdk.campaign.list_referrals(CAMPAIGN, sort_by="createdAt", desc=False, limit=1, offset=1)
    # Then the sandbox took the documented query, and both answers parse with more, as documented
    assert sandbox.requests_to(f"/campaign/{CAMPAIGN}/referrals", "GET")[0].query == {
        "sortBy": "createdAt",
        "desc": "false",
        "limit": "1",
        "offset": "0",
        "referralStatus": "CREDIT_PENDING",
    }
    assert [(r.email, r.referral_status, first.more) for r in first.referrals] == [
        ("cat@example.com", "CREDIT_PENDING", False)
    ]
    assert [(r.email, rest.more, rest.next_offset) for r in rest.referrals] == [("cat@example.com", False, None)]


def test_send_invites_and_list_a_participants_referrals_and_invites(sdk, sandbox, ann, bob):
    # Given Ann
    # When the official client sends an invite on her behalf, then lists her referrals and invites
    sent = sdk.campaign.participant.send_invites(
        ann["id"],
        id=CAMPAIGN,
        email_addresses=["zed@example.com"],
        message_text="{{referrerMessage}}",
        subject_text="Hi",
    )
    listed = sdk.campaign.participant.list_referrals("ann@example.com", id=CAMPAIGN)
    # Then both parse: one invite sent, listed masked beside Bob's referral
    assert (sent.success, sent.invites_sent) == (True, 1)
    assert sorted(r.referral_status for r in listed.referrals) == ["CREDIT_PENDING", "INVITE_SENT"]


def test_remove_participant(sdk, sandbox, ann):
    # Given Ann
    # When the official client removes her by email
    answer = sdk.campaign.participant.delete("ann@example.com", id=CAMPAIGN)
    # Then the answer parses and she is gone
    assert answer.success is True
    assert sandbox.participants == {}


def test_removing_an_unknown_participant_is_the_clients_not_found(sdk):
    # Given no such participant
    # When the official client removes it by email, Then its NotFoundError
    with pytest.raises(growsurf.NotFoundError):
        sdk.campaign.participant.delete("ghost@example.com", id=CAMPAIGN)


def test_an_unknown_participant_is_the_clients_not_found(sdk):
    # Given no such participant
    # When the official client retrieves it, Then its NotFoundError (any body the sandbox gives)
    with pytest.raises(growsurf.NotFoundError):
        sdk.campaign.participant.retrieve("ghost@example.com", id=CAMPAIGN)
