"""The retry loop every provider client shares, over real HTTP against a minimal sandbox."""

from __future__ import annotations

import socket
import time

import pytest
from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from hub.domain.errors import (
    AnswerLost,
    HubError,
    ProviderError,
    ProviderThrottled,
    ProviderTimeout,
    ProviderUnavailable,
    ValidationError,
)
from hub.domain.models import Rate
from hub.providers.http import ProviderHttp, RetryPolicy, retry_after_seconds
from hub.providers.ratelimit.local import TokenBucket
from local.sandbox.base import Sandbox, json_response

KEY = "echo-secret-key-123"


class EchoSandbox(Sandbox):
    """A provider with one endpoint that echoes the JSON body it gets."""

    name = "echo"
    prefix = "/v1"

    def rules(self) -> list[Rule]:
        return [Rule("/echo", endpoint="echo", methods=["POST"])]

    def authenticate(self, request: Request) -> Response | None:
        if request.headers.get("Authorization") != f"Bearer {KEY}":
            return json_response({"error": "Unauthorized"}, 401)
        return None

    def echo(self, request: Request) -> Response:
        return json_response({"echo": request.get_json()})


@pytest.fixture
def sandbox(start_sandbox) -> EchoSandbox:
    return start_sandbox(EchoSandbox())


@pytest.fixture
def http(sandbox: EchoSandbox, fast_policy: RetryPolicy) -> ProviderHttp:
    return ProviderHttp("echo", sandbox.base_url, headers={"Authorization": f"Bearer {KEY}"}, policy=fast_policy)


def test_500s_are_retried_until_the_fault_clears(sandbox, http):
    # Given two 500s ahead of the answer
    sandbox.inject(500, times=2)
    # When one call is made
    result = http.request("POST", "/echo", json={"n": 1})
    # Then it succeeds on the third attempt, and the provider saw the same body three times
    assert result == {"echo": {"n": 1}}
    assert [r.json for r in sandbox.requests_to("/echo")] == [{"n": 1}] * 3


def test_500s_that_do_not_clear_give_provider_error(sandbox, http):
    # Given more 500s than attempts
    sandbox.inject(500, times=10)
    # When the call is made, Then it fails as the provider's failure, after exactly `attempts` tries
    with pytest.raises(ProviderError) as raised:
        http.request("POST", "/echo", json={})
    assert raised.value.code == "PROVIDER_ERROR"
    assert len(sandbox.requests_to("/echo")) == 4


def test_503_that_does_not_clear_gives_provider_unavailable(sandbox, http):
    # Given a provider answering 503
    sandbox.inject(503, times=10)
    # When / Then
    with pytest.raises(ProviderUnavailable):
        http.request("POST", "/echo", json={})


def test_429_with_retry_after_waits_the_advertised_time(sandbox, http):
    # Given one 429 asking for a one-second wait
    sandbox.inject(429, headers={"Retry-After": "1"})
    # When the call is made
    started = time.monotonic()
    result = http.request("POST", "/echo", json={"n": 2})
    # Then the second attempt came no sooner than the provider asked, and succeeded
    first, second = sandbox.requests_to("/echo")
    assert second.at - first.at >= 0.95
    assert time.monotonic() - started >= 0.95
    assert result == {"echo": {"n": 2}}


def test_429_with_growsurf_millisecond_headers_waits_the_longest(sandbox, http):
    # Given a 429 carrying GrowSurf's per-window retry headers
    sandbox.inject(
        429,
        headers={
            "GrowSurf-Retry-After-Second-Milliseconds": "100",
            "GrowSurf-Retry-After-Minute-Milliseconds": "400",
        },
    )
    # When the call is made
    http.request("POST", "/echo", json={})
    # Then the retry waited for the longest window
    first, second = sandbox.requests_to("/echo")
    assert second.at - first.at >= 0.38


def test_429_without_retry_headers_backs_off_and_succeeds(sandbox, http):
    # Given two bare 429s
    sandbox.inject(429, times=2)
    # When / Then the call succeeds on the third attempt
    assert http.request("POST", "/echo", json={"n": 3}) == {"echo": {"n": 3}}
    assert len(sandbox.requests_to("/echo")) == 3


def test_429_that_does_not_clear_gives_provider_throttled_with_its_wait(sandbox, http):
    # Given a provider that keeps throttling
    sandbox.inject(429, times=10, headers={"Retry-After": "0"})
    # When / Then the caller learns it was throttled (not failed), with the provider's advice
    with pytest.raises(ProviderThrottled) as raised:
        http.request("POST", "/echo", json={})
    assert raised.value.code == "RATE_LIMITED"
    assert raised.value.retry_after == 0


def test_429_asking_for_longer_than_the_call_may_wait_is_not_waited_within_the_call(sandbox, http):
    # Given a 429 asking for a minute
    sandbox.inject(429, headers={"Retry-After": "60"})
    # When the call is made, Then it gives up at once, passing the wait on
    started = time.monotonic()
    with pytest.raises(ProviderThrottled) as raised:
        http.request("POST", "/echo", json={})
    assert time.monotonic() - started < 1
    assert raised.value.retry_after == 60
    assert len(sandbox.requests_to("/echo")) == 1


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422])
def test_4xx_other_than_429_is_never_retried(sandbox, http, status):
    # Given a provider answering a client error
    sandbox.inject(status, body={"error": "nope"})
    # When / Then it raises at once, after one request
    with pytest.raises(HubError) as raised:
        http.request("POST", "/echo", json={})
    assert len(sandbox.requests_to("/echo")) == 1
    assert KEY not in str(raised.value)


