"""Writes whose answer was lost (issue 12): the provider did the work, then answered 500 or too late for
the client's read timeout. The hub reads the provider's state back and answers its own success as
success, instead of retrying blindly into "already converted" / "already redeemed"; a write that was
not applied is sent once more. The same for the participant writes a second send would answer otherwise
(add, a change of email or referrer, delete, reward removal, a Loops contact delete). Over real HTTP
against the sandboxes."""

from __future__ import annotations

from typing import Any

import pytest

from hub.domain.errors import AlreadyConverted, ProviderError
from hub.domain.models import Provider, RewardStatus
from hub.domain.requests import AddParticipantRequest, UpdateParticipantRequest
from hub.flows import contacts
from hub.providers.growsurf.client import GrowSurfClient
from hub.providers.growsurf.program import GrowSurfProgram
from hub.providers.loops.client import LoopsClient
from hub.providers.sparkloop.client import SparkLoopClient
from hub.providers.sparkloop.program import SparkLoopProgram
from hub.providers.viral_loops.client import ViralLoopsClient
from hub.providers.viral_loops.program import ViralLoopsProgram
from hub.settings.config import CampaignConfig, KeyRef
from local.sandbox.base import Sandbox
from local.sandbox.growsurf import GrowSurfSandbox
from local.sandbox.loops import LoopsSandbox
from local.sandbox.sparkloop import SparkLoopSandbox
from local.sandbox.viral_loops import Readings, ViralLoopsSandbox

GS_KEY = "gs-lost-answers-key-51c2"
GS_CAMPAIGN = "cmp9q1"
VL_KEY = "vl-lost-answers-token-8d0e"
VL_CAMPAIGN = "cl2ad12345a1ab601234"
ANN, BOB = "ann@example.com", "bob@example.com"
ALEX, SAM = "alex@example.com", "sam@example.com"
CAT = "cat@example.com"

#: The provider did the work, then the answer was lost: a 500, or an answer later than the client's
#: read timeout (the ``fast_policy`` fixture reads for 0.5 s).
LOST = {
    "applied-then-500": {"status": 500, "applied": True},
    "applied-then-read-timeout": {"delay": 1.0, "applied": True},
}


@pytest.fixture(params=list(LOST), ids=list(LOST))
def lost(request) -> dict[str, Any]:
    return LOST[request.param]


def writes(sandbox: Sandbox, path_suffix: str) -> list[int | None]:
    """The status the provider itself gave each write to ``path_suffix`` (before any fault replaced it)."""
    return [r.served or r.status for r in sandbox.requests_to(path_suffix, "POST")]


# -- GrowSurf -------------------------------------------------------------------------------------

#: GrowSurf's trigger answers success for a referral credited already (its default reading) or refuses
#: it with a 400 (``trigger_refusals``); approve refuses one approved already with a 400 either way.
GS_SETTINGS = {
    "least-convenient": {},
    "trigger-refusals-coded-errors": {"trigger_refusals": True, "error_style": "coded"},
}


@pytest.fixture(params=list(GS_SETTINGS), ids=list(GS_SETTINGS))
def growsurf(request, start_sandbox) -> GrowSurfSandbox:
    sandbox = start_sandbox(GrowSurfSandbox(api_key=GS_KEY, campaign_id=GS_CAMPAIGN, **GS_SETTINGS[request.param]))
    ann = sandbox.seed_participant(ANN, first_name="Ann")
    sandbox.seed_participant(BOB, first_name="Bob", referrer=ann["id"], referral_status="CREDIT_PENDING")
    return sandbox


@pytest.fixture
def gs_program(growsurf, fast_policy) -> GrowSurfProgram:
    client = GrowSurfClient(GS_KEY, GS_CAMPAIGN, base_url=growsurf.base_url, policy=fast_policy)
    config = CampaignConfig.model_validate(
        {
            "provider": "growsurf",
            "campaign_id": GS_CAMPAIGN,
            "key": {"value": GS_KEY},
            "credit_referrals": "on_conversion",
        }
    )
    return GrowSurfProgram("spring", config, client)


