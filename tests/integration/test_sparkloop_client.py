"""SparkLoopClient over real HTTP against the SparkLoop sandbox, and the sandbox's own behaviour."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
import requests

from hub.domain.errors import (
    CampaignNotFound,
    EmailTaken,
    HubError,
    NotFound,
    ParticipantNotFound,
    ProviderAuthFailed,
    ProviderError,
    ProviderThrottled,
    ValidationError,
)
from hub.providers.sparkloop.client import SparkLoopClient
from local.sandbox.base import SandboxRate
from local.sandbox.sparkloop import SparkLoopSandbox

KEY = "sl-secret-key-5e21b7"
CAMPAIGN = "MF9a78983d1c"
SUBSCRIBERS = f"/v1/campaigns/{CAMPAIGN}/subscribers"


# The sandbox's settings for what the document leaves open: every test runs under each of them.
WITHOUT_RETRY_AFTER, WITH_RETRY_AFTER = False, True


@pytest.fixture(params=[WITHOUT_RETRY_AFTER, WITH_RETRY_AFTER], ids=["429-bare", "429-retry-after"])
def sandbox(start_sandbox, request) -> SparkLoopSandbox:
    return start_sandbox(SparkLoopSandbox(api_key=KEY, campaign_id=CAMPAIGN, retry_after=request.param))


@pytest.fixture
def client(sandbox, fast_policy) -> SparkLoopClient:
    return SparkLoopClient(KEY, CAMPAIGN, base_url=sandbox.base_url, policy=fast_policy)


@pytest.fixture
def joanne(sandbox) -> dict:
    """A subscriber whose ref_code newcomers can bring."""
    return sandbox.seed_subscriber("joanne@example.com", name="Joanne Doe", created_at="2021-03-01T09:00:00Z")


def only(sandbox: SparkLoopSandbox, path: str, method: str):
    received = [r for r in sandbox.received if r.path == path and r.method == method]
    assert len(received) == 1
    return received[0]


# -- create subscriber ----------------------------------------------------------------------------


def test_create_subscriber_posts_every_documented_field_with_the_key_header(sandbox, client, joanne):
    # Given a referrer's ref_code and every optional field
    # When a subscriber is created
    result = client.create_subscriber(
        "drago@example.com",
        name="Drago Vrago",
        referrer_code=joanne["ref_code"],
        ip_address="213.19.137.18",
        user_agent="Mozilla/5.0",
        utm_source="newsletter",
        utm_campaign="spring",
        created_at="2021-03-14T11:34:56+01:00",
    )
    # Then the sandbox got the documented POST, authenticated by X-Api-Key
    received = only(sandbox, SUBSCRIBERS, "POST")
    assert received.header("X-Api-Key") == KEY
    assert received.json == {
        "email": "drago@example.com",
        "name": "Drago Vrago",
        "referrer_code": joanne["ref_code"],
        "ip_address": "213.19.137.18",
        "user_agent": "Mozilla/5.0",
        "utm_source": "newsletter",
        "utm_campaign": "spring",
        "created_at": "2021-03-14T11:34:56+01:00",
    }
    # And the client returns the documented subscriber, linked to its referrer, its time in UTC
    subscriber = result["subscriber"]
    assert subscriber["uuid"].startswith("sub_")
    assert subscriber["ref_code"].startswith("drago")
    assert subscriber["referrer_code"] == joanne["ref_code"]
    assert subscriber["referrals_count"] == 0
    assert subscriber["origin"] == "api"
    assert subscriber["created_at"] == "2021-03-14T10:34:56.000Z"
    assert set(subscriber) == set(joanne)


def test_create_subscriber_leaves_unset_fields_out_of_the_body(sandbox, client):
    # Given nothing but an email
    # When the subscriber is created
    result = client.create_subscriber("solo@example.com")
    # Then only the email was sent, and the subscriber has no name and no referrer
    assert only(sandbox, SUBSCRIBERS, "POST").json == {"email": "solo@example.com"}
    assert result["subscriber"]["name"] is None
    assert result["subscriber"]["referrer_code"] is None


def test_create_subscriber_sends_a_datetime_as_the_documented_timestamp(sandbox, client):
    # Given a sign-up time as a naive datetime (taken as UTC)
    # When the subscriber is created with it
    result = client.create_subscriber("past@example.com", created_at=datetime(2020, 1, 2, 3, 4, 5))
    # Then it travelled as YYYY-MM-DDThh:mm:ssTZD
    assert only(sandbox, SUBSCRIBERS, "POST").json["created_at"] == "2020-01-02T03:04:05+00:00"
    assert result["subscriber"]["created_at"] == "2020-01-02T03:04:05.000Z"


def test_create_subscriber_with_a_referrer_code_credits_the_referrer(sandbox, client, joanne):
    # Given Joanne with no referrals
    # When a friend subscribes with her ref_code
    client.create_subscriber("friend@example.com", referrer_code=joanne["ref_code"])
    # Then her referrals_count went up at once
    assert sandbox.subscriber(joanne["uuid"])["referrals_count"] == 1


def test_create_subscriber_with_a_taken_email_raises_email_taken(sandbox, client, joanne):
    # Given Joanne already subscribed
    # When she is created again (in other letter case), Then the documented 400 is EmailTaken
    with pytest.raises(EmailTaken, match="Email has already been taken"):
        client.create_subscriber("Joanne@Example.com")


def test_create_subscriber_with_an_invalid_email_raises_validation_error(client):
    # Given a malformed email
    # When / Then the documented 400 names the email
    with pytest.raises(ValidationError, match="Email is invalid") as raised:
        client.create_subscriber("not-an-email")
    assert raised.value.details[0]["field"] == "email"


def test_create_subscriber_without_an_email_raises_validation_error(client):
    # Given an empty email
    # When / Then
    with pytest.raises(ValidationError, match="You have to provide at least an email"):
        client.create_subscriber("")


def test_create_subscriber_in_an_unknown_campaign_raises_campaign_not_found(sandbox, fast_policy):
    # Given a client configured with a campaign the key does not know
    other = SparkLoopClient(KEY, "MF0000000000", base_url=sandbox.base_url, policy=fast_policy)
    # When / Then
    with pytest.raises(CampaignNotFound, match="Campaign MF0000000000 not found!"):
        other.create_subscriber("new@example.com")


# -- get subscribers ------------------------------------------------------------------------------


def test_get_subscribers_sends_type_page_and_per_page_and_returns_the_page(sandbox, client):
    # Given five subscribers signed up a day apart
    for day in range(1, 6):
        sandbox.seed_subscriber(f"s{day}@example.com", created_at=f"2021-03-0{day}T10:00:00Z")
    # When the second page of two is asked for
    result = client.get_subscribers(type="all", page=2, per_page=2)
    # Then the query carried the documented parameters
    received = only(sandbox, SUBSCRIBERS, "GET")
    assert received.query == {"type": "all", "page": "2", "per_page": "2"}
    assert received.header("X-Api-Key") == KEY
    # And the page holds the 3rd and 4th newest, with the documented meta
    assert [s["email"] for s in result["subscribers"]] == ["s3@example.com", "s2@example.com"]
    assert result["meta"] == {"per_page": 2, "page": 2, "total_pages": 3, "total_subscribers": 5}


def test_get_subscribers_without_parameters_sends_an_empty_query(sandbox, client, joanne):
    # Given one subscriber
    # When the list is asked for with the defaults
    result = client.get_subscribers()
    # Then no query parameter was sent, and the defaults apply
    assert only(sandbox, SUBSCRIBERS, "GET").query == {}
    assert result["meta"] == {"per_page": 50, "page": 1, "total_pages": 1, "total_subscribers": 1}


def test_get_subscribers_of_type_referrals_lists_the_referred_only(sandbox, client, joanne):
    # Given Joanne, a friend she referred, and a stranger
    sandbox.seed_subscriber("friend@example.com", referrer=joanne["ref_code"])
    sandbox.seed_subscriber("stranger@example.com")
    # When the referrals are listed
    result = client.get_subscribers(type="referrals")
    # Then only the referred friend is there
    assert [s["email"] for s in result["subscribers"]] == ["friend@example.com"]


def test_get_subscribers_of_type_advocates_lists_those_who_referred(sandbox, client, joanne):
    # Given Joanne, a friend she referred, and a stranger
    sandbox.seed_subscriber("friend@example.com", referrer=joanne["ref_code"])
    sandbox.seed_subscriber("stranger@example.com")
    # When the advocates are listed
    result = client.get_subscribers(type="advocates")
    # Then only Joanne is there, with her count
    assert [(s["email"], s["referrals_count"]) for s in result["subscribers"]] == [("joanne@example.com", 1)]


def test_get_subscribers_caps_per_page_at_200(sandbox, client, joanne):
    # Given one subscriber / When 500 per page are asked for
    result = client.get_subscribers(per_page=500)
    # Then the documented maximum applies
    assert result["meta"]["per_page"] == 200


def test_get_subscribers_of_an_unknown_campaign_raises_campaign_not_found(sandbox, fast_policy):
    # Given a client for a campaign the sandbox does not have
    other = SparkLoopClient(KEY, "MF9a7d8983d1c", base_url=sandbox.base_url, policy=fast_policy)
    # When / Then the documented 404 is CampaignNotFound
    with pytest.raises(CampaignNotFound, match="Campaign MF9a7d8983d1c not found!"):
        other.get_subscribers()


def test_iter_subscribers_walks_every_page_newest_first(sandbox, client):
    # Given five subscribers
    for day in range(1, 6):
        sandbox.seed_subscriber(f"s{day}@example.com", created_at=f"2021-03-0{day}T10:00:00Z")
    # When they are iterated two per page
    emails = [s["email"] for s in client.iter_subscribers(per_page=2)]
    # Then every subscriber came once, newest first, over three pages
    assert emails == [f"s{day}@example.com" for day in range(5, 0, -1)]
    pages = [r.query["page"] for r in sandbox.requests_to(SUBSCRIBERS, "GET")]
    assert pages == ["1", "2", "3"]


def test_iter_subscribers_passes_the_type_and_stops_on_an_empty_campaign(sandbox, client):
    # Given no subscribers
    # When the referrals are iterated
    found = list(client.iter_subscribers(type="referrals"))
    # Then one page was asked for, with the type and the largest page size
    assert found == []
    assert only(sandbox, SUBSCRIBERS, "GET").query == {"type": "referrals", "page": "1", "per_page": "200"}


def test_iter_subscribers_does_not_repeat_a_subscriber_shifted_by_a_sign_up(sandbox, client):
    # Given three subscribers, and a sign-up arriving after the first page was read
    for day in range(1, 4):
        sandbox.seed_subscriber(f"s{day}@example.com", created_at=f"2021-03-0{day}T10:00:00Z")
    walk = client.iter_subscribers(per_page=2)
    first_page = [next(walk)["email"], next(walk)["email"]]
    sandbox.seed_subscriber("late@example.com")
    # When the walk goes on
    rest = [s["email"] for s in walk]
    # Then s2, pushed onto page 2 by the newcomer, is not yielded twice
    assert first_page == ["s3@example.com", "s2@example.com"]
    assert rest == ["s1@example.com"]


# -- get a subscriber by UUID / by email ----------------------------------------------------------


def test_get_subscriber_fetches_by_uuid_on_the_configured_host(sandbox, client, joanne):
    # Given Joanne
    # When she is fetched by UUID
    result = client.get_subscriber(joanne["uuid"])
    # Then the documented path was called on the sandbox (not api.sparkloop.com), with the key
    received = only(sandbox, f"{SUBSCRIBERS}/{joanne['uuid']}", "GET")
    assert received.header("X-Api-Key") == KEY
    assert result == {"subscriber": joanne}


def test_get_subscriber_of_an_unknown_uuid_raises_participant_not_found(client):
    # Given no such subscriber
    # When / Then the documented 404 is ParticipantNotFound
    with pytest.raises(ParticipantNotFound, match="Subscriber sub_4bc10562d97 not found!"):
        client.get_subscriber("sub_4bc10562d97")


def test_get_subscriber_in_an_unknown_campaign_raises_campaign_not_found(sandbox, fast_policy, joanne):
    # Given a client for another campaign
    other = SparkLoopClient(KEY, "MF9a7d8983d1c", base_url=sandbox.base_url, policy=fast_policy)
    # When / Then
    with pytest.raises(CampaignNotFound):
        other.get_subscriber(joanne["uuid"])


def test_get_subscriber_escapes_the_uuid_in_the_path(sandbox, client):
    # Given a "uuid" that would climb the path if it were not escaped
    # When it is fetched
    with pytest.raises(NotFound):
        client.get_subscriber("../../other")
    # Then it reached the server as one segment under subscribers/ (unescaped, it would be resolved away)
    assert sandbox.received[-1].path == f"{SUBSCRIBERS}/../../other"


def test_get_subscriber_by_email_sends_the_email_in_the_query(sandbox, client, joanne):
    # Given Joanne
    # When she is fetched by email
    result = client.get_subscriber_by_email("joanne@example.com")
    # Then the list path was called with ?email=
    received = only(sandbox, SUBSCRIBERS, "GET")
    assert received.query == {"email": "joanne@example.com"}
    assert received.header("X-Api-Key") == KEY
    assert result == {"subscriber": joanne}


def test_get_subscriber_by_an_unknown_email_raises_participant_not_found(client):
    # Given nobody with that email
    # When / Then the documented 404 is ParticipantNotFound
    with pytest.raises(ParticipantNotFound, match=re.escape("Subscriber with email ghost@example.com not found!")):
        client.get_subscriber_by_email("ghost@example.com")


def test_get_subscriber_by_email_in_an_unknown_campaign_raises_campaign_not_found(sandbox, fast_policy):
    # Given a client for another campaign
    other = SparkLoopClient(KEY, "MF9a7d8983d1c", base_url=sandbox.base_url, policy=fast_policy)
    # When / Then
    with pytest.raises(CampaignNotFound):
        other.get_subscriber_by_email("joanne@example.com")


# -- delete subscriber ----------------------------------------------------------------------------


def test_delete_subscriber_removes_it(sandbox, client, joanne):
    # Given Joanne
    # When she is deleted
    result = client.delete_subscriber(joanne["uuid"])
    # Then the documented DELETE was sent and answered
    received = only(sandbox, f"{SUBSCRIBERS}/{joanne['uuid']}", "DELETE")
    assert received.header("X-Api-Key") == KEY
    assert result == {"message": f"Successfully deleted subscriber {joanne['uuid']}"}
    # And she is gone
    with pytest.raises(ParticipantNotFound):
        client.get_subscriber(joanne["uuid"])


def test_delete_subscriber_of_an_unknown_uuid_raises_participant_not_found(client):
    # Given no such subscriber
    # When / Then
    with pytest.raises(ParticipantNotFound, match="Subscriber sub_34c8e39ca4 not found!"):
        client.delete_subscriber("sub_34c8e39ca4")


def test_delete_subscriber_that_fails_raises_provider_error(sandbox, client, joanne):
    # Given SparkLoop failing to delete Joanne
    sandbox.fail_deletes_of(joanne["uuid"])
    # When / Then the documented 400 is the provider's failure, not the caller's
    with pytest.raises(ProviderError, match=f"Failed to delete subscriber {joanne['uuid']}") as raised:
        client.delete_subscriber(joanne["uuid"])
    assert not isinstance(raised.value, ValidationError)


def test_delete_subscriber_in_an_unknown_campaign_raises_campaign_not_found(sandbox, fast_policy, joanne):
    # Given a client for another campaign
    other = SparkLoopClient(KEY, "MF9a7d8983d1c", base_url=sandbox.base_url, policy=fast_policy)
    # When / Then, and Joanne is still there
    with pytest.raises(CampaignNotFound):
        other.delete_subscriber(joanne["uuid"])
    assert sandbox.subscriber(joanne["uuid"]) == joanne


# -- update subscriber ----------------------------------------------------------------------------


def test_update_subscriber_puts_the_status_and_returns_the_subscriber(sandbox, client, joanne):
    # Given Joanne, confirmed
    # When she is unsubscribed
    result = client.update_subscriber(joanne["uuid"], status="unsubscribed")
    # Then the documented PUT carried the status
    received = only(sandbox, f"{SUBSCRIBERS}/{joanne['uuid']}", "PUT")
    assert received.json == {"status": "unsubscribed"}
    assert received.header("X-Api-Key") == KEY
    # And the answer is the subscriber as documented (no status shown), the status kept in the sandbox
    assert result == {"subscriber": joanne}
    assert sandbox.status_of(joanne["uuid"]) == "unsubscribed"


def test_update_subscriber_back_to_confirmed(sandbox, client, joanne):
    # Given Joanne, unsubscribed
    client.update_subscriber(joanne["uuid"], status="unsubscribed")
    # When she is confirmed again
    client.update_subscriber(joanne["uuid"], status="confirmed")
    # Then she is confirmed
    assert sandbox.status_of(joanne["uuid"]) == "confirmed"


def test_update_subscriber_with_an_unsupported_status_raises_validation_error(sandbox, client, joanne):
    # Given a status SparkLoop does not allow
    # When / Then the documented 400 names the status field
    with pytest.raises(ValidationError, match="Invalid status!") as raised:
        client.update_subscriber(joanne["uuid"], status="deleted")
    assert raised.value.details == [{"field": "status", "reason": "Invalid status!"}]
    assert sandbox.status_of(joanne["uuid"]) == "confirmed"


def test_update_subscriber_of_an_unknown_uuid_raises_participant_not_found(client):
    # Given no such subscriber
    # When / Then
    with pytest.raises(ParticipantNotFound, match="Subscriber sub_34c8e39ca4 not found!"):
        client.update_subscriber("sub_34c8e39ca4", status="confirmed")


def test_update_subscriber_in_an_unknown_campaign_raises_campaign_not_found(sandbox, fast_policy, joanne):
    # Given a client for another campaign
    other = SparkLoopClient(KEY, "MF9a7d8983d1c", base_url=sandbox.base_url, policy=fast_policy)
    # When / Then
    with pytest.raises(CampaignNotFound):
        other.update_subscriber(joanne["uuid"], status="unsubscribed")


# -- auth, throttling, secrecy --------------------------------------------------------------------


def test_a_wrong_key_raises_provider_auth_failed_without_the_key(sandbox, fast_policy):
    # Given a client with the wrong key
    wrong = "sl-wrong-key-000"
    client = SparkLoopClient(wrong, CAMPAIGN, base_url=sandbox.base_url, policy=fast_policy)
    # When it calls, Then the 401 is an auth failure that does not show the key
    with pytest.raises(ProviderAuthFailed) as raised:
        client.get_subscribers()
    assert wrong not in str(raised.value.to_dict())


@pytest.mark.parametrize("sandbox", [WITH_RETRY_AFTER], indirect=True)
def test_a_429_with_retry_after_is_waited_out(sandbox, client, joanne):
    # Given SparkLoop's rolling limit of one request per second, just used, answered with Retry-After
    sandbox.set_rate_limit(SandboxRate(requests=1, per_seconds=1))
    client.get_subscriber(joanne["uuid"])
    # When another call is made at once
    result = client.get_subscriber(joanne["uuid"])
    # Then the 429 (Retry-After: 1) was waited out and the retry succeeded
    assert result == {"subscriber": joanne}
    assert sandbox.throttled == 1
    assert len(sandbox.requests_to(f"{SUBSCRIBERS}/{joanne['uuid']}", "GET")) == 3


@pytest.mark.parametrize("sandbox", [WITHOUT_RETRY_AFTER], indirect=True)
def test_a_429_without_retry_after_is_backed_off_and_retried_until_it_clears(sandbox, client, joanne):
    # Given two SparkLoop 429s without Retry-After (the document shows no 429) ahead of the answer
    throttled = sandbox.rate_limited(0)
    sandbox.inject(429, times=2, headers=dict(throttled.headers), body=throttled.get_json())
    # When the subscriber is asked for
    result = client.get_subscriber(joanne["uuid"])
    # Then the client backed off, retried, and the third attempt answered
    assert "Retry-After" not in throttled.headers
    assert result == {"subscriber": joanne}
    assert len(sandbox.requests_to(f"{SUBSCRIBERS}/{joanne['uuid']}", "GET")) == 3


@pytest.mark.parametrize("sandbox", [WITHOUT_RETRY_AFTER], indirect=True)
def test_a_429_without_retry_after_that_does_not_clear_raises_provider_throttled(sandbox, client, joanne):
    # Given the documented limit of 60 per rolling minute, used up, answered without Retry-After
    sandbox.set_rate_limit(SandboxRate(requests=1, per_seconds=60))
    client.get_subscriber(joanne["uuid"])
    # When another call is made
    with pytest.raises(ProviderThrottled):
        client.get_subscriber(joanne["uuid"])
    # Then every attempt of the policy was made, and each was throttled
    assert sandbox.throttled == 4


@pytest.mark.parametrize("sandbox", [WITH_RETRY_AFTER], indirect=True)
def test_a_429_that_does_not_clear_raises_provider_throttled(sandbox, client, joanne):
    # Given the documented limit of 60 per rolling minute, used up
    sandbox.set_rate_limit(SandboxRate(requests=1, per_seconds=60))
    client.get_subscriber(joanne["uuid"])
    # When another call is made, Then the long Retry-After gives ProviderThrottled at once
    with pytest.raises(ProviderThrottled) as raised:
        client.get_subscriber(joanne["uuid"])
    assert raised.value.retry_after is not None
    assert raised.value.retry_after > 50


def test_429s_past_the_retry_budget_raise_provider_throttled(sandbox, client):
    # Given more SparkLoop 429s (with a short Retry-After) than the policy's attempts
    sandbox.inject(429, times=10, headers={"Retry-After": "0"}, body={"error": "Rate limit exceeded"})
    # When / Then
    with pytest.raises(ProviderThrottled):
        client.get_subscribers()
    assert len(sandbox.requests_to(SUBSCRIBERS, "GET")) == 4


def test_a_provider_message_echoing_the_key_is_redacted(sandbox, client):
    # Given a provider error that repeats the key it got
    sandbox.inject(400, body={"error": f"Bad key {KEY}"})
    # When a call fails with it
    with pytest.raises(ValidationError) as raised:
        client.get_subscribers()
    # Then the error does not carry the key
    assert KEY not in str(raised.value)
    assert "***" in raised.value.message


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.create_subscriber("bad-email"),
        lambda c: c.get_subscriber("sub_missing"),
        lambda c: c.get_subscriber_by_email("ghost@example.com"),
        lambda c: c.delete_subscriber("sub_missing"),
        lambda c: c.update_subscriber("sub_missing", status="confirmed"),
    ],
)
def test_no_error_message_carries_the_key(client, call):
    # Given calls that fail in the provider's documented ways
    # When one is made
    with pytest.raises(HubError) as raised:
        call(client)
    # Then neither the message nor the details hold the key
    assert KEY not in str(raised.value)
    assert KEY not in str(raised.value.to_dict())


# -- the sandbox's own behaviour ------------------------------------------------------------------


def api(sandbox: SparkLoopSandbox, method: str, path: str = "", **kwargs) -> requests.Response:
    """A raw call to the sandbox's API with the right key."""
    return requests.request(
        method,
        f"{sandbox.base_url}/campaigns/{CAMPAIGN}/subscribers{path}",
        headers={"X-Api-Key": KEY},
        timeout=5,
        **kwargs,
    )


