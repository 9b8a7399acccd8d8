"""LoopsClient over real HTTP against the Loops sandbox, and the sandbox's own behaviour."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
import requests

from hub.domain.errors import (
    Conflict,
    EmailTaken,
    HubError,
    NotFound,
    ProviderAuthFailed,
    ProviderThrottled,
    ValidationError,
)
from hub.providers.loops.client import LoopsClient
from local.sandbox.base import SandboxRate
from local.sandbox.loops import IDEMPOTENCY_WINDOW_SECONDS, LOOPS_RATE, LoopsSandbox

KEY = "loops-secret-key-7c41d9"
API = "/api/v1"


# The sandbox's settings for what the document leaves open: its least convenient readings (the
# defaults: no contact id in answers, found contacts with only their set fields, error messages that
# name no field) and the others. Every test runs under both.
SETTINGS = {
    "least-convenient": {},
    "descriptive": {"contact_ids": True, "find_fields": "standard", "error_messages": "descriptive"},
}


@pytest.fixture(params=list(SETTINGS), ids=list(SETTINGS))
def sandbox(start_sandbox, request) -> LoopsSandbox:
    return start_sandbox(LoopsSandbox(api_key=KEY, team_name="Acme", **SETTINGS[request.param]))


def saved(sandbox: LoopsSandbox, email: str) -> dict:
    """What create and update answer under the sandbox's settings."""
    stored = sandbox.stored(email)
    assert stored is not None
    return {"success": True, "id": stored["id"]} if sandbox.contact_ids else {"success": True}


@pytest.fixture
def client(sandbox, fast_policy) -> LoopsClient:
    return LoopsClient(KEY, base_url=sandbox.base_url, policy=fast_policy)


def only(sandbox: LoopsSandbox, path: str, method: str):
    received = [r for r in sandbox.received if r.path == f"{API}{path}" and r.method == method]
    assert len(received) == 1
    return received[0]


def throttle_next(sandbox: LoopsSandbox, times: int) -> None:
    """Answer the next ``times`` requests with the sandbox's own Loops-style 429."""
    answer = sandbox.rate_limited(0)
    sandbox.inject(answer.status_code, times=times, headers=dict(answer.headers), body=answer.get_json())


# -- contacts/create ------------------------------------------------------------------------------


def test_create_contact_posts_typed_fields_and_custom_properties_with_the_bearer_key(sandbox, client):
    # Given the document's example contact
    # When it is created
    result = client.create_contact(
        "adam@example.com",
        first_name="Adam",
        last_name="Kaczmarek",
        user_id="u-1",
        properties={"favoriteColor": "blue", "userGroup": "Founders", "source": "Signup form Service"},
    )
    # Then Loops received every field at the top level, with the key as a bearer token
    received = only(sandbox, "/contacts/create", "POST")
    assert received.header("Authorization") == f"Bearer {KEY}"
    assert received.json == {
        "email": "adam@example.com",
        "firstName": "Adam",
        "lastName": "Kaczmarek",
        "userId": "u-1",
        "favoriteColor": "blue",
        "userGroup": "Founders",
        "source": "Signup form Service",
    }
    # And the client returned Loops' answer as is
    assert result == saved(sandbox, "adam@example.com")


def test_create_contact_leaves_unset_fields_out_of_the_body(sandbox, client):
    # Given only an email
    # When the contact is created
    client.create_contact("bare@example.com")
    # Then the body holds the email alone
    assert only(sandbox, "/contacts/create", "POST").json == {"email": "bare@example.com"}


def test_create_contact_for_an_existing_email_is_email_taken(sandbox, client):
    # Given a contact already in the audience
    sandbox.seed_contact("adam@example.com")
    # When it is created again
    # Then Loops' 409 is EmailTaken
    with pytest.raises(EmailTaken):
        client.create_contact("Adam@Example.com")


def test_create_contact_with_a_user_id_held_by_another_contact_is_a_conflict(sandbox, client):
    # Given a contact holding userId u-1
    sandbox.seed_contact("adam@example.com", userId="u-1")
    # When another contact is created with the same userId
    with pytest.raises(Conflict) as raised:
        client.create_contact("eve@example.com", user_id="u-1")
    # Then it is a conflict: on userId when Loops' message names it; otherwise the one 409 of create
    # that is documented (a taken email), the document giving no other
    if sandbox.error_messages == "descriptive":
        assert not isinstance(raised.value, EmailTaken)
        assert raised.value.details[0]["field"] == "userId"
    else:
        assert isinstance(raised.value, EmailTaken)
    assert sandbox.contact("eve@example.com") is None


