"""The lifecycle operations (update, delete, paged participants, campaign referrals, redeem's
``fulfill``) of the Viral Loops and SparkLoop programs, over real HTTP against their sandboxes, under
each of the sandboxes' readings of what the documents leave open: what the provider received and what
the hub's user gets."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from hub.domain.errors import (
    EmailTaken,
    ParticipantNotFound,
    ProviderError,
    Unsupported,
    ValidationError,
)
from hub.domain.models import Provider, ReferralStatus
from hub.domain.requests import UpdateParticipantRequest
from hub.providers.sparkloop.client import SparkLoopClient
from hub.providers.sparkloop.program import SparkLoopProgram
from hub.providers.viral_loops.client import ViralLoopsClient
from hub.providers.viral_loops.program import ViralLoopsProgram
from hub.settings.config import CampaignConfig, KeyRef
from local.sandbox.sparkloop import SparkLoopSandbox
from local.sandbox.viral_loops import READINGS, Readings, ViralLoopsSandbox

VL_KEY = "vl-lifecycle-token-91c2"
VL_CAMPAIGN = "cl2ad12345a1ab601234"
P = "/api/v2/campaign/participant"

SL_KEY = "sl-lifecycle-key-4d7e"
SL_CAMPAIGN = "MF9a78983d1c"
SUBSCRIBERS = f"/v1/campaigns/{SL_CAMPAIGN}/subscribers"


def update(**fields) -> UpdateParticipantRequest:
    return UpdateParticipantRequest.model_validate(fields)


# == Viral Loops ==================================================================================


@pytest.fixture(scope="module")
def running_viral_loops() -> Iterator[ViralLoopsSandbox]:
    sandbox = ViralLoopsSandbox(api_key=VL_KEY, campaign_id=VL_CAMPAIGN)
    sandbox.start()
    yield sandbox
    sandbox.stop()


@pytest.fixture(params=list(READINGS))
def readings(request) -> Readings:
    """Each reading of Viral Loops' silences (local/sandbox/viral_loops.py)."""
    return READINGS[request.param]


@pytest.fixture
def viral_loops(running_viral_loops, readings) -> ViralLoopsSandbox:
    running_viral_loops.set_rate_limit(None)
    running_viral_loops.reset()
    running_viral_loops.set_readings(readings)
    return running_viral_loops


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


@pytest.fixture
def program_under(running_viral_loops, fast_policy):
    """A program against the module's sandbox, emptied and set to the ``Readings`` given."""

    def under(readings: Readings) -> ViralLoopsProgram:
        running_viral_loops.set_rate_limit(None)
        running_viral_loops.reset()
        running_viral_loops.set_readings(readings)
        client = ViralLoopsClient(
            VL_KEY,
            VL_CAMPAIGN,
            base_url=running_viral_loops.base_url,
            rewards_url=running_viral_loops.rewards_base_url,
            policy=fast_policy,
        )
        config = CampaignConfig(provider=Provider.VIRAL_LOOPS, campaign_id=VL_CAMPAIGN, key=KeyRef(value=VL_KEY))
        return ViralLoopsProgram("waitlist", config, client)

    return under


@pytest.fixture
def alex_and_sam(viral_loops) -> tuple[dict, dict]:
    """Alex, and Sam who signed up with Alex's code and has custom data."""
    alex = viral_loops.seed_participant("alex@example.com", first_name="Alex", last_name="Lee")
    sam = viral_loops.seed_participant(
        "sam@example.com", first_name="Sam", referrer=alex["referralCode"], custom_fields={"plan": "pro"}
    )
    return alex, sam


def calls(sandbox) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in sandbox.received]


# -- update participant ---------------------------------------------------------------------------


def test_vl_update_puts_the_first_name_and_answers_the_participant_read_back(viral_loops, vl_program, alex_and_sam):
    # Given Sam
    _, sam = alex_and_sam
    # When the hub changes Sam's first name
    participant = vl_program.update_participant("sam@example.com", update(firstName="Samuel"))
    # Then Viral Loops received the section's PUT, with the token, campaign and current email
    (put,) = viral_loops.requests_to(P, "PUT")
    assert put.json == {
        "apiToken": VL_KEY,
        "campaignId": VL_CAMPAIGN,
        "email": "sam@example.com",
        "firstName": "Samuel",
    }
    # And the hub read the participant back (its PUT answers only what changed), then answered it whole
    assert calls(viral_loops) == [("PUT", P), ("GET", P), ("GET", f"{P}/referrer")]
    assert (participant.email, participant.first_name, participant.id) == (
        "sam@example.com",
        "Samuel",
        sam["referralCode"],
    )
    assert participant.referrer is not None
    assert participant.referrer.referral_code == viral_loops.participant("alex@example.com")["referralCode"]