def test_sandbox_refuses_a_missing_key_with_401(sandbox, joanne):
    # Given no X-Api-Key (the document calls it optional on get by UUID)
    # When the subscriber is asked for
    response = requests.get(f"{sandbox.base_url}/campaigns/{CAMPAIGN}/subscribers/{joanne['uuid']}", timeout=5)
    # Then the answer is 401 in SparkLoop's error shape
    assert response.status_code == 401
    assert response.json() == {"error": "Invalid API key"}


def test_sandbox_answers_its_rate_limit_the_sparkloop_way(sandbox):
    # Given the documented limit, sixty requests already made in this minute
    sandbox.set_rate_limit(SandboxRate(requests=60, per_seconds=60))
    for _ in range(60):
        assert api(sandbox, "GET").status_code == 200
    # When the 61st comes
    response = api(sandbox, "GET")
    # Then it is a 429 with the error body, carrying Retry-After seconds only under that setting
    assert response.status_code == 429
    assert response.json() == {"error": "Rate limit exceeded"}
    if sandbox.retry_after:
        assert 1 <= int(response.headers["Retry-After"]) <= 60
    else:
        assert "Retry-After" not in response.headers


def test_sandbox_settings_are_read_and_changed_over_http(sandbox):
    # Given the sandbox's control root
    root = sandbox.base_url.removesuffix("/v1")
    # When the Retry-After setting is flipped over HTTP
    flipped = requests.post(f"{root}/_sandbox/settings", json={"retryAfter": not sandbox.retry_after}, timeout=5)
    # Then the answer and the sandbox both hold the new setting
    assert flipped.status_code == 200
    expected = {"retryAfter": sandbox.retry_after, "typeTotals": "all"}
    assert requests.get(f"{root}/_sandbox/settings", timeout=5).json() == expected
    assert flipped.json() == expected


