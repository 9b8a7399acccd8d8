"""Loops' official Python SDK (``loops-sdk``) against the Loops sandbox, over real HTTP on loopback.

The SDK is pointed at the sandbox through its own constructor argument ``api_root`` (the URL up to
``/api/``, to which it appends ``v1/...``): no patching. Every operation the SDK offers that the
reference document (or the known facts beside it) covers is called: the api-key test, contacts
create / update / find / delete, events send with eventProperties and mailingLists. Transactional
email, contact properties and mailing-list listing are not in the document, so the sandbox does not
serve them. What the SDK sends must be accepted, what the sandbox answers must parse, and each test
asserts on both what the sandbox stored and what the SDK returned, under each sandbox setting.
"""

from __future__ import annotations

import pytest
from loops_sdk import APIError, LoopsClient, RateLimitExceededError

from hub.providers.loops.client import LoopsClient as HubLoopsClient
from local.sandbox.base import SandboxRate
from local.sandbox.loops import LoopsSandbox

KEY = "loops-contract-key-93be"

SETTINGS = {
    "least-convenient": {},
    "descriptive": {"contact_ids": True, "find_fields": "standard", "error_messages": "descriptive"},
}


@pytest.fixture(params=list(SETTINGS), ids=list(SETTINGS))
def sandbox(start_sandbox, request) -> LoopsSandbox:
    return start_sandbox(LoopsSandbox(api_key=KEY, team_name="Contract Team", **SETTINGS[request.param]))


@pytest.fixture
def sdk(sandbox) -> LoopsClient:
    # The sandbox's base URL ends in the API version (".../api/v1"); the SDK's root stops before it.
    return LoopsClient(KEY, api_root=sandbox.base_url.removesuffix("v1"))


# -- api key --------------------------------------------------------------------------------------


def test_the_sdk_tests_its_key_against_the_sandbox(sandbox, sdk):
    # Given the SDK with the sandbox's key
    # When it tests the key
    answer = sdk.test_api_key()
    # Then the sandbox received GET /api/v1/api-key with the bearer key, and the SDK parsed the team
    (received,) = sandbox.requests_to("/api/v1/api-key", "GET")
    assert received.header("Authorization") == f"Bearer {KEY}"
    assert answer == {"success": True, "teamName": "Contract Team"}


def test_the_sdk_with_a_wrong_key_gets_an_api_error_401(sandbox):
    # Given the SDK with a wrong key
    sdk = LoopsClient("loops-wrong-key", api_root=sandbox.base_url.removesuffix("v1"))
    # When it tests the key
    with pytest.raises(APIError) as raised:
        sdk.test_api_key()
    # Then it raised its API error with the 401 and the sandbox's parsed body
    assert raised.value.status_code == 401
    assert raised.value.json["success"] is False


# -- contacts -------------------------------------------------------------------------------------


def test_the_sdk_creates_a_contact_with_properties_and_mailing_lists(sandbox, sdk):
    # Given the document's example contact and a list to join
    properties = {"firstName": "Adam", "lastName": "Kaczmarek", "favoriteColor": "blue", "userGroup": "Founders"}
    # When the SDK creates it
    answer = sdk.create_contact("adam@example.com", properties, {"list-news": True})
    # Then the sandbox stored the properties and the list, and the SDK returned the sandbox's answer
    stored = sandbox.stored("adam@example.com")
    assert stored == {"id": stored["id"], "email": "adam@example.com", **properties}
    assert sandbox.lists_of("adam@example.com") == {"list-news": True}
    assert answer == ({"success": True, "id": stored["id"]} if sandbox.contact_ids else {"success": True})


def test_the_sdk_creates_a_contact_without_mailing_lists_sending_null(sandbox, sdk):
    # Given no properties and no lists (the SDK sends "mailingLists": null)
    # When the SDK creates the contact
    answer = sdk.create_contact("bare@example.com")
    # Then the sandbox accepted the null as no lists, and the SDK parsed the answer
    (received,) = sandbox.requests_to("/contacts/create", "POST")
    assert received.json == {"email": "bare@example.com", "mailingLists": None}
    assert sandbox.lists_of("bare@example.com") == {}
    assert answer["success"] is True