def test_vl_update_of_the_email_sends_new_email_and_reads_back_the_new_address(viral_loops, vl_program, alex_and_sam):
    # Given Sam / When the hub moves Sam to a new address (in mixed case)
    participant = vl_program.update_participant("sam@example.com", update(email="Samuel@Example.com"))
    # Then the PUT carried it as newEmail, lower-cased as the document asks, and the read-back asked for it
    (put,) = viral_loops.requests_to(P, "PUT")
    assert (put.json["email"], put.json["newEmail"]) == ("sam@example.com", "samuel@example.com")
    (read_back,) = viral_loops.requests_to(P, "GET")
    assert read_back.query["email"] == "samuel@example.com"
    # And the hub answers Sam under the new address, which Viral Loops now has, still referred by Alex
    assert participant.email == "samuel@example.com"
    assert viral_loops.participant("samuel@example.com")["referrer"]["email"] == "alex@example.com"
    with pytest.raises(ParticipantNotFound):
        vl_program.get_participant("sam@example.com")


def test_vl_update_merges_metadata_into_the_custom_fields_under_either_reading(viral_loops, vl_program, alex_and_sam):
    # Given Sam's custom data {"plan": "pro"}
    # When the hub sends metadata {"city": "Berlin"}
    vl_program.update_participant("sam@example.com", update(metadata={"city": "Berlin"}))
    # Then it read the current custom fields first and sent the whole merged object
    assert calls(viral_loops)[:2] == [("GET", f"{P}/data"), ("PUT", P)]
    (put,) = viral_loops.requests_to(P, "PUT")
    assert put.json["customFields"] == {"plan": "pro", "city": "Berlin"}
    # And Viral Loops holds both keys, whether its update replaces or merges
    assert viral_loops.participant("sam@example.com")["customFields"] == {"plan": "pro", "city": "Berlin"}


def test_vl_update_refuses_removing_a_metadata_key_before_any_call(viral_loops, vl_program, alex_and_sam):
    # Given a metadata key set to null (the hub's contract: remove it), which Viral Loops has no way to do
    # When / Then it is refused naming that key, and Viral Loops received nothing
    with pytest.raises(ValidationError) as raised:
        vl_program.update_participant("sam@example.com", update(metadata={"plan": None, "city": "Rome"}))
    assert raised.value.details == [{"field": "metadata.plan", "reason": "Viral Loops cannot remove a custom field"}]
    assert viral_loops.received == []
    assert viral_loops.participant("sam@example.com")["customFields"] == {"plan": "pro"}


def test_vl_update_with_a_referrer_email_sends_its_referral_code(viral_loops, vl_program, alex_and_sam):
    # Given Kim, and Sam referred by Alex
    kim = viral_loops.seed_participant("kim@example.com", first_name="Kim")
    # When the hub makes Kim (given by email) Sam's referrer
    participant = vl_program.update_participant("sam@example.com", update(referrer="Kim@Example.com"))
    # Then Viral Loops got Kim's code (it takes codes only), and Sam's referrer is now Kim
    (put,) = viral_loops.requests_to(P, "PUT")
    assert put.json["referrer"] == kim["referralCode"]
    assert participant.referrer is not None
    assert participant.referrer.referral_code == kim["referralCode"]
    assert viral_loops.participant("sam@example.com")["referrer"]["email"] == "kim@example.com"


def test_vl_update_with_an_unknown_referrer_email_is_refused_naming_referrer(viral_loops, vl_program, alex_and_sam):
    # Given an email nobody in the campaign has / When it is sent as the referrer
    with pytest.raises(ValidationError) as raised:
        vl_program.update_participant("sam@example.com", update(referrer="ghost@example.com"))
    # Then the hub refused it naming referrer, and sent no PUT
    assert raised.value.details[0]["field"] == "referrer"
    assert viral_loops.requests_to(P, "PUT") == []


