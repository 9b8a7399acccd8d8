"""The hub's Viral Loops operations (ViralLoopsProgram) over real HTTP against the sandbox, under each of
the sandbox's readings: what Viral Loops received and what the hub's user gets."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hub.domain.errors import ParticipantNotFound, ValidationError
from hub.domain.models import Provider
from hub.domain.requests import AddParticipantRequest
from hub.providers.viral_loops.client import ViralLoopsClient
from hub.providers.viral_loops.program import ViralLoopsProgram
from hub.settings.config import CampaignConfig, KeyRef
from local.sandbox.viral_loops import READINGS, Readings, ViralLoopsSandbox

KEY = "vl-program-token-2b81"
CAMPAIGN = "cl2ad12345a1ab601234"
P = "/api/v2/campaign/participant"


@pytest.fixture(scope="module")
def running_sandbox() -> Iterator[ViralLoopsSandbox]:
    sandbox = ViralLoopsSandbox(api_key=KEY, campaign_id=CAMPAIGN)
    sandbox.start()
    yield sandbox
    sandbox.stop()


@pytest.fixture(params=list(READINGS))
def readings(request) -> Readings:
    return READINGS[request.param]


@pytest.fixture
def sandbox(running_sandbox, readings) -> ViralLoopsSandbox:
    running_sandbox.reset()
    running_sandbox.set_readings(readings)
    return running_sandbox


@pytest.fixture
def program(sandbox, fast_policy) -> ViralLoopsProgram:
    client = ViralLoopsClient(
        KEY, CAMPAIGN, base_url=sandbox.base_url, rewards_url=sandbox.rewards_base_url, policy=fast_policy
    )
    config = CampaignConfig(provider=Provider.VIRAL_LOOPS, campaign_id=CAMPAIGN, key=KeyRef(value=KEY))
    return ViralLoopsProgram("waitlist", config, client)


@pytest.fixture
def referred(sandbox) -> tuple[dict, dict]:
    alex = sandbox.seed_participant("alex@example.com", first_name="Alex", last_name="Lee")
    sam = sandbox.seed_participant("sam@example.com", first_name="Sam", referrer=alex["referralCode"])
    return alex, sam


def paths(sandbox: ViralLoopsSandbox) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in sandbox.received]


# -- get participant ------------------------------------------------------------------------------


def test_get_participant_reads_the_participant_its_referrer_and_its_rank(sandbox, program, referred):
    # Given Sam, referred by Alex
    # When the hub reads Sam
    program.get_participant("sam@example.com")
    # Then it made three calls: the participant, the referrer endpoint, the rank endpoint
    assert paths(sandbox) == [("GET", P), ("GET", f"{P}/referrer"), ("GET", f"{P}/rank")]


def test_get_participant_id_is_the_referral_code_and_never_null(program, referred):
    # Given Sam's referral code
    _, sam = referred
    # When the hub reads Sam / Then the id is that code, under every reading of the answer
    participant = program.get_participant("sam@example.com")
    assert participant.id == sam["referralCode"]
    assert participant.referral_code == sam["referralCode"]


def test_get_participant_takes_the_referrer_from_the_referrer_endpoint(program, referred):
    # Given Sam, referred by Alex
    alex, _ = referred
    # When the hub reads Sam / Then the referrer is Alex's code (the endpoint documents no email)
    referrer = program.get_participant("sam@example.com").referrer
    assert referrer is not None
    assert referrer.referral_code == alex["referralCode"]


def test_a_participant_nobody_referred_has_a_null_referrer(program, referred):
    # Given Alex signed up organically (the referrer endpoint answers 404 "Referrer not found")
    # When the hub reads Alex / Then the referrer is null, not an error
    assert program.get_participant("alex@example.com").referrer is None


def test_get_participant_rank_comes_from_the_rank_endpoint_or_is_null(sandbox, program, referred, readings):
    # Given Sam converted, so Alex leads
    sandbox.convert("sam@example.com")
    # When the hub reads Alex
    participant = program.get_participant("alex@example.com")
    # Then the rank is the rank endpoint's, or null where the campaign has no leaderboard
    assert participant.rank == (1 if readings.leaderboard else None)


def test_an_answer_without_an_email_gives_the_email_asked_for(program, referred, readings):
    # Given GET participant's answer, which (in the bare reading) carries no email
    # When the hub reads Sam in mixed case
    participant = program.get_participant("Sam@Example.com")
    # Then the email is the one asked for, as sent to Viral Loops, and nothing raised
    assert participant.email == "sam@example.com"
    assert participant.first_name == "Sam"


def test_fields_no_answer_documents_are_null_unless_the_answer_carries_them(program, referred, readings):
    # Given the sandbox's reading of GET participant's answer
    # When the hub reads Sam
    participant = program.get_participant("sam@example.com")
    # Then shareUrl, createdAt are null and flagged false where the answer leaves them out
    if readings.participant_answer != "full":
        assert (participant.share_url, participant.created_at, participant.flagged) == (None, None, False)
    else:
        assert participant.share_url is not None


def test_an_unknown_participant_is_participant_not_found(program):
    with pytest.raises(ParticipantNotFound):
        program.get_participant("ghost@example.com")


# -- add participant ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("ip_address", "203.0.113.9"),
        ("user_agent", "Mozilla/5.0"),
        ("utm_source", "newsletter"),
        ("utm_campaign", "spring"),
        ("signed_up_at", "2024-01-01T00:00:00Z"),
    ],
)
def test_add_refuses_a_field_viral_loops_has_no_place_for_before_any_call(sandbox, program, field, value):
    # Given a request with a field the add section does not document
    request = AddParticipantRequest.model_validate({"email": "new@example.com", field: value})
    # When it is added / Then it is refused naming the field, and Viral Loops received nothing
    with pytest.raises(ValidationError) as raised:
        program.add_participant(request)
    assert raised.value.details[0]["field"] == request.given()[0]
    assert sandbox.received == []


def test_add_sends_metadata_as_custom_fields_and_first_name(sandbox, program):
    # Given a request with the documented places
    request = AddParticipantRequest.model_validate(
        {"email": "New@Example.com", "firstName": "Nia", "metadata": {"country": "US"}}
    )
    # When it is added
    participant, created = program.add_participant(request)
    # Then Viral Loops received the documented body, the email lower-cased
    (add,) = sandbox.requests_to(P, "POST")
    assert add.json == {
        "campaignId": CAMPAIGN,
        "email": "new@example.com",
        "firstName": "Nia",
        "customFields": {"country": "US"},
    }
    # And the user gets the new participant, read back (participant and referrer, no rank)
    assert created is True
    assert (participant.email, participant.id) == ("new@example.com", participant.referral_code)
    assert paths(sandbox) == [("POST", P), ("GET", P), ("GET", f"{P}/referrer")]


def test_add_sends_the_last_name_by_the_update_endpoint(sandbox, program, readings):
    # Given a last name, which the add section has no place for but the update section changes
    request = AddParticipantRequest.model_validate({"email": "new@example.com", "lastName": "Ode"})
    # When it is added
    participant, created = program.add_participant(request)
    # Then the add carried no lastName and a PUT sent it
    assert "lastName" not in sandbox.requests_to(P, "POST")[0].json
    (put,) = sandbox.requests_to(P, "PUT")
    assert (put.json["email"], put.json["lastName"]) == ("new@example.com", "Ode")
    # And Viral Loops kept it where the reading has the update change a last name
    kept = readings.update_last_name == "kept"
    assert sandbox.participant("new@example.com")["lastName"] == ("Ode" if kept else None)
    # And the hub answers the participant read back: its last name where the answer shows one
    assert created is True
    assert participant.last_name == ("Ode" if readings.participant_answer == "full" else None)


def test_add_with_a_referrer_email_sends_its_referral_code(sandbox, program, referred):
    # Given Alex's email as the referrer
    alex, _ = referred
    request = AddParticipantRequest.model_validate({"email": "kim@example.com", "referrer": "Alex@Example.com"})
    # When Kim is added
    participant, _ = program.add_participant(request)
    # Then Viral Loops received Alex's code, and Kim's referrer is Alex
    assert sandbox.requests_to(P, "POST")[0].json["referrer"] == alex["referralCode"]
    assert participant.referrer is not None
    assert participant.referrer.referral_code == alex["referralCode"]


def test_adding_an_existing_email_answers_it_with_created_false(sandbox, program, referred):
    # Given Alex is there
    alex, _ = referred
    # When Alex is added again
    participant, created = program.add_participant(AddParticipantRequest.model_validate({"email": "alex@example.com"}))
    # Then the existing participant comes back
    assert (created, participant.id) == (False, alex["referralCode"])


# -- convert --------------------------------------------------------------------------------------


def test_convert_says_the_referrer_was_credited(sandbox, program, referred):
    # Given Sam, referred by Alex
    # When Sam converts
    result = program.convert("sam@example.com")
    # Then the hub says Alex was credited (from the answer, or read back where it does not say)
    assert result.credited is True
    assert result.converted is True
    assert sandbox.participant("alex@example.com")["referralCount"] == 1


def test_convert_reads_back_where_the_answer_does_not_say(sandbox, program, referred, readings):
    # Given the reading of convert's answer
    # When Sam converts
    program.convert("sam@example.com")
    # Then the v3 referrer was read before the convert and, after a bare answer only, read back
    read_back = sandbox.requests_to("/api/v3/campaign/participant/referrer", "GET")
    assert len(read_back) == 1 + (1 if readings.convert_answer == "status" else 0)


def test_a_convert_answered_without_crediting_says_credited_false(sandbox, program, referred):
    # Given Viral Loops answers success but credits nothing (a bare answer; Sam stays unconverted)
    sandbox.inject(200, body={"status": "success"}, path="/convert")
    # When Sam converts
    result = program.convert("sam@example.com")
    # Then the read back shows Sam's referral not converted: credited is false
    assert result.credited is False
    assert sandbox.participant("alex@example.com")["referralCount"] == 0


def test_a_convert_whose_answer_says_not_converted_is_not_credited(sandbox, program, referred):
    # Given an answer in the documented shape saying nothing was converted
    sandbox.inject(
        200, body={"status": "success", "data": {"email": "sam@example.com", "converted": False}}, path="/convert"
    )
    # When / Then
    result = program.convert("sam@example.com")
    assert (result.converted, result.credited, result.referrer) == (False, False, None)


# -- rewards --------------------------------------------------------------------------------------


def test_rewards_and_redeem_use_the_rewards_host(sandbox, program, referred):
    # Given Sam converted, earning Alex a reward
    sandbox.convert("sam@example.com")
    (reward,) = program.rewards("alex@example.com", None)
    # When it is redeemed without its milestone
    program.redeem("alex@example.com", reward.id, None)
    # Then pending rewards and redeem went to the rewards base, never to /api
    rewards_calls = [p for m, p in paths(sandbox) if "/rewards/" in p]
    assert rewards_calls and all(p.startswith("/v2/campaign/participant/rewards/") for p in rewards_calls)