def test_the_sdk_creating_an_existing_contact_gets_the_409(sandbox, sdk):
    # Given a contact already in the audience
    sandbox.seed_contact("adam@example.com")
    # When the SDK creates it again
    with pytest.raises(APIError) as raised:
        sdk.create_contact("adam@example.com")
    # Then it raised the documented 409, and still one contact exists
    assert raised.value.status_code == 409
    assert len(sandbox.contacts) == 1


def test_the_sdk_updates_a_missing_contact_creating_it(sandbox, sdk):
    # Given no contact
    # When the SDK updates one with a property and a list
    answer = sdk.update_contact("new@example.com", {"plan": "pro"}, {"list-news": True})
    # Then the sandbox created it with both, and the SDK returned success
    assert sandbox.stored("new@example.com")["plan"] == "pro"
    assert sandbox.lists_of("new@example.com") == {"list-news": True}
    assert answer["success"] is True


def test_the_sdk_clears_a_property_with_null_and_unsubscribes_a_list(sandbox, sdk):
    # Given a contact with a property and a list
    sandbox.seed_contact("adam@example.com", favoriteColor="blue", mailingLists={"list-news": True})
    # When the SDK updates it with a null property and the list set to false
    sdk.update_contact("adam@example.com", {"favoriteColor": None}, {"list-news": False})
    # Then the property is gone and the contact is unsubscribed
    assert "favoriteColor" not in sandbox.stored("adam@example.com")
    assert sandbox.lists_of("adam@example.com") == {"list-news": False}


def test_the_sdk_finds_a_contact_by_email(sandbox, sdk):
    # Given a contact
    seeded = sandbox.seed_contact("adam@example.com", firstName="Adam", favoriteColor="blue")
    # When the SDK finds it by email
    found = sdk.find_contact(email="adam@example.com")
    # Then the sandbox got the email as a query parameter, and the SDK returned the one-contact array
    (received,) = sandbox.requests_to("/contacts/find", "GET")
    assert received.query == {"email": "adam@example.com"}
    assert found == [seeded]
    assert (found[0]["email"], found[0]["firstName"], found[0]["favoriteColor"]) == ("adam@example.com", "Adam", "blue")


def test_the_sdk_finding_an_unknown_email_gets_an_empty_array(sdk):
    # Given no such contact
    # When the SDK finds it
    # Then the answer is the documented empty array
    assert sdk.find_contact(email="nobody@example.com") == []


@pytest.mark.parametrize("by", ["email", "user_id"])
def test_the_sdk_deletes_a_contact_by_email_or_user_id(sandbox, sdk, by):
    # Given a contact with a userId
    sandbox.seed_contact("adam@example.com", userId="someUserId")
    # When the SDK deletes it by one of them
    answer = sdk.delete_contact(**({"email": "adam@example.com"} if by == "email" else {"user_id": "someUserId"}))
    # Then the sandbox removed it, and the SDK returned success
    assert sandbox.contact("adam@example.com") is None
    assert answer["success"] is True


def test_the_sdk_deleting_an_unknown_contact_gets_a_404(sandbox, sdk):
    # Given no such contact, at a Loops that answers 404 for it
    sandbox.configure(unknown_delete="not_found")
    # When the SDK deletes it
    with pytest.raises(APIError) as raised:
        sdk.delete_contact(email="nobody@example.com")
    # Then it raised the 404
    assert raised.value.status_code == 404


# -- events ---------------------------------------------------------------------------------------