# -- contacts/update ------------------------------------------------------------------------------


def test_update_contact_creates_a_missing_contact(sandbox, client):
    # Given no contact with that email
    # When it is updated
    result = client.update_contact("new@example.com", first_name="Nia", properties={"plan": "pro"})
    # Then Loops received a PUT and created the contact
    received = only(sandbox, "/contacts/update", "PUT")
    assert received.json == {"email": "new@example.com", "firstName": "Nia", "plan": "pro"}
    stored = sandbox.contact("new@example.com")
    assert (stored["firstName"], stored["plan"]) == ("Nia", "pro")
    assert result == saved(sandbox, "new@example.com")


def test_update_contact_changes_an_existing_contact_and_keeps_its_id(sandbox, client):
    # Given a contact with a custom property
    seeded = sandbox.seed_contact("adam@example.com", firstName="Adam", favoriteColor="blue")
    # When it is updated with a new property and a null for the old one
    result = client.update_contact("adam@example.com", last_name="K", properties={"plan": "pro", "favoriteColor": None})
    # Then the same contact carries the change, and the null cleared the property
    stored = sandbox.contact("adam@example.com")
    assert seeded["id"] == stored["id"]
    assert result == saved(sandbox, "adam@example.com")
    assert (stored["firstName"], stored["lastName"], stored["plan"]) == ("Adam", "K", "pro")
    assert "favoriteColor" not in stored


def test_typed_arguments_win_over_properties_of_the_same_name(sandbox, client):
    # Given properties that also name the email and first name
    # When the contact is updated with typed values for them
    client.update_contact(
        "real@example.com", first_name="Real", properties={"email": "x@example.com", "firstName": "X"}
    )
    # Then the typed values are the ones sent
    body = only(sandbox, "/contacts/update", "PUT").json
    assert (body["email"], body["firstName"]) == ("real@example.com", "Real")


def test_update_contact_with_an_invalid_email_is_a_validation_error_carrying_loops_message(sandbox, client):
    # Given an address without a domain
    # When it is updated
    with pytest.raises(ValidationError) as raised:
        client.update_contact("not-an-email")
    # Then Loops' 400 is a validation error: a message naming the email names that field, and a
    # message naming none (the document gives no error text) is passed on without a guessed field
    (detail,) = raised.value.details
    if sandbox.error_messages == "descriptive":
        assert detail == {"field": "email", "reason": "Invalid email address."}
    else:
        assert detail == {"reason": "Bad request."}
    assert sandbox.contacts == {}


def test_a_nested_property_value_is_refused_before_sending_naming_the_property(sandbox, client):
    # Given a property whose value is an object, which Loops does not store
    # When the contact is updated
    with pytest.raises(ValidationError) as raised:
        client.update_contact("adam@example.com", properties={"address": {"city": "Paris"}})
    # Then nothing reached Loops, and the error names the property
    assert sandbox.received == []
    assert raised.value.details[0]["field"] == "address"


def test_update_contact_sends_mailing_lists_and_loops_subscribes_the_contact(sandbox, client):
    # Given a contact subscribed to one list
    sandbox.seed_contact("adam@example.com", mailingLists={"list-old": True})
    # When it is updated subscribing one list and unsubscribing the other
    client.update_contact("adam@example.com", mailing_lists={"list-news": True, "list-old": False})
    # Then Loops received mailingLists beside the email, and the contact's lists changed
    assert only(sandbox, "/contacts/update", "PUT").json == {
        "email": "adam@example.com",
        "mailingLists": {"list-news": True, "list-old": False},
    }
    assert sandbox.lists_of("adam@example.com") == {"list-news": True, "list-old": False}
    # And the lists are not contact properties
    assert "mailingLists" not in sandbox.stored("adam@example.com")