def test_sandbox_type_totals_setting_is_changed_over_http_and_refuses_others(sandbox):
    # Given the sandbox's control root
    root = sandbox.base_url.removesuffix("/v1")
    # When typeTotals is switched, and then set to a value it does not have
    switched = requests.post(f"{root}/_sandbox/settings", json={"typeTotals": "typed"}, timeout=5)
    refused = requests.post(f"{root}/_sandbox/settings", json={"typeTotals": "some"}, timeout=5)
    # Then the first holds and the second is refused, the setting unchanged
    assert switched.json()["typeTotals"] == "typed"
    assert refused.status_code == 400
    assert sandbox.type_totals == "typed"


def test_sandbox_update_with_an_empty_body_answers_the_documented_400(sandbox, joanne):
    # Given an empty PUT body
    # When it is sent
    response = api(sandbox, "PUT", f"/{joanne['uuid']}", json={})
    # Then the documented error is answered
    assert response.status_code == 400
    assert response.json() == {"error": "You have to update at least 1 field."}


def test_sandbox_create_without_an_email_answers_the_documented_400(sandbox):
    # Given a body with a name only
    # When it is posted
    response = api(sandbox, "POST", json={"name": "Nobody"})
    # Then the documented error is answered
    assert response.status_code == 400
    assert response.json() == {"error": "You have to provide at least an email"}