def test_growsurf_convert_whose_answer_was_lost_is_answered_credited_once(growsurf, gs_program, lost):
    # Given GrowSurf credits Bob's referral and then loses its answer
    growsurf.inject(path="/ref", method="POST", **lost)
    # When the hub converts Bob
    result = gs_program.convert(BOB)
    # Then it answers the credit as a first success, and GrowSurf credited Ann once, from one trigger
    assert (result.converted, result.credited, result.referral_status) == (True, True, "CREDIT_AWARDED")
    assert growsurf.participant(BOB)["referralStatus"] == "CREDIT_AWARDED"
    assert growsurf.participant(ANN)["referralCount"] == 1
    assert writes(growsurf, "/ref") == [200]


def test_growsurf_convert_whose_first_attempt_was_not_applied_is_sent_once_more(growsurf, gs_program):
    # Given a 500 before GrowSurf applied anything
    growsurf.inject(500, path="/ref", method="POST")
    # When the hub converts Bob
    result = gs_program.convert(BOB)
    # Then the read-back showed it pending, the trigger was sent again, and Ann is credited once
    assert result.credited is True
    assert growsurf.participant(ANN)["referralCount"] == 1
    assert writes(growsurf, "/ref") == [500, 200]


def test_growsurf_convert_whose_read_back_fails_raises_the_provider_error(growsurf, gs_program):
    # Given a trigger applied and its answer lost, and GrowSurf failing every read after it
    growsurf.inject(500, path="/ref", method="POST", applied=True)
    growsurf.inject(500, path=f"/participant/{BOB}", method="GET", times=10, after=1)  # not the read before
    # When / Then the hub raises the provider's error (a bulk row is tried again later), and the trigger
    # was not sent again
    with pytest.raises(ProviderError):
        gs_program.convert(BOB)
    assert writes(growsurf, "/ref") == [200]
    assert growsurf.participant(ANN)["referralCount"] == 1


def test_growsurf_redeem_whose_answer_was_lost_is_answered_redeemed_once(growsurf, gs_program, lost):
    # Given a pending reward of Ann's, and GrowSurf approving and fulfilling it, then losing its answer
    reward = growsurf.grant_reward(ANN)
    growsurf.inject(path="/approve", method="POST", **lost)
    # When the hub redeems it
    result = gs_program.redeem(ANN, reward["id"], None)
    # Then it answers redeemed, from one approve, and the reward is fulfilled
    assert result.status == RewardStatus.REDEEMED
    assert [r["status"] for r in growsurf.rewards_of(ANN) if r["id"] == reward["id"]] == ["FULFILLED"]
    assert writes(growsurf, "/approve") == [200]


def test_growsurf_approve_only_whose_answer_was_lost_is_answered_approved_once(growsurf, gs_program, lost):
    # Given a pending reward, approved (not fulfilled) by GrowSurf, whose answer is lost
    reward = growsurf.grant_reward(ANN)
    growsurf.inject(path="/approve", method="POST", **lost)
    # When the hub approves it without fulfilling it
    result = gs_program.redeem(ANN, reward["id"], None, fulfill=False)
    # Then it answers approved, from one approve
    assert result.status == RewardStatus.APPROVED
    assert writes(growsurf, "/approve") == [200]


def test_growsurf_redeem_whose_first_attempt_was_not_applied_is_sent_once_more(growsurf, gs_program):
    # Given a 500 before GrowSurf applied anything
    reward = growsurf.grant_reward(ANN)
    growsurf.inject(500, path="/approve", method="POST")
    # When the hub redeems the reward / Then it is redeemed by the second approve
    assert gs_program.redeem(ANN, reward["id"], None).status == RewardStatus.REDEEMED
    assert writes(growsurf, "/approve") == [500, 200]


# -- Viral Loops ----------------------------------------------------------------------------------