def test_update_contact_without_mailing_lists_sends_no_mailing_lists_field(sandbox, client):
    # Given no mailing lists
    # When a contact is updated
    client.update_contact("adam@example.com", first_name="Adam", mailing_lists={})
    # Then the body has no mailingLists field at all (not even null)
    assert "mailingLists" not in only(sandbox, "/contacts/update", "PUT").json


def test_a_mailing_list_value_that_is_not_a_boolean_is_refused_before_sending(sandbox, client):
    # Given a list id mapped to a string
    # When the contact is updated with it
    with pytest.raises(ValidationError) as raised:
        client.update_contact("adam@example.com", mailing_lists={"list-news": "yes"})  # type: ignore[dict-item]
    # Then nothing reached Loops, and the error names the list
    assert sandbox.received == []
    assert raised.value.details[0]["field"] == "mailingLists.list-news"


# -- contacts/find --------------------------------------------------------------------------------


def test_find_contact_gets_by_email_and_answers_an_array_of_one(sandbox, client):
    # Given a contact
    seeded = sandbox.seed_contact("adam@example.com", firstName="Adam", favoriteColor="blue")
    # When it is searched for by email
    result = client.find_contact("adam@example.com")
    # Then the email went as a query parameter and the answer is a one-contact array
    received = only(sandbox, "/contacts/find", "GET")
    assert received.query == {"email": "adam@example.com"}
    assert received.header("Authorization") == f"Bearer {KEY}"
    assert result == [seeded]
    assert result[0]["favoriteColor"] == "blue"


def test_find_contact_of_an_unknown_email_is_an_empty_array(client):
    # Given no such contact
    # When it is searched for
    # Then the answer is an empty array, not an error
    assert client.find_contact("nobody@example.com") == []


# -- contacts/delete ------------------------------------------------------------------------------


def test_delete_contact_by_email(sandbox, client):
    # Given a contact
    sandbox.seed_contact("adam@example.com")
    # When it is deleted by email
    result = client.delete_contact("adam@example.com")
    # Then Loops received a POST with the email alone, and the contact is gone
    assert only(sandbox, "/contacts/delete", "POST").json == {"email": "adam@example.com"}
    assert result == {"success": True, "message": "Contact deleted."}
    assert sandbox.contact("adam@example.com") is None


def test_delete_contact_by_user_id(sandbox, client):
    # Given a contact with a userId
    sandbox.seed_contact("adam@example.com", userId="someUserId")
    # When it is deleted by userId
    client.delete_contact(user_id="someUserId")
    # Then the body held the userId alone, and the contact is gone
    assert only(sandbox, "/contacts/delete", "POST").json == {"userId": "someUserId"}
    assert sandbox.contacts == {}


def test_delete_contact_of_an_unknown_contact_is_contact_not_found_where_loops_answers_404(sandbox, client):
    # Given no such contact, at a Loops that answers 404 for it
    sandbox.configure(unknown_delete="not_found")
    # When it is deleted
    with pytest.raises(NotFound) as raised:
        client.delete_contact("nobody@example.com")
    # Then Loops' 404 is a NotFound coded for contacts
    assert raised.value.code == "CONTACT_NOT_FOUND"


@pytest.mark.parametrize(("email", "user_id"), [(None, None), ("adam@example.com", "u-1")])
def test_delete_contact_needs_exactly_one_of_email_or_user_id(sandbox, client, email, user_id):
    # Given neither or both identifiers
    # When a delete is asked for
    with pytest.raises(ValidationError):
        client.delete_contact(email, user_id=user_id)
    # Then nothing was sent
    assert sandbox.received == []


# -- events/send ----------------------------------------------------------------------------------


def test_send_event_posts_event_properties_apart_from_contact_properties(sandbox, client):
    # Given an event with its own data, and a contact property
    # When it is sent with an idempotency key
    result = client.send_event(
        "adam@example.com",
        "conversion",
        event_properties={"rewardId": "r-1", "amount": 20},
        contact_properties={"plan": "pro"},
        idempotency_key="k-1",
    )
    # Then Loops received the event's data as eventProperties, the contact property at the top level,
    # and the key as a header
    received = only(sandbox, "/events/send", "POST")
    assert received.json == {
        "email": "adam@example.com",
        "eventName": "conversion",
        "eventProperties": {"rewardId": "r-1", "amount": 20},
        "plan": "pro",
    }
    assert received.header("Idempotency-Key") == "k-1"
    assert received.header("Authorization") == f"Bearer {KEY}"
    assert result == {"success": True}
    # And the event was recorded with its own properties, and only the contact property is on the contact
    (event,) = sandbox.events
    assert (event.name, event.email, event.event_properties, event.idempotency_key) == (
        "conversion",
        "adam@example.com",
        {"rewardId": "r-1", "amount": 20},
        "k-1",
    )
    stored = sandbox.stored("adam@example.com")
    assert stored["plan"] == "pro"
    assert "rewardId" not in stored and "amount" not in stored