def test_vl_update_refuses_the_participant_as_its_own_referrer_before_any_call(viral_loops, vl_program, alex_and_sam):
    # Given Sam's own email as Sam's referrer / When / Then
    with pytest.raises(ValidationError) as raised:
        vl_program.update_participant("sam@example.com", update(referrer="SAM@example.com"))
    assert raised.value.details == [{"field": "referrer", "reason": "is the participant being updated"}]
    assert viral_loops.received == []


def test_vl_update_with_a_code_viral_loops_refuses_names_referrer(viral_loops, vl_program, alex_and_sam):
    # Given a referral code nobody holds (Viral Loops has no lookup by code: only its PUT can tell)
    # When it is sent / Then Viral Loops' 400 comes back naming referrer, and Sam's referrer is unchanged
    with pytest.raises(ValidationError) as raised:
        vl_program.update_participant("sam@example.com", update(referrer="nobody12"))
    assert [d["field"] for d in raised.value.details] == ["referrer"]
    assert viral_loops.requests_to(P, "PUT")[0].json["referrer"] == "nobody12"
    assert viral_loops.participant("sam@example.com")["referrer"]["email"] == "alex@example.com"


def test_vl_update_of_an_unknown_participant_is_participant_not_found(viral_loops, vl_program):
    # Given no such participant / When the hub updates it
    with pytest.raises(ParticipantNotFound):
        vl_program.update_participant("ghost@example.com", update(firstName="G"))
    # Then the PUT was sent once and answered 404, and nothing was read back
    assert calls(viral_loops) == [("PUT", P)]
    assert viral_loops.received[0].status == 404


def test_vl_update_of_an_unknown_participant_with_metadata_stops_at_its_data(viral_loops, vl_program):
    # Given no such participant / When metadata is sent, Then the custom fields read is its 404, and no PUT
    with pytest.raises(ParticipantNotFound):
        vl_program.update_participant("ghost@example.com", update(metadata={"a": 1}))
    assert calls(viral_loops) == [("GET", f"{P}/data")]


def test_vl_update_to_a_taken_email_is_email_taken_naming_email(viral_loops, vl_program, alex_and_sam):
    # Given Alex's address / When Sam is moved to it
    with pytest.raises(EmailTaken) as raised:
        vl_program.update_participant("sam@example.com", update(email="alex@example.com"))
    # Then the documented 409 names email, and both participants are as they were
    assert raised.value.details == [{"field": "email", "reason": "another participant of the campaign has it"}]
    assert viral_loops.participant("sam@example.com")["firstName"] == "Sam"
    assert viral_loops.participant("alex@example.com")["firstName"] == "Alex"


def test_vl_update_sends_the_last_name_and_answers_what_viral_loops_kept(viral_loops, vl_program, readings):
    # Given Alex Lee
    viral_loops.seed_participant("alex@example.com", first_name="Alex", last_name="Lee")
    # When the hub changes the last name
    participant = vl_program.update_participant("alex@example.com", update(lastName="Stone"))
    # Then the PUT carried lastName
    assert viral_loops.requests_to(P, "PUT")[0].json["lastName"] == "Stone"
    # And the answer is the read-back: it shows the last name only where the GET participant answer does
    kept = readings.update_last_name == "kept"
    assert viral_loops.participant("alex@example.com")["lastName"] == ("Stone" if kept else "Lee")
    assert participant.last_name == ("Stone" if readings.participant_answer == "full" else None)


def test_vl_a_last_name_viral_loops_did_not_keep_is_a_provider_error_naming_it(running_viral_loops, program_under):
    # Given Viral Loops ignoring lastName on update, and a GET participant answer that shows last names
    program = program_under(Readings(participant_answer="full", update_last_name="ignored"))
    running_viral_loops.seed_participant("alex@example.com", first_name="Alex", last_name="Lee")
    # When the hub changes the last name with the first name
    with pytest.raises(ProviderError) as raised:
        program.update_participant("alex@example.com", update(firstName="Al", lastName="Stone"))
    # Then the PUT carried both, and the hub says the last name was not kept rather than a success
    assert running_viral_loops.requests_to(P, "PUT")[0].json["lastName"] == "Stone"
    assert raised.value.details == [{"field": "lastName", "reason": "Viral Loops did not keep it"}]
    # And Viral Loops changed the first name only
    state = running_viral_loops.participant("alex@example.com")
    assert (state["firstName"], state["lastName"]) == ("Al", "Lee")