#: GET participant shows ``flagged`` only under the ``full`` reading of its (undocumented) answer.
VL_READINGS = {"bare-participant": Readings(), "full-participant": Readings(participant_answer="full")}


@pytest.fixture(params=list(VL_READINGS), ids=list(VL_READINGS))
def viral_loops(request, start_sandbox) -> ViralLoopsSandbox:
    sandbox = start_sandbox(
        ViralLoopsSandbox(api_key=VL_KEY, campaign_id=VL_CAMPAIGN, readings=VL_READINGS[request.param])
    )
    alex = sandbox.seed_participant(ALEX, first_name="Alex")
    sandbox.seed_participant(SAM, first_name="Sam", referrer=alex["referralCode"])
    return sandbox


@pytest.fixture
def vl_program(viral_loops, fast_policy) -> ViralLoopsProgram:
    client = ViralLoopsClient(
        VL_KEY,
        VL_CAMPAIGN,
        base_url=viral_loops.base_url,
        rewards_url=viral_loops.rewards_base_url,
        policy=fast_policy,
    )
    config = CampaignConfig(provider=Provider.VIRAL_LOOPS, campaign_id=VL_CAMPAIGN, key=KeyRef(value=VL_KEY))
    return ViralLoopsProgram("waitlist", config, client)


def test_viral_loops_convert_whose_answer_was_lost_is_answered_credited_once(viral_loops, vl_program, lost):
    # Given Viral Loops converts Sam (crediting Alex, who earns a reward) and then loses its answer
    viral_loops.inject(path="/convert", method="POST", **lost)
    # When the hub converts Sam
    result = vl_program.convert(SAM)
    # Then it answers converted and credited, naming Alex by code, from one convert
    alex = viral_loops.participant(ALEX)
    assert (result.converted, result.credited) == (True, True)
    assert result.referrer is not None and result.referrer.referral_code == alex["referralCode"]
    assert alex["referredUsers"] == [{"email": SAM, "status": "converted"}]
    assert len(alex["rewards"]) == 1
    assert writes(viral_loops, "/convert") == [200]


def test_viral_loops_convert_whose_first_attempt_was_not_applied_is_sent_once_more(viral_loops, vl_program):
    # Given a 500 before Viral Loops applied anything
    viral_loops.inject(500, path="/convert", method="POST")
    # When the hub converts Sam / Then the read-back showed Sam not converted, and the second convert did it
    result = vl_program.convert(SAM)
    assert (result.converted, result.credited) == (True, True)
    assert len(viral_loops.participant(ALEX)["rewards"]) == 1
    assert writes(viral_loops, "/convert") == [500, 200]


def test_viral_loops_convert_whose_read_back_fails_raises_the_provider_error(viral_loops, vl_program):
    # Given a convert applied and its answer lost, and the referrer read-back failing
    viral_loops.inject(500, path="/convert", method="POST", applied=True)
    viral_loops.inject(500, path="/v3/campaign/participant/referrer", times=10, after=1)  # not the read before
    # When / Then the provider's error is raised, and the convert was not sent again
    with pytest.raises(ProviderError):
        vl_program.convert(SAM)
    assert writes(viral_loops, "/convert") == [200]


def test_viral_loops_redeem_whose_answer_was_lost_is_answered_redeemed_once(viral_loops, vl_program, lost):
    # Given a pending reward of Alex's, redeemed by Viral Loops, whose answer is lost
    reward = viral_loops.grant_reward(ALEX)
    viral_loops.inject(path="/rewards/redeem", method="POST", **lost)
    # When the hub redeems it (without its milestone: the hub reads it pending first)
    result = vl_program.redeem(ALEX, reward["rewardId"], None)
    # Then it answers redeemed, from one redeem, and the pending rewards no longer hold it
    assert result.status == RewardStatus.REDEEMED
    assert viral_loops.participant(ALEX)["rewards"][0]["isRedeemed"] is True
    assert writes(viral_loops, "/rewards/redeem") == [200]