def test_two_events_keep_their_own_properties_and_leave_the_contact_as_it_was(sandbox, client):
    # Given a contact
    sandbox.seed_contact("adam@example.com", firstName="Adam")
    # When two events with different reward ids are sent
    client.send_event("adam@example.com", "rewardEarned", event_properties={"rewardId": "r-1"})
    client.send_event("adam@example.com", "rewardEarned", event_properties={"rewardId": "r-2"})
    # Then each event has its own reward id, and the contact carries neither
    assert [e.event_properties["rewardId"] for e in sandbox.events_named("rewardEarned")] == ["r-1", "r-2"]
    assert "rewardId" not in sandbox.stored("adam@example.com")


def test_send_event_with_mailing_lists_subscribes_the_contact(sandbox, client):
    # Given an event that subscribes to a list
    # When it is sent
    client.send_event("adam@example.com", "signup", mailing_lists={"list-news": True})
    # Then Loops received mailingLists and subscribed the contact it created
    assert only(sandbox, "/events/send", "POST").json["mailingLists"] == {"list-news": True}
    assert sandbox.lists_of("adam@example.com") == {"list-news": True}


def test_event_property_values_are_sent_as_loops_takes_them(sandbox, client):
    # Given event properties of each type Loops takes (a date among them) and a None
    moment = datetime(2026, 3, 14, 10, 34, 56, tzinfo=UTC)
    # When the event is sent
    client.send_event(
        "adam@example.com",
        "conversion",
        event_properties={"label": "x", "amount": 9.5, "first": True, "at": moment, "unknown": None},
    )
    # Then the date went as ISO 8601 and the None was left out
    assert only(sandbox, "/events/send", "POST").json["eventProperties"] == {
        "label": "x",
        "amount": 9.5,
        "first": True,
        "at": "2026-03-14T10:34:56+00:00",
    }


def test_a_nested_event_property_is_refused_before_sending_naming_it(sandbox, client):
    # Given an event property holding a list, which is none of Loops' four types
    # When the event is sent
    with pytest.raises(ValidationError) as raised:
        client.send_event("adam@example.com", "conversion", event_properties={"items": [1, 2]})
    # Then nothing reached Loops, and the error names the event property
    assert sandbox.received == []
    assert raised.value.details[0]["field"] == "eventProperties.items"


def test_an_event_without_event_properties_sends_no_event_properties_field(sandbox, client):
    # Given the document's bare event
    # When it is sent
    client.send_event("adam@example.com", "conversion")
    # Then the body is the document's example
    assert only(sandbox, "/events/send", "POST").json == {"email": "adam@example.com", "eventName": "conversion"}


def test_an_event_sent_twice_with_one_key_is_recorded_once_and_the_second_is_a_duplicate(sandbox, client):
    # Given an event already sent with a key
    first = client.send_event("adam@example.com", "conversion", idempotency_key="order-42")
    # When it is sent again with the same key
    second = client.send_event("adam@example.com", "conversion", idempotency_key="order-42")
    # Then both reached Loops, the event list holds it once, and the client read the 409 as done
    assert len(sandbox.requests_to("/events/send", "POST")) == 2
    assert len(sandbox.events) == 1
    assert first == {"success": True}
    assert second == {"success": True, "duplicate": True}


def test_send_event_without_a_key_sends_one_made_for_the_call(sandbox, client):
    # Given no idempotency key from the caller
    # When two events are sent
    client.send_event("adam@example.com", "signup")
    client.send_event("adam@example.com", "signup")
    # Then each carried its own key of at most 100 characters, and both were recorded
    keys = [r.header("Idempotency-Key") for r in sandbox.requests_to("/events/send", "POST")]
    assert all(key and len(key) <= 100 for key in keys)
    assert keys[0] != keys[1]
    assert len(sandbox.events) == 2