@pytest.mark.parametrize("answer", ["changed", "whole"])
def test_vl_update_answers_the_same_whatever_the_put_answers(running_viral_loops, program_under, answer):
    # Given the PUT answering only what changed, or the whole participant
    program = program_under(Readings(update_answer=answer))
    seeded = running_viral_loops.seed_participant("alex@example.com", first_name="Alex")
    # When the email alone is changed (the sample answer then says nothing at all)
    participant = program.update_participant("alex@example.com", update(email="al@example.com"))
    # Then the hub answers the participant read back under the new address, the same under both
    assert [(r.method, r.status) for r in running_viral_loops.received] == [("PUT", 200), ("GET", 200), ("GET", 404)]
    assert (participant.email, participant.first_name, participant.id) == (
        "al@example.com",
        "Alex",
        seeded["referralCode"],
    )


# -- redeem, and what Viral Loops does not have ---------------------------------------------------


def test_vl_redeem_without_fulfilling_is_refused_before_any_call(viral_loops, vl_program, alex_and_sam):
    # Given a pending reward of Alex's
    reward = viral_loops.grant_reward("alex@example.com")
    # When the hub is asked to approve it without fulfilling it
    with pytest.raises(ValidationError) as raised:
        vl_program.redeem("alex@example.com", reward["rewardId"], reward["milestoneId"], fulfill=False)
    # Then it is refused naming fulfill, Viral Loops received nothing, and the reward is still pending
    assert [d["field"] for d in raised.value.details] == ["fulfill"]
    assert viral_loops.received == []
    assert viral_loops.participant("alex@example.com")["rewards"][0]["isRedeemed"] is False


def test_vl_redeem_with_fulfill_marks_the_reward_redeemed(viral_loops, vl_program, alex_and_sam):
    # Given a pending reward / When it is redeemed with fulfill (the default)
    reward = viral_loops.grant_reward("alex@example.com")
    result = vl_program.redeem("alex@example.com", reward["rewardId"], reward["milestoneId"], fulfill=True)
    # Then the redeem reward endpoint was called and the reward is redeemed
    assert [r.json["rewardId"] for r in viral_loops.requests_to("/rewards/redeem", "POST")] == [reward["rewardId"]]
    assert result.status == "redeemed"
    assert viral_loops.participant("alex@example.com")["rewards"][0]["isRedeemed"] is True


@pytest.mark.parametrize(
    ("method", "call"),
    [
        ("participants_page", lambda program: program.participants_page(None, 10)),
        ("campaign_referrals", lambda program: program.campaign_referrals(None, 10, None)),
        ("delete_participant", lambda program: program.delete_participant("alex@example.com")),
    ],
)
def test_vl_operations_its_document_lacks_answer_501_without_a_call(viral_loops, vl_program, method, call):
    # Given an operation the Viral Loops document has no endpoint for
    # When it is asked for / Then it is the base's 501, naming Viral Loops, and nothing reached it
    with pytest.raises(Unsupported) as raised:
        call(vl_program)
    assert raised.value.provider == "Viral Loops"
    assert not ViralLoopsProgram.supports(method)
    assert viral_loops.received == []


def test_vl_sandbox_answers_no_delete_of_a_participant(viral_loops, alex_and_sam):
    # Given the flag section's passing mention of DELETE /campaign/participant, never documented
    # When a DELETE is sent there / Then the sandbox has no such endpoint, and Alex is still there
    response = requests.delete(
        f"{viral_loops.base_url}/v2/campaign/participant",
        json={"campaignId": VL_CAMPAIGN, "email": "alex@example.com"},
        headers={"x-api-token": VL_KEY},
        timeout=5,
    )
    assert response.status_code == 405
    assert viral_loops.participant("alex@example.com")["email"] == "alex@example.com"


# == SparkLoop ====================================================================================


@pytest.fixture(params=["all", "typed"], ids=["totals-all", "totals-typed"])
def sparkloop(start_sandbox, request) -> SparkLoopSandbox:
    """SparkLoop under each reading of what a typed list's meta counts."""
    return start_sandbox(SparkLoopSandbox(api_key=SL_KEY, campaign_id=SL_CAMPAIGN, type_totals=request.param))