def test_viral_loops_redeem_with_its_milestone_meets_already_redeemed_as_its_own_success(viral_loops, vl_program, lost):
    # Given a pending reward, redeemed by Viral Loops, whose answer is lost; the hub, given the
    # milestone, did not read it pending first
    reward = viral_loops.grant_reward(ALEX)
    viral_loops.inject(path="/rewards/redeem", method="POST", **lost)
    # When the hub redeems it
    result = vl_program.redeem(ALEX, reward["rewardId"], reward["milestoneId"])
    # Then the second send met "already redeemed", which is the hub's own success: redeemed once
    assert result.status == RewardStatus.REDEEMED
    assert viral_loops.participant(ALEX)["rewards"][0]["isRedeemed"] is True
    assert writes(viral_loops, "/rewards/redeem") == [200, 409]


def test_viral_loops_redeem_whose_first_attempt_was_not_applied_is_sent_once_more(viral_loops, vl_program):
    # Given a 500 before Viral Loops applied anything
    reward = viral_loops.grant_reward(ALEX)
    viral_loops.inject(500, path="/rewards/redeem", method="POST")
    # When the hub redeems it / Then the second redeem did it
    assert vl_program.redeem(ALEX, reward["rewardId"], None).status == RewardStatus.REDEEMED
    assert viral_loops.participant(ALEX)["rewards"][0]["isRedeemed"] is True
    assert writes(viral_loops, "/rewards/redeem") == [500, 200]


def test_viral_loops_flag_whose_answer_was_lost_is_answered_flagged(viral_loops, vl_program, lost):
    # Given Viral Loops flags Sam and then loses its answer
    viral_loops.inject(path="/flag", method="POST", **lost)
    # When the hub flags Sam
    result = vl_program.flag(SAM, "suspicious activity")
    # Then it answers flagged; a participant answer that shows the flag spares the second send, one that
    # does not has the flag sent again (the same state)
    assert (result.flagged, result.reason) == (True, "suspicious activity")
    assert viral_loops.participant(SAM)["flagged"] is True
    expected = [200] if viral_loops.readings.participant_answer == "full" else [200, 200]
    assert writes(viral_loops, "/flag") == expected


# -- the participant writes: add, update, delete, remove reward -----------------------------------


def sent(sandbox: Sandbox, path_suffix: str, method: str) -> list[int | None]:
    """The status the provider itself gave each ``method`` request to ``path_suffix``."""
    return [r.served or r.status for r in sandbox.requests_to(path_suffix, method)]


def test_growsurf_delete_whose_answer_was_lost_is_answered_deleted_once(growsurf, gs_program, lost):
    # Given GrowSurf removes Bob and then loses its answer
    growsurf.inject(path=f"/participant/{BOB}", method="DELETE", **lost)
    # When the hub deletes Bob / Then it answers without error, Bob is gone, from one remove
    gs_program.delete_participant(BOB)
    with pytest.raises(KeyError):
        growsurf.participant(BOB)
    assert sent(growsurf, f"/participant/{BOB}", "DELETE") == [200]


def test_growsurf_delete_whose_first_attempt_was_not_applied_is_sent_once_more(growsurf, gs_program):
    # Given a 500 before GrowSurf removed anyone
    growsurf.inject(500, path=f"/participant/{BOB}", method="DELETE")
    # When the hub deletes Bob / Then the read-back found Bob, and the second remove did it
    gs_program.delete_participant(BOB)
    with pytest.raises(KeyError):
        growsurf.participant(BOB)
    assert sent(growsurf, f"/participant/{BOB}", "DELETE") == [500, 200]


def test_growsurf_reward_removal_whose_answer_was_lost_is_answered_removed_once(growsurf, gs_program, lost):
    # Given a pending reward of Ann's, removed by GrowSurf, whose answer is lost
    reward = growsurf.grant_reward(ANN)
    growsurf.inject(path=f"/reward/{reward['id']}", method="DELETE", **lost)
    # When the hub removes it
    result = gs_program.remove_reward(ANN, reward["id"])
    # Then it answers removed, Ann has no reward left, from one remove
    assert (result.reward_id, result.removed) == (reward["id"], True)
    assert growsurf.rewards_of(ANN) == []
    assert sent(growsurf, f"/reward/{reward['id']}", "DELETE") == [200]