def test_a_retry_after_a_lost_answer_does_not_send_the_event_twice(sandbox, client, fast_policy):
    # Given a first attempt that lands but answers only after the client's read timeout
    delay = fast_policy.read_timeout + 0.1
    sandbox.inject(delay=delay, path="/events/send")
    started = time.monotonic()
    # When the event is sent
    client.send_event("adam@example.com", "conversion")
    time.sleep(max(0.0, started + delay + 0.05 - time.monotonic()))  # until the slow attempt has finished
    # Then both attempts carried the same key, and the event was recorded once
    attempts = sandbox.requests_to("/events/send", "POST")
    assert len(attempts) == 2
    assert attempts[0].header("Idempotency-Key") == attempts[1].header("Idempotency-Key")
    assert len(sandbox.events) == 1


def test_an_idempotency_key_over_100_characters_is_refused_before_sending(sandbox, client):
    # Given a key of 101 characters
    # When an event is sent with it
    with pytest.raises(ValidationError) as raised:
        client.send_event("adam@example.com", "conversion", idempotency_key="k" * 101)
    # Then nothing reached Loops, and the error names the key
    assert sandbox.received == []
    assert raised.value.details[0]["field"] == "idempotencyKey"


def test_an_idempotency_key_of_exactly_100_characters_is_sent(sandbox, client):
    # Given a key of 100 characters
    # When an event is sent with it
    client.send_event("adam@example.com", "conversion", idempotency_key="k" * 100)
    # Then it went as the header
    assert only(sandbox, "/events/send", "POST").header("Idempotency-Key") == "k" * 100


def test_an_event_without_a_name_is_refused_before_sending(sandbox, client):
    # Given an empty event name (the document requires one)
    # When the event is sent
    with pytest.raises(ValidationError) as raised:
        client.send_event("adam@example.com", "")
    # Then the error names eventName, and nothing reached Loops
    assert raised.value.details[0]["field"] == "eventName"
    assert sandbox.received == []


def test_a_409_of_events_with_an_undocumented_body_is_read_as_sent_already(sandbox, client):
    # Given Loops answering the event with a 409 whose body the client has never seen
    sandbox.inject(409, body={"success": False, "message": "Conflict."}, path="/events/send")
    # When the event is sent
    result = client.send_event("adam@example.com", "conversion", idempotency_key="order-7")
    # Then the client reads it as the key already used: the event was sent before
    assert result == {"success": True, "duplicate": True}
    assert len(sandbox.requests_to("/events/send", "POST")) == 1


# -- api-key --------------------------------------------------------------------------------------


def test_get_api_key_answers_the_team_name(sandbox, client):
    # Given a valid key
    # When it is checked
    result = client.get_api_key()
    # Then Loops received a GET with the bearer key and named the team
    assert only(sandbox, "/api-key", "GET").header("Authorization") == f"Bearer {KEY}"
    assert result == {"success": True, "teamName": "Acme"}


def test_a_wrong_key_is_provider_auth_failed_without_the_key_in_the_message(sandbox, fast_policy):
    # Given a client with a wrong key
    wrong = "loops-wrong-key-0000"
    client = LoopsClient(wrong, base_url=sandbox.base_url, policy=fast_policy)
    # When the key is checked
    with pytest.raises(ProviderAuthFailed) as raised:
        client.get_api_key()
    # Then it is refused, and the message carries neither key
    assert wrong not in raised.value.message
    assert KEY not in raised.value.message


def test_a_missing_key_is_answered_401_the_loops_way(sandbox):
    # Given a request without an Authorization header
    # When it reaches the sandbox
    response = requests.get(f"{sandbox.base_url}/api-key", timeout=5)
    # Then it answers a 401 in Loops' error shape
    assert response.status_code == 401
    message = "Invalid API key" if sandbox.error_messages == "descriptive" else "Unauthorized."
    assert response.json() == {"success": False, "message": message}


# -- rate limit -----------------------------------------------------------------------------------