def test_the_sdk_sends_an_event_with_event_properties_contact_properties_and_lists(sandbox, sdk):
    # Given a contact
    sandbox.seed_contact("adam@example.com", firstName="Adam")
    # When the SDK sends an event with its own data, a contact property, a list and an idempotency key
    answer = sdk.send_event(
        event_name="rewardEarned",
        email="adam@example.com",
        contact_properties={"plan": "pro"},
        event_properties={"rewardId": "r-1", "amount": 20, "firstTime": True, "at": "2026-03-14T10:34:56Z"},
        mailing_lists={"list-news": True},
        headers={"Idempotency-Key": "sdk-event-1"},
    )
    # Then the sandbox recorded the event with its own properties and key
    (event,) = sandbox.events
    assert (event.name, event.email, event.idempotency_key) == ("rewardEarned", "adam@example.com", "sdk-event-1")
    assert event.event_properties == {"rewardId": "r-1", "amount": 20, "firstTime": True, "at": "2026-03-14T10:34:56Z"}
    # And wrote the contact property onto the contact, not the event's, and subscribed the list
    stored = sandbox.stored("adam@example.com")
    assert (stored["firstName"], stored["plan"]) == ("Adam", "pro")
    assert "rewardId" not in stored
    assert sandbox.lists_of("adam@example.com") == {"list-news": True}
    # And the SDK parsed the answer
    assert answer == {"success": True}


def test_the_sdk_sends_the_documented_bare_event_with_nulls(sandbox, sdk):
    # Given the document's event (the SDK adds "eventProperties": null and "mailingLists": null)
    # When the SDK sends it
    answer = sdk.send_event(event_name="conversion", email="adam@example.com")
    # Then the sandbox accepted the nulls as none and created the contact
    (event,) = sandbox.events
    assert (event.event_properties, event.mailing_lists) == ({}, {})
    assert sandbox.contact("adam@example.com") is not None
    assert answer == {"success": True}


def test_the_sdk_sending_one_idempotency_key_twice_gets_a_409(sandbox, sdk):
    # Given an event sent with a key
    sdk.send_event(event_name="conversion", email="adam@example.com", headers={"Idempotency-Key": "once"})
    # When the SDK sends it again with the same key
    with pytest.raises(APIError) as raised:
        sdk.send_event(event_name="conversion", email="adam@example.com", headers={"Idempotency-Key": "once"})
    # Then it raised the 409, and the event was recorded once
    assert raised.value.status_code == 409
    assert len(sandbox.events) == 1


def test_the_hub_client_sends_the_sdk_s_event_body(sandbox, sdk, fast_policy):
    # Given the same event sent by the SDK and by the hub's client
    event_properties = {"rewardId": "r-1", "amount": 20}
    sdk.send_event(
        event_name="rewardEarned",
        email="adam@example.com",
        contact_properties={"plan": "pro"},
        event_properties=event_properties,
        mailing_lists={"list-news": True},
    )
    HubLoopsClient(KEY, base_url=sandbox.base_url, policy=fast_policy).send_event(
        "adam@example.com",
        "rewardEarned",
        contact_properties={"plan": "pro"},
        event_properties=event_properties,
        mailing_lists={"list-news": True},
    )
    # When the sandbox's two requests are compared
    from_sdk, from_hub = (received.json for received in sandbox.requests_to("/events/send", "POST"))
    # Then the hub sends what Loops' own SDK sends, field for field
    assert from_hub == from_sdk
    assert from_hub["eventProperties"] == event_properties


# -- rate limit -----------------------------------------------------------------------------------


def test_the_sdk_reads_the_sandbox_429_headers(sandbox, sdk):
    # Given Loops' limit of 10 a second, already used
    sandbox.set_rate_limit(SandboxRate(requests=10, per_seconds=60))
    for _ in range(10):
        sdk.test_api_key()
    # When the SDK makes the 11th request
    with pytest.raises(RateLimitExceededError) as raised:
        sdk.test_api_key()
    # Then it parsed the limit and the remaining count from the sandbox's headers
    assert (raised.value.limit, raised.value.remaining) == (10, 0)
