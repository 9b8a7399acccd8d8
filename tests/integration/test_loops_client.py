"""LoopsClient over real HTTP against the Loops sandbox, and the sandbox's own behaviour."""

from __future__ import annotations

import time

import pytest
import requests

from hub.errors import (
    Conflict,
    EmailTaken,
    HubError,
    NotFound,
    ProviderAuthFailed,
    ProviderThrottled,
    ValidationError,
)
from hub.providers.loops import LoopsClient
from local.sandbox.base import SandboxRate
from local.sandbox.loops import IDEMPOTENCY_WINDOW_SECONDS, LOOPS_RATE, LoopsSandbox

KEY = "loops-secret-key-7c41d9"
API = "/api/v1"


@pytest.fixture
def sandbox(start_sandbox) -> LoopsSandbox:
    return start_sandbox(LoopsSandbox(api_key=KEY, team_name="Acme"))


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
    # And the client returned Loops' answer, naming the stored contact
    assert result == {"success": True, "id": sandbox.contact("adam@example.com")["id"]}


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
    # Then it is a conflict on userId, not a taken email
    assert not isinstance(raised.value, EmailTaken)
    assert raised.value.details[0]["field"] == "userId"


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
    assert result == {"success": True, "id": stored["id"]}


def test_update_contact_changes_an_existing_contact_and_keeps_its_id(sandbox, client):
    # Given a contact with a custom property
    seeded = sandbox.seed_contact("adam@example.com", firstName="Adam", favoriteColor="blue")
    # When it is updated with a new property and a null for the old one
    result = client.update_contact("adam@example.com", last_name="K", properties={"plan": "pro", "favoriteColor": None})
    # Then the same contact carries the change, and the null cleared the property
    stored = sandbox.contact("adam@example.com")
    assert result["id"] == seeded["id"] == stored["id"]
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


def test_update_contact_with_an_invalid_email_is_a_validation_error_on_email(client):
    # Given an address without a domain
    # When it is updated
    with pytest.raises(ValidationError) as raised:
        client.update_contact("not-an-email")
    # Then Loops' 400 names the email field
    assert raised.value.details[0]["field"] == "email"


def test_a_nested_property_value_is_a_validation_error_naming_the_property(client):
    # Given a property whose value is an object, which Loops does not store
    # When the contact is updated
    with pytest.raises(ValidationError) as raised:
        client.update_contact("adam@example.com", properties={"address": {"city": "Paris"}})
    # Then the error names the property
    assert raised.value.details[0]["field"] == "address"


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


def test_delete_contact_of_an_unknown_contact_is_contact_not_found(client):
    # Given no such contact
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


def test_send_event_posts_the_event_with_its_properties_and_idempotency_key(sandbox, client):
    # Given the document's conversion event with contact properties
    # When it is sent with an idempotency key
    result = client.send_event(
        "adam@example.com", "conversion", properties={"plan": "pro", "price": 99}, idempotency_key="k-1"
    )
    # Then Loops received the fields at the top level and the key as a header
    received = only(sandbox, "/events/send", "POST")
    assert received.json == {"email": "adam@example.com", "eventName": "conversion", "plan": "pro", "price": 99}
    assert received.header("Idempotency-Key") == "k-1"
    assert received.header("Authorization") == f"Bearer {KEY}"
    assert result == {"success": True}
    # And the event was recorded, its properties set on the contact it created
    (event,) = sandbox.events
    assert (event.name, event.email, event.properties, event.idempotency_key) == (
        "conversion",
        "adam@example.com",
        {"plan": "pro", "price": 99},
        "k-1",
    )
    assert sandbox.contact("adam@example.com")["plan"] == "pro"


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


def test_an_event_without_a_name_is_a_validation_error_on_event_name(sandbox, client):
    # Given an empty event name
    # When the event is sent
    with pytest.raises(ValidationError) as raised:
        client.send_event("adam@example.com", "")
    # Then Loops' 400 names eventName, and nothing was recorded
    assert raised.value.details[0]["field"] == "eventName"
    assert sandbox.events == []


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
    # Then it answers Loops' 401
    assert response.status_code == 401
    assert response.json() == {"success": False, "message": "Invalid API key"}


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


def test_no_documented_error_carries_the_key(sandbox, client):
    # Given every documented failure
    sandbox.seed_contact("adam@example.com")
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
    # Given an event refused for its missing name
    with pytest.raises(ValidationError):
        client.send_event("adam@example.com", "", idempotency_key="retry-me")
    # When it is sent again, fixed, with the same key
    result = client.send_event("adam@example.com", "conversion", idempotency_key="retry-me")
    # Then it is accepted
    assert result == {"success": True}
    assert [e.name for e in sandbox.events] == ["conversion"]


def test_an_event_updates_an_existing_contact_without_creating_another(sandbox, client):
    # Given a contact
    seeded = sandbox.seed_contact("adam@example.com", firstName="Adam")
    # When an event with properties is sent for it
    client.send_event("ADAM@example.com", "conversion", properties={"plan": "pro"})
    # Then the one contact carries the property
    assert len(sandbox.contacts) == 1
    stored = sandbox.contact("adam@example.com")
    assert (stored["id"], stored["firstName"], stored["plan"]) == (seeded["id"], "Adam", "pro")


def test_new_contacts_carry_loops_standard_fields(sandbox, client):
    # Given a contact created through the API
    client.create_contact("adam@example.com")
    # When it is found
    (found,) = client.find_contact("adam@example.com")
    # Then it has a cuid-like id and Loops' standard fields
    assert found["id"].startswith("c")
    assert len(found["id"]) == 25
    assert (found["source"], found["subscribed"], found["userGroup"], found["userId"]) == ("API", True, "", None)


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