def test_a_429_without_retry_after_is_backed_off_and_retried_until_it_clears(sandbox, client):
    # Given two Loops-style 429s (no Retry-After) ahead of the answer
    throttle_next(sandbox, 2)
    # When the key is checked
    result = client.get_api_key()
    # Then the third attempt succeeded
    assert result["success"] is True
    assert len(sandbox.requests_to("/api-key", "GET")) == 3


def test_a_429_that_does_not_clear_is_provider_throttled(sandbox, client):
    # Given a limit of one request a minute, already used
    sandbox.set_rate_limit(SandboxRate(requests=1, per_seconds=60))
    client.get_api_key()
    # When another call is made
    with pytest.raises(ProviderThrottled) as raised:
        client.find_contact("adam@example.com")
    # Then every attempt was throttled, and the message carries no key
    assert sandbox.throttled == 4
    assert KEY not in raised.value.message


def test_the_sandbox_answers_over_ten_a_second_with_loops_429(sandbox):
    # Given Loops' documented limit of 10 requests per second
    sandbox.set_rate_limit(LOOPS_RATE)
    headers = {"Authorization": f"Bearer {KEY}"}
    # When 11 requests arrive at once
    answers = [requests.get(f"{sandbox.base_url}/api-key", headers=headers, timeout=5) for _ in range(11)]
    # Then the 11th is a 429 with the rate-limit headers, no Retry-After, and Loops' body
    assert [a.status_code for a in answers[:10]] == [200] * 10
    throttled = answers[10]
    assert throttled.status_code == 429
    assert (throttled.headers["x-ratelimit-limit"], throttled.headers["x-ratelimit-remaining"]) == ("10", "0")
    assert "Retry-After" not in throttled.headers
    assert throttled.json() == {"success": False, "message": "Rate limit exceeded"}


# -- the key never leaks --------------------------------------------------------------------------


def test_an_error_message_echoing_the_key_is_redacted(sandbox, client):
    # Given a provider answer that echoes the key
    sandbox.inject(400, body={"success": False, "message": f"Bad key {KEY} in request"})
    # When a call fails on it
    with pytest.raises(HubError) as raised:
        client.find_contact("adam@example.com")
    # Then the message does not carry the key
    assert KEY not in raised.value.message
    assert KEY not in str(raised.value)


def test_delete_contact_of_an_unknown_contact_answers_success_by_default(sandbox, client):
    # Given no such contact, at a Loops that answers success for it (the document shows no answer)
    # When it is deleted
    answer = client.delete_contact("nobody@example.com")
    # Then the answer cannot tell: the hub's contact flow finds the contact first (tests/e2e/test_lifecycle.py)
    assert answer == {"success": True, "message": "Contact deleted."}


def test_no_documented_error_carries_the_key(sandbox, client):
    # Given every documented failure
    sandbox.seed_contact("adam@example.com")
    sandbox.configure(unknown_delete="not_found")
    calls = [
        lambda: client.create_contact("adam@example.com"),
        lambda: client.update_contact(""),
        lambda: client.delete_contact("nobody@example.com"),
        lambda: client.send_event("adam@example.com", ""),
    ]
    # When each is made
    messages = []
    for call in calls:
        with pytest.raises(HubError) as raised:
            call()
        messages.append(str(raised.value))
    # Then no message holds the key
    assert all(KEY not in message for message in messages)


# -- the sandbox's own state ----------------------------------------------------------------------


def test_an_idempotency_key_can_be_used_again_after_24_hours(sandbox, client):
    # Given an event sent with a key
    client.send_event("adam@example.com", "conversion", idempotency_key="daily")
    # When the same key comes back 24 hours later
    started = time.time()
    sandbox.clock = lambda: started + IDEMPOTENCY_WINDOW_SECONDS + 1
    result = client.send_event("adam@example.com", "conversion", idempotency_key="daily")
    # Then the event is recorded again
    assert result == {"success": True}
    assert len(sandbox.events) == 2


def test_a_rejected_event_does_not_use_up_its_key(sandbox, client):
    # Given an event Loops refused for its invalid email
    with pytest.raises(ValidationError):
        client.send_event("not-an-email", "conversion", idempotency_key="retry-me")
    # When it is sent again, fixed, with the same key
    result = client.send_event("adam@example.com", "conversion", idempotency_key="retry-me")
    # Then it is accepted
    assert result == {"success": True}
    assert [e.name for e in sandbox.events] == ["conversion"]