def test_sandbox_keeps_an_unknown_referrer_code_and_credits_nobody(sandbox, client, joanne):
    # Given a ref_code nobody holds
    # When a subscriber is created with it
    result = client.create_subscriber("lost@example.com", referrer_code="nobody123")
    # Then it is stored as given and Joanne's count is unchanged
    assert result["subscriber"]["referrer_code"] == "nobody123"
    assert sandbox.subscriber(joanne["uuid"])["referrals_count"] == 0


def test_sandbox_counts_referrals_of_any_status_and_forgets_deleted_ones(sandbox, client, joanne):
    # Given two friends of Joanne, one of them unsubscribed
    first = sandbox.seed_subscriber("f1@example.com", referrer=joanne["ref_code"])
    sandbox.seed_subscriber("f2@example.com", referrer="joanne@example.com", status="unsubscribed")
    before = sandbox.subscriber(joanne["uuid"])["referrals_count"]
    # When one friend is deleted
    client.delete_subscriber(first["uuid"])
    # Then the count held both, and now holds the remaining one
    assert before == 2
    assert sandbox.subscriber(joanne["uuid"])["referrals_count"] == 1


def test_sandbox_orders_equal_timestamps_by_latest_sign_up_first(sandbox, client):
    # Given three subscribers with the same created_at
    for name in ("a", "b", "c"):
        sandbox.seed_subscriber(f"{name}@example.com", created_at="2021-03-24T11:55:02.113Z")
    # When they are listed
    emails = [s["email"] for s in client.get_subscribers()["subscribers"]]
    # Then the last sign-up comes first
    assert emails == ["c@example.com", "b@example.com", "a@example.com"]


