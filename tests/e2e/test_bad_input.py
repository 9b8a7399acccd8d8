"""Generated bad input to every route of the OpenAPI document: never a 500, every 4xx in the SPEC's
error shape. Runs against the local run, so the whole path (gateway, handler, layer) is exercised."""

from __future__ import annotations

import json
import string
from urllib.parse import quote

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import Hub

CAMPAIGNS = st.sampled_from(["demo-growsurf", "demo-viral-loops", "demo-sparkloop", "nope", "x" * 300])
EMAILS = st.one_of(
    st.sampled_from(["ada@example.com", "not-an-email", "a@b", "@@", " ", "%40"]),
    st.text(string.printable, min_size=1, max_size=40).filter(
        lambda s: "/" not in s and s.strip() not in ("", ".", "..")
    ),
)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)
FIELDS = st.sampled_from(
    [
        *("email", "firstName", "lastName", "referrer", "metadata", "ipAddress", "rewardId", "milestoneId"),
        *("reason", "campaign", "userId", "properties", "event"),
    ]
)
BODIES = st.one_of(
    st.dictionaries(FIELDS, JSON_VALUES, max_size=6),
    JSON_VALUES,
    st.binary(max_size=60).map(lambda b: b.decode("latin-1")),
    st.just("{not json"),
    st.just(""),
)
HEADERS = st.one_of(
    st.just({}),
    # Values an HTTP client can send at all (no surrounding white space, no line breaks).
    st.fixed_dictionaries(
        {
            "Idempotency-Key": st.text(string.ascii_letters + string.digits + "-_ :/", max_size=300).filter(
                lambda s: s == s.strip()
            )
        }
    ),
)

WRITE_ROUTES = [
    "/campaigns/{campaign}/participants",
    "/campaigns/{campaign}/conversions",
    "/campaigns/{campaign}/redemptions",
    "/campaigns/{campaign}/flags",
    "/contacts/sync",
]
READ_ROUTES = [
    "/campaigns/{campaign}/participants/{email}",
    "/campaigns/{campaign}/participants/{email}/referrals",
    "/campaigns/{campaign}/participants/{email}/rewards",
    "/campaigns/{campaign}/leaderboard",
]
QUERIES = st.dictionaries(st.sampled_from(["status", "limit", "cursor"]), st.text(string.printable, max_size=20))

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)


def assert_well_formed(response) -> None:
    assert response.status_code != 500, response.text
    if response.status_code >= 400:
        error = response.json()["error"]
        assert set(error) == {"code", "message", "details"}
        assert error["code"].isupper()
        assert isinstance(error["details"], list)


@SETTINGS
@given(route=st.sampled_from(WRITE_ROUTES), campaign=CAMPAIGNS, body=BODIES, headers=HEADERS)
def test_write_routes_answer_bad_bodies_with_an_error_not_a_500(hub: Hub, route, campaign, body, headers):
    path = route.format(campaign=quote(campaign, safe=""))
    data = body if isinstance(body, str) else json.dumps(body)
    response = hub.request(
        "POST", path, data=data.encode("utf-8"), headers={"content-type": "application/json", **headers}
    )
    assert_well_formed(response)


@SETTINGS
@given(route=st.sampled_from(READ_ROUTES), campaign=CAMPAIGNS, email=EMAILS, query=QUERIES)
def test_read_routes_answer_bad_paths_and_queries_with_an_error_not_a_500(hub: Hub, route, campaign, email, query):
    path = route.format(campaign=quote(campaign, safe=""), email=quote(email, safe="@"))
    assert_well_formed(hub.get(path, params=query))