def test_400_maps_to_validation_error_with_the_provider_message(sandbox, http):
    sandbox.inject(400, body={"error": "Email is invalid"})
    with pytest.raises(ValidationError) as raised:
        http.request("POST", "/echo", json={})
    assert "Email is invalid" in raised.value.message


def test_timeout_is_retried_and_succeeds_when_it_clears(sandbox, http):
    # Given one answer slower than the read timeout (0.5 s)
    sandbox.inject(delay=1.0)
    # When the call is made, Then the retry succeeds
    assert http.request("POST", "/echo", json={"n": 4}) == {"echo": {"n": 4}}
    assert len(sandbox.requests_to("/echo")) == 2


def test_timeouts_that_do_not_clear_give_provider_timeout_in_bounded_time(sandbox, fast_policy):
    # Given a provider slower than the read timeout on every attempt, and a 2-second budget
    sandbox.inject(delay=1.0, times=10)
    policy = RetryPolicy(**{**fast_policy.__dict__, "budget": 2.0})
    http = ProviderHttp("echo", sandbox.base_url, headers={"Authorization": f"Bearer {KEY}"}, policy=policy)
    # When / Then it gives up as a timeout within the budget plus one read timeout
    started = time.monotonic()
    with pytest.raises(ProviderTimeout):
        http.request("POST", "/echo", json={})
    assert time.monotonic() - started < 2.0 + policy.read_timeout + 0.5


def test_refused_connection_gives_provider_unavailable(fast_policy):
    # Given a port nobody listens on
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    http = ProviderHttp("echo", f"http://127.0.0.1:{port}/v1", headers={}, policy=fast_policy)
    # When / Then
    with pytest.raises(ProviderUnavailable) as raised:
        http.request("POST", "/echo", json={})
    assert raised.value.code == "PROVIDER_UNAVAILABLE"


# -- non-idempotent writes: a lost answer is raised, not retried -----------------------------------


def test_a_write_answered_500_is_not_retried_but_raised_as_a_lost_answer(sandbox, http):
    # Given a 500 ahead of the answer
    sandbox.inject(500)
    # When a non-idempotent write is made
    with pytest.raises(AnswerLost) as raised:
        http.request("POST", "/echo", json={"n": 1}, idempotent=False)
    # Then the provider saw it once, and the caller learns the answer was lost to a provider error
    assert len(sandbox.requests_to("/echo")) == 1
    assert raised.value.code == "PROVIDER_ERROR"
    assert type(raised.value.cause) is ProviderError


def test_a_write_that_times_out_after_being_sent_is_raised_as_a_lost_answer(sandbox, http):
    # Given an answer slower than the read timeout (0.5 s)
    sandbox.inject(delay=1.0)
    # When a non-idempotent write is made / Then it is not sent again
    with pytest.raises(AnswerLost) as raised:
        http.request("POST", "/echo", json={"n": 2}, idempotent=False)
    assert len(sandbox.requests_to("/echo")) == 1
    assert isinstance(raised.value.cause, ProviderTimeout)


def test_a_write_throttled_with_429_is_still_retried(sandbox, http):
    # Given a 429 (the provider refused it: nothing was applied)
    sandbox.inject(429, headers={"Retry-After": "0"})
    # When a non-idempotent write is made / Then it is sent again and succeeds
    assert http.request("POST", "/echo", json={"n": 3}, idempotent=False) == {"echo": {"n": 3}}
    assert len(sandbox.requests_to("/echo")) == 2


def test_a_write_whose_connection_is_refused_is_still_retried(fast_policy):
    # Given a port nobody listens on (no request can have been sent)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    waits: list[float] = []
    http = ProviderHttp("echo", f"http://127.0.0.1:{port}/v1", headers={}, policy=fast_policy, sleep=waits.append)
    # When / Then it is retried as any call (a wait before each attempt after the first), and fails as
    # unreachable, not as a lost answer
    with pytest.raises(ProviderUnavailable) as raised:
        http.request("POST", "/echo", json={}, idempotent=False)
    assert not isinstance(raised.value, AnswerLost)
    assert len(waits) == fast_policy.attempts - 1


def test_every_attempt_takes_a_slot_of_the_rate_limiter(sandbox, fast_policy):
    # Given a limiter of 2 calls per second with no burst beyond that, and one 500 ahead
    limiter = TokenBucket(Rate(requests=2, per_seconds=1))
    http = ProviderHttp(
        "echo", sandbox.base_url, headers={"Authorization": f"Bearer {KEY}"}, policy=fast_policy, limiter=limiter
    )
    sandbox.inject(500)
    # When three calls are made (four attempts in all)
    started = time.monotonic()
    for n in range(3):
        http.request("POST", "/echo", json={"n": n})
    # Then the retry counted too: four attempts at 2/s with a burst of 2 take at least one second
    assert len(sandbox.requests_to("/echo")) == 4
    assert time.monotonic() - started >= 0.95


def test_the_key_is_sent_in_the_auth_header_and_nowhere_else(sandbox, http):
    http.request("POST", "/echo", json={"n": 5})
    (received,) = sandbox.requests_to("/echo")
    assert received.header("Authorization") == f"Bearer {KEY}"
    assert KEY not in received.path and KEY not in str(received.query) and KEY not in str(received.json)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "3"}, 3.0),
        ({"Retry-After": "garbage"}, None),
        ({}, None),
        ({"GrowSurf-Retry-After-Hour-Milliseconds": "1500"}, 1.5),
    ],
)
def test_retry_after_parsing(headers, expected):
    assert retry_after_seconds(headers) == expected