def test_sandbox_paging_boundaries(sandbox, client):
    # Given exactly four subscribers
    for day in range(1, 5):
        sandbox.seed_subscriber(f"s{day}@example.com", created_at=f"2021-03-0{day}T10:00:00Z")
    # When pages of two are read up to one past the end
    pages = [client.get_subscribers(page=page, per_page=2) for page in (1, 2, 3)]
    # Then two full pages, then an empty one, all with total_pages 2
    assert [len(p["subscribers"]) for p in pages] == [2, 2, 0]
    assert {p["meta"]["total_pages"] for p in pages} == {2}


def test_sandbox_empty_campaign_has_no_pages(client):
    # Given no subscribers / When the list is read
    result = client.get_subscribers()
    # Then the meta says zero pages
    assert result == {"subscribers": [], "meta": {"per_page": 50, "page": 1, "total_pages": 0, "total_subscribers": 0}}


def test_sandbox_refuses_an_unknown_type(sandbox, client):
    # Given a type SparkLoop does not list / When / Then
    with pytest.raises(ValidationError, match="Invalid type!"):
        client.get_subscribers(type="everyone")


def test_sandbox_ref_codes_follow_the_documented_shapes(sandbox):
    # Given a named and an unnamed subscriber
    named = sandbox.seed_subscriber("drago@example.com", name="Drago Vrago")
    unnamed = sandbox.seed_subscriber("anon@example.com")
    # Then the codes look like "drago785f" and "c784ef4f"
    assert named["ref_code"].startswith("drago")
    assert len(named["ref_code"]) == len("drago") + 4
    assert len(unnamed["ref_code"]) == 8