def test_an_event_updates_an_existing_contact_without_creating_another(sandbox, client):
    # Given a contact
    seeded = sandbox.seed_contact("adam@example.com", firstName="Adam")
    # When an event with properties is sent for it
    client.send_event("ADAM@example.com", "conversion", contact_properties={"plan": "pro"})
    # Then the one contact carries the property
    assert len(sandbox.contacts) == 1
    stored = sandbox.contact("adam@example.com")
    assert (stored["id"], stored["firstName"], stored["plan"]) == (seeded["id"], "Adam", "pro")


def test_a_found_contact_has_the_fields_of_the_find_setting(sandbox, client):
    # Given a contact created through the API, subscribed to a list
    client.create_contact("adam@example.com", first_name="Adam", mailing_lists={"list-news": True})
    # When it is found
    (found,) = client.find_contact("adam@example.com")
    # Then it has a cuid-like id, and Loops' standard fields and lists only under the "standard" setting
    assert found["id"].startswith("c")
    assert len(found["id"]) == 25
    if sandbox.find_fields == "standard":
        assert (found["source"], found["subscribed"], found["userGroup"], found["userId"]) == ("API", True, "", None)
        assert found["mailingLists"] == {"list-news": True}
    else:
        assert found == {"id": found["id"], "email": "adam@example.com", "firstName": "Adam"}


def test_sandbox_settings_are_read_and_changed_over_http(sandbox):
    # Given the sandbox's control root
    root = sandbox.base_url.removesuffix(API)
    # When every setting is switched over HTTP
    wanted = {
        "contactIds": not sandbox.contact_ids,
        "findFields": "standard",
        "errorMessages": "terse",
        "unknownDelete": "not_found",
    }
    answer = requests.post(f"{root}/_sandbox/settings", json=wanted, timeout=5)
    # Then the answer, a read and the sandbox all hold the new settings
    assert answer.status_code == 200
    assert answer.json() == wanted == requests.get(f"{root}/_sandbox/settings", timeout=5).json()
    assert (sandbox.contact_ids, sandbox.find_fields, sandbox.error_messages, sandbox.unknown_delete) == (
        wanted["contactIds"],
        "standard",
        "terse",
        "not_found",
    )


def test_sandbox_refuses_an_unknown_setting_value(sandbox):
    # Given a find setting that does not exist
    root = sandbox.base_url.removesuffix(API)
    before = sandbox.settings()
    # When it is posted
    answer = requests.post(f"{root}/_sandbox/settings", json={"findFields": "everything"}, timeout=5)
    # Then it is refused and the settings are unchanged
    assert answer.status_code == 400
    assert sandbox.settings() == before


def test_control_routes_list_contacts_and_events_and_seed_contacts(sandbox, client):
    # Given a contact seeded over HTTP, and an event sent
    seeded = requests.post(
        f"{sandbox.base_url.removesuffix(API)}/_sandbox/contacts",
        json={"email": "adam@example.com", "firstName": "Adam"},
        timeout=5,
    )
    client.send_event("adam@example.com", "conversion", idempotency_key="k-9")
    # When another process reads the state
    root = sandbox.base_url.removesuffix(API)
    contacts = requests.get(f"{root}/_sandbox/contacts", timeout=5).json()
    events = requests.get(f"{root}/_sandbox/events", timeout=5).json()
    # Then it sees the contact and the event
    assert seeded.status_code == 201
    assert [(c["email"], c["firstName"]) for c in contacts] == [("adam@example.com", "Adam")]
    assert [(e["eventName"], e["email"], e["idempotencyKey"]) for e in events] == [
        ("conversion", "adam@example.com", "k-9")
    ]


def test_reset_forgets_contacts_events_and_keys(sandbox, client):
    # Given a contact and an event with a key
    client.send_event("adam@example.com", "conversion", idempotency_key="k-1")
    # When the sandbox is reset
    sandbox.reset()
    # Then the state is empty and the key is free again
    assert (sandbox.contacts, sandbox.events) == ({}, [])
    assert client.send_event("adam@example.com", "conversion", idempotency_key="k-1") == {"success": True}