def test_growsurf_change_of_email_whose_answer_was_lost_is_answered_with_the_participant_once(
    growsurf, gs_program, lost
):
    # Given GrowSurf moves Bob to a new email and then loses its answer
    bob_id = growsurf.participant(BOB)["id"]
    growsurf.inject(path=f"/participant/{BOB}", method="POST", **lost)
    # When the hub changes Bob's email and first name
    result = gs_program.update_participant(BOB, UpdateParticipantRequest(email="bobby@example.com", first_name="Bobby"))
    # Then it answers Bob under the new email, as GrowSurf holds him, from one update
    assert (result.email, result.id, result.first_name) == ("bobby@example.com", bob_id, "Bobby")
    assert growsurf.participant("bobby@example.com")["id"] == bob_id
    with pytest.raises(KeyError):
        growsurf.participant(BOB)
    assert sent(growsurf, f"/participant/{BOB}", "POST") == [200]


def test_growsurf_referrer_assignment_whose_answer_was_lost_is_sent_once(growsurf, gs_program, lost):
    # Given Cat, whom nobody referred, and GrowSurf assigning Ann as her referrer, then losing its answer
    ann_id = growsurf.participant(ANN)["id"]
    growsurf.seed_participant(CAT, first_name="Cat")
    growsurf.inject(path=f"/participant/{CAT}", method="POST", **lost)
    # When the hub sets Cat's referrer to Ann
    result = gs_program.update_participant(CAT, UpdateParticipantRequest(referrer=ANN))
    # Then it answers Cat referred by Ann, as GrowSurf holds her, from one update
    assert result.referrer is not None and result.referrer.email == ANN
    assert growsurf.participant(CAT)["referrer"]["id"] == ann_id
    assert sent(growsurf, f"/participant/{CAT}", "POST") == [200]


def test_viral_loops_add_whose_answer_was_lost_is_answered_created_once(viral_loops, vl_program, lost):
    # Given Viral Loops adds Cat and then loses its answer
    viral_loops.inject(path="/v2/campaign/participant", method="POST", **lost)
    # When the hub adds Cat
    participant, created = vl_program.add_participant(AddParticipantRequest(email=CAT, first_name="Cat"))
    # Then it answers Cat as created (not as one the campaign had), from one add
    assert (participant.email, created) == (CAT, True)
    assert viral_loops.participant(CAT)["firstName"] == "Cat"
    assert sent(viral_loops, "/v2/campaign/participant", "POST") == [200]


def test_viral_loops_add_whose_first_attempt_was_not_applied_is_sent_once_more(viral_loops, vl_program):
    # Given a 500 before Viral Loops added anyone
    viral_loops.inject(500, path="/v2/campaign/participant", method="POST")
    # When the hub adds Cat / Then the read-back found nobody, and the second add made her
    _participant, created = vl_program.add_participant(AddParticipantRequest(email=CAT))
    assert created is True
    assert sent(viral_loops, "/v2/campaign/participant", "POST") == [500, 200]


def test_viral_loops_convert_of_a_participant_converted_before_is_refused_before_any_convert(viral_loops, vl_program):
    # Given Sam converted by someone else, and Viral Loops failing its next convert before applying it
    viral_loops.convert(SAM)
    viral_loops.inject(500, path="/convert", method="POST")
    # When / Then the hub answers "already converted" from its read before, and sends no convert: a
    # read-back after the 500 would have shown Sam converted and been taken for the hub's own success
    with pytest.raises(AlreadyConverted):
        vl_program.convert(SAM)
    assert sent(viral_loops, "/convert", "POST") == []
    assert len(viral_loops.participant(ALEX)["rewards"]) == 1