def test_sandbox_accepts_a_form_encoded_create(sandbox):
    # Given a form body instead of JSON
    # When it is posted
    response = api(sandbox, "POST", data={"email": "form@example.com", "name": "Form User"})
    # Then the subscriber is created
    assert response.status_code == 200
    assert response.json()["subscriber"]["name"] == "Form User"


def test_sandbox_control_routes_seed_and_list_subscribers(sandbox, client):
    # Given an empty sandbox, seeded over HTTP
    control = f"{sandbox.base_url.removesuffix('/v1')}/_sandbox"
    joanne = requests.post(f"{control}/subscribers", json={"email": "joanne@example.com"}, timeout=5).json()
    friend = requests.post(
        f"{control}/participants",
        json={"email": "friend@example.com", "referrer": "joanne@example.com", "status": "unsubscribed"},
        timeout=5,
    ).json()
    listed = requests.get(f"{control}/subscribers", timeout=5).json()
    # When the client reads the state
    advocates = client.get_subscribers(type="advocates")["subscribers"]
    # Then the seeded state is what the API answers
    assert friend["referrer_code"] == joanne["ref_code"]
    assert [a["email"] for a in advocates] == ["joanne@example.com"]
    assert [(s["email"], s["status"]) for s in listed] == [
        ("joanne@example.com", "confirmed"),
        ("friend@example.com", "unsubscribed"),
    ]