@pytest.fixture
def sl_program(sparkloop, fast_policy) -> SparkLoopProgram:
    client = SparkLoopClient(SL_KEY, SL_CAMPAIGN, base_url=sparkloop.base_url, policy=fast_policy)
    config = CampaignConfig(provider=Provider.SPARKLOOP, campaign_id=SL_CAMPAIGN, key=KeyRef(value=SL_KEY))
    return SparkLoopProgram("newsletter", config, client)


@pytest.fixture
def five(sparkloop) -> list[dict]:
    """Five subscribers a day apart (s1 oldest): the first is everyone else's referrer."""
    first = sparkloop.seed_subscriber("s1@example.com", name="Sue One", created_at="2021-03-01T10:00:00Z")
    rest = [
        sparkloop.seed_subscriber(
            f"s{day}@example.com", referrer=first["ref_code"], created_at=f"2021-03-0{day}T10:00:00Z"
        )
        for day in range(2, 6)
    ]
    return [first, *rest]


# -- participants, paged --------------------------------------------------------------------------


def test_sl_participants_page_asks_for_page_and_per_page_and_points_to_the_next(sparkloop, sl_program, five):
    # Given five subscribers
    # When the first page of two is asked for
    page = sl_program.participants_page(None, 2)
    # Then SparkLoop got page 1 of 2 per page, and the hub answers the two newest and the next page
    (received,) = sparkloop.requests_to(SUBSCRIBERS, "GET")
    assert received.query == {"page": "1", "per_page": "2"}
    assert [p.email for p in page.items] == ["s5@example.com", "s4@example.com"]
    assert page.next_cursor == "2"
    assert all(p.campaign == "newsletter" and p.provider == Provider.SPARKLOOP for p in page.items)


def test_sl_participants_pages_walk_every_subscriber_once_and_end(sparkloop, sl_program, five):
    # Given five subscribers / When every page of two is read by its cursor
    emails, cursor, cursors = [], None, []
    while True:
        page = sl_program.participants_page(cursor, 2)
        emails += [p.email for p in page.items]
        cursors.append(page.next_cursor)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    # Then each came once, newest first, over pages 1 to 3, the last with no cursor
    assert emails == [f"s{day}@example.com" for day in range(5, 0, -1)]
    assert cursors == ["2", "3", None]
    assert [r.query["page"] for r in sparkloop.requests_to(SUBSCRIBERS, "GET")] == ["1", "2", "3"]


def test_sl_the_last_full_page_has_no_cursor(sparkloop, sl_program, five):
    # Given five subscribers / When one page of five is asked for / Then meta's one page is the last
    page = sl_program.participants_page(None, 5)
    assert (len(page.items), page.next_cursor) == (5, None)


def test_sl_a_cursor_past_the_end_is_an_empty_last_page(sparkloop, sl_program, five):
    # Given five subscribers / When page 9 is asked for / Then SparkLoop answers it empty and it is the last
    page = sl_program.participants_page("9", 2)
    assert (page.items, page.next_cursor) == ([], None)
    assert sparkloop.requests_to(SUBSCRIBERS, "GET")[0].query == {"page": "9", "per_page": "2"}


def test_sl_an_empty_campaign_is_one_empty_page(sparkloop, sl_program):
    page = sl_program.participants_page(None, 50)
    assert (page.items, page.next_cursor) == ([], None)


@pytest.mark.parametrize("cursor", ["abc", "0", "-1", "1.5", " 2", "02", "\u0663", "", "1" * 12])
def test_sl_a_cursor_that_is_not_a_page_number_is_refused_before_any_call(sparkloop, sl_program, cursor):
    # Given a cursor no page of SparkLoop's handed out / When / Then 422 naming cursor, nothing sent
    with pytest.raises(ValidationError) as raised:
        sl_program.participants_page(cursor, 10)
    assert [d["field"] for d in raised.value.details] == ["cursor"]
    assert sparkloop.received == []


@pytest.mark.parametrize("limit", [0, -3, 101, 500])
def test_sl_a_limit_out_of_range_is_refused_before_any_call(sparkloop, sl_program, limit):
    with pytest.raises(ValidationError) as raised:
        sl_program.participants_page(None, limit)
    assert [d["field"] for d in raised.value.details] == ["limit"]
    assert sparkloop.received == []