def test_viral_loops_change_of_email_whose_answer_was_lost_is_answered_once(viral_loops, vl_program, lost):
    # Given Viral Loops moves Sam to a new email and then loses its answer
    viral_loops.inject(path="/v2/campaign/participant", method="PUT", **lost)
    # When the hub changes Sam's email
    result = vl_program.update_participant(SAM, UpdateParticipantRequest(email="samuel@example.com"))
    # Then it answers Sam under the new email, from one update
    assert result.email == "samuel@example.com"
    assert viral_loops.participant("samuel@example.com")["firstName"] == "Sam"
    assert sent(viral_loops, "/v2/campaign/participant", "PUT") == [200]


# -- SparkLoop ------------------------------------------------------------------------------------

SL_KEY = "sl-lost-answers-key-77a1"
SL_CAMPAIGN = "camp_lost1"


@pytest.fixture
def sparkloop(start_sandbox) -> SparkLoopSandbox:
    sandbox = start_sandbox(SparkLoopSandbox(api_key=SL_KEY, campaign_id=SL_CAMPAIGN))
    sandbox.seed_subscriber(ANN, name="Ann")
    return sandbox


@pytest.fixture
def sl_program(sparkloop, fast_policy) -> SparkLoopProgram:
    client = SparkLoopClient(SL_KEY, SL_CAMPAIGN, base_url=sparkloop.base_url, policy=fast_policy)
    config = CampaignConfig(provider=Provider.SPARKLOOP, campaign_id=SL_CAMPAIGN, key=KeyRef(value=SL_KEY))
    return SparkLoopProgram("newsletter", config, client)


def test_sparkloop_add_whose_answer_was_lost_is_answered_created_once(sparkloop, sl_program, lost):
    # Given SparkLoop creates Cat's subscription and then loses its answer
    sparkloop.inject(path="/subscribers", method="POST", **lost)
    # When the hub adds Cat
    participant, created = sl_program.add_participant(AddParticipantRequest(email=CAT, first_name="Cat"))
    # Then it answers Cat as created (not as a subscriber the campaign had), from one create
    assert (participant.email, created) == (CAT, True)
    assert sparkloop.subscriber(CAT)["email"] == CAT
    assert sent(sparkloop, "/subscribers", "POST") == [200]


def test_sparkloop_delete_whose_answer_was_lost_is_answered_deleted_once(sparkloop, sl_program, lost):
    # Given SparkLoop deletes Ann and then loses its answer
    uuid = sparkloop.subscriber(ANN)["uuid"]
    sparkloop.inject(path=f"/subscribers/{uuid}", method="DELETE", **lost)
    # When the hub deletes Ann / Then it answers without error, Ann is gone, from one delete
    sl_program.delete_participant(ANN)
    with pytest.raises(KeyError):
        sparkloop.subscriber(ANN)
    assert sent(sparkloop, f"/subscribers/{uuid}", "DELETE") == [200]


# -- Loops ----------------------------------------------------------------------------------------

LOOPS_KEY = "loops-lost-answers-key-3b9d"


def test_loops_contact_delete_whose_answer_was_lost_is_answered_deleted_once(
    start_sandbox, fast_policy, lost, monkeypatch
):
    # Given Ann's Loops contact, and Loops deleting it and then losing its answer
    loops = start_sandbox(LoopsSandbox(api_key=LOOPS_KEY, unknown_delete="not_found"))
    loops.seed_contact(ANN, firstName="Ann")
    monkeypatch.setattr(
        contacts, "loops_client", lambda: LoopsClient(LOOPS_KEY, base_url=loops.base_url, policy=fast_policy)
    )
    loops.inject(path="/contacts/delete", method="POST", **lost)
    # When the hub deletes the contact
    result = contacts.delete_contact(ANN)
    # Then it answers deleted, Loops has no contact, from one delete (a second would have met a 404)
    assert (result.email, result.deleted) == (ANN, True)
    assert loops.contact(ANN) is None
    assert sent(loops, "/contacts/delete", "POST") == [200]