def test_sandbox_control_route_makes_a_delete_fail(sandbox, client, joanne):
    # Given a failing delete set up over HTTP
    control = f"{sandbox.base_url.removesuffix('/v1')}/_sandbox"
    response = requests.post(f"{control}/failing-deletes", json={"uuid": joanne["uuid"]}, timeout=5)
    # When Joanne is deleted, Then SparkLoop's failure is answered
    assert response.status_code == 200
    with pytest.raises(ProviderError):
        client.delete_subscriber(joanne["uuid"])


def test_sandbox_control_route_refuses_an_unknown_referrer(sandbox):
    # Given nobody to name as referrer / When one is seeded with it
    control = f"{sandbox.base_url.removesuffix('/v1')}/_sandbox"
    response = requests.post(f"{control}/subscribers", json={"email": "x@example.com", "referrer": "zzz"}, timeout=5)
    # Then it is refused
    assert response.status_code == 400


def test_sandbox_seeded_created_at_is_reported_in_utc(sandbox):
    # Given a subscriber who signed up in the past, in another zone
    seeded = sandbox.seed_subscriber(
        "old@example.com", created_at=datetime(1993, 8, 30, 11, 34, 56, tzinfo=timezone(timedelta(hours=1)))
    )
    # Then the API's timestamp is UTC with milliseconds
    assert seeded["created_at"] == "1993-08-30T10:34:56.000Z"


# -- undocumented error bodies fail safe ----------------------------------------------------------


def test_a_404_with_an_undocumented_body_on_a_subscriber_path_is_participant_not_found(sandbox, client, joanne):
    # Given a 404 whose body is none of the documented texts, on a subscriber's path
    sandbox.inject(404, body={"error": "Record not found"}, path=f"{SUBSCRIBERS}/")
    # When the subscriber is asked for by UUID
    with pytest.raises(ParticipantNotFound):
        client.get_subscriber(joanne["uuid"])
    # Then the answer was read as "that subscriber is not there", after one request
    assert len(sandbox.requests_to(f"{SUBSCRIBERS}/{joanne['uuid']}", "GET")) == 1


def test_a_404_with_an_undocumented_body_on_the_list_is_campaign_not_found(sandbox, client):
    # Given a 404 whose body is none of the documented texts, on the list (which documents only the campaign's)
    sandbox.inject(404, body={"error": "Record not found"}, path=SUBSCRIBERS)
    # When a page is asked for
    # Then the campaign is what is not there
    with pytest.raises(CampaignNotFound):
        client.get_subscribers()