def test_sl_a_page_answer_without_its_list_is_a_provider_error(sparkloop, sl_program):
    # Given SparkLoop answering a page without its subscribers
    sparkloop.inject(200, body={"meta": {"page": 1, "per_page": 2, "total_pages": 3}}, path=SUBSCRIBERS)
    # When / Then the hub says the provider is at fault, not a 500
    with pytest.raises(ProviderError):
        sl_program.participants_page(None, 2)


# -- campaign referrals ---------------------------------------------------------------------------


def test_sl_campaign_referrals_list_the_referred_subscribers_as_converted(sparkloop, sl_program, five):
    # Given four subscribers referred by s1 / When the first page of three referrals is asked for
    page = sl_program.campaign_referrals(None, 3, None)
    # Then SparkLoop got the referrals type with the page, and the hub answers them converted
    (received,) = sparkloop.requests_to(SUBSCRIBERS, "GET")
    assert received.query == {"type": "referrals", "page": "1", "per_page": "3"}
    assert [(r.email, r.status) for r in page.items] == [
        (f"s{day}@example.com", ReferralStatus.CONVERTED) for day in (5, 4, 3)
    ]
    assert page.next_cursor == "2"


def test_sl_campaign_referrals_end_on_the_short_page_whatever_meta_counts(sparkloop, sl_program, five):
    # Given four referrals among eight subscribers, read three a page: under "all" meta counts three pages
    for name in ("u1", "u2", "u3"):
        sparkloop.seed_subscriber(f"{name}@example.com", created_at="2021-02-01T10:00:00Z")
    meta = sl_program.client.get_subscribers(type="referrals", page=2, per_page=3)["meta"]
    assert meta["total_pages"] == (3 if sparkloop.type_totals == "all" else 2)
    sparkloop.received.clear()
    # When the hub reads the second page of referrals
    page = sl_program.campaign_referrals("2", 3, ReferralStatus.CONVERTED)
    # Then it holds the last referral and is the last page, whatever meta counts
    assert sparkloop.requests_to(SUBSCRIBERS, "GET")[0].query == {"type": "referrals", "page": "2", "per_page": "3"}
    assert [r.email for r in page.items] == ["s2@example.com"]
    assert page.next_cursor is None


def test_sl_campaign_referrals_do_not_point_past_the_referrals(sparkloop, sl_program, five):
    # Given four referrals, two a page (meta, under "all", counting five subscribers: three pages)
    # When the pages are followed
    first = sl_program.campaign_referrals(None, 2, None)
    second = sl_program.campaign_referrals(first.next_cursor, 2, None)
    # Then the second page holds the last two and, under "typed", is the last; under "all" one empty
    # page may follow, and it is the last
    assert [r.email for r in first.items + second.items] == [f"s{day}@example.com" for day in (5, 4, 3, 2)]
    if second.next_cursor is not None:
        assert sparkloop.type_totals == "all"
        third = sl_program.campaign_referrals(second.next_cursor, 2, None)
        assert (third.items, third.next_cursor) == ([], None)


@pytest.mark.parametrize("status", [ReferralStatus.PENDING, ReferralStatus.EXPIRED, ReferralStatus.INVITED])
def test_sl_campaign_referrals_of_a_status_sparkloop_cannot_have_are_refused(sparkloop, sl_program, five, status):
    # Given a status SparkLoop's referrals never have / When / Then 422 naming status, nothing sent
    with pytest.raises(ValidationError) as raised:
        sl_program.campaign_referrals(None, 10, status)
    assert raised.value.details == [{"field": "status", "reason": "SparkLoop's referrals are all converted"}]
    assert sparkloop.received == []


def test_sl_campaign_referrals_refuse_a_bad_cursor_before_any_call(sparkloop, sl_program):
    with pytest.raises(ValidationError) as raised:
        sl_program.campaign_referrals("next", 10, None)
    assert [d["field"] for d in raised.value.details] == ["cursor"]
    assert sparkloop.received == []


# -- delete participant ---------------------------------------------------------------------------


def test_sl_delete_finds_the_subscriber_by_email_then_deletes_its_uuid(sparkloop, sl_program, five):
    # Given s3
    s3 = five[2]
    # When the hub deletes s3 by email
    result = sl_program.delete_participant("s3@example.com")
    # Then SparkLoop got the lookup by email, then the documented DELETE of s3's UUID
    assert calls(sparkloop) == [("GET", SUBSCRIBERS), ("DELETE", f"{SUBSCRIBERS}/{s3['uuid']}")]
    assert sparkloop.received[0].query == {"email": "s3@example.com"}
    assert sparkloop.received[1].status == 200
    # And s3 is gone, everyone else still there
    assert result is None
    with pytest.raises(KeyError):
        sparkloop.subscriber(s3["uuid"])
    assert len(sparkloop.subscribers) == 4


def test_sl_a_second_delete_is_participant_not_found_and_reaches_no_one(sparkloop, sl_program, five):
    # Given s3 deleted once
    sl_program.delete_participant("s3@example.com")
    sparkloop.received.clear()
    # When it is deleted again
    with pytest.raises(ParticipantNotFound):
        sl_program.delete_participant("s3@example.com")
    # Then only the lookup was sent (its documented 404), no DELETE, and the other four are there
    assert calls(sparkloop) == [("GET", SUBSCRIBERS)]
    assert sparkloop.received[0].status == 404
    assert len(sparkloop.subscribers) == 4


def test_sl_delete_of_an_unknown_email_sends_no_delete(sparkloop, sl_program, five):
    with pytest.raises(ParticipantNotFound):
        sl_program.delete_participant("ghost@example.com")
    assert sparkloop.requests_to(f"{SUBSCRIBERS}/", "DELETE") == []
    assert [r.method for r in sparkloop.received] == ["GET"]


def test_sl_a_subscriber_deleted_meanwhile_is_participant_not_found(sparkloop, sl_program, five):
    # Given s3 removed between the hub's lookup and its delete (its DELETE answers the documented 404)
    s3 = five[2]
    sparkloop.inject(404, body={"error": f"Subscriber {s3['uuid']} not found!"}, method="DELETE")
    # When / Then
    with pytest.raises(ParticipantNotFound):
        sl_program.delete_participant("s3@example.com")
    assert [r.method for r in sparkloop.received] == ["GET", "DELETE"]


def test_sl_a_failed_delete_is_a_provider_error_and_keeps_the_subscriber(sparkloop, sl_program, five):
    # Given SparkLoop failing to delete s3 (its documented 400)
    s3 = five[2]
    sparkloop.fail_deletes_of(s3["uuid"])
    # When / Then it is SparkLoop's failure, not the caller's, and s3 is still there
    with pytest.raises(ProviderError) as raised:
        sl_program.delete_participant("s3@example.com")
    assert not isinstance(raised.value, ValidationError)
    assert sparkloop.subscriber(s3["uuid"])["email"] == "s3@example.com"


def test_sl_a_lookup_answering_someone_else_deletes_no_one(sparkloop, sl_program, five):
    # Given SparkLoop's lookup by email answering another subscriber (s1) than the one asked for
    s1 = five[0]
    sparkloop.inject(200, body={"subscriber": sparkloop.subscriber(s1["uuid"])}, method="GET")
    # When the hub deletes s3
    with pytest.raises(ProviderError):
        sl_program.delete_participant("s3@example.com")
    # Then no DELETE was sent, and every subscriber is still there
    assert [r.method for r in sparkloop.received] == ["GET"]
    assert len(sparkloop.subscribers) == 5


# -- what SparkLoop does not have -----------------------------------------------------------------


def test_sl_update_participant_answers_501_without_a_call(sparkloop, sl_program, five):
    # Given SparkLoop's update, which sets a status only / When the hub's update is asked for / Then 501
    with pytest.raises(Unsupported) as raised:
        sl_program.update_participant("s1@example.com", update(firstName="Sue"))
    assert (raised.value.provider, SparkLoopProgram.supports("update_participant")) == ("SparkLoop", False)
    assert sparkloop.received == []


@pytest.mark.parametrize("fulfill", [True, False])
def test_sl_redeem_answers_501_whatever_fulfill(sparkloop, sl_program, fulfill):
    with pytest.raises(Unsupported):
        sl_program.redeem("s1@example.com", "r-1", None, fulfill=fulfill)
    assert sparkloop.received == []


def test_sl_programs_support_the_lifecycle_reads_and_delete():
    # Given SparkLoop's program / Then it has the paged participants, campaign referrals and delete
    assert all(
        SparkLoopProgram.supports(method)
        for method in ("participants_page", "campaign_referrals", "delete_participant")
    )
