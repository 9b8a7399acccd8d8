"""The open route under fuzzing: whatever an unauthenticated caller sends to ``POST /webhooks/{provider}``
(headers, query, body, encoding), the webhook function answers the one fixed 401, or 404 for a
provider the hub has no webhook for; never a 500, never a word about campaigns or secrets."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from hub.flows.webhooks import REFUSED_MESSAGE
from hub.providers import program as programs
from hub.settings import config
from local.aws import create_queues, create_tables
from local.gateway import Functions
from local.run import Sandboxes
from local.template import ROOT, load
from local.webhook import DEMO_WEBHOOK_SECRETS, with_webhook_secrets

SAMPLE = json.loads((ROOT / "events/api_webhook_sparkloop_new_referral.json").read_text())
CAMPAIGNS = ["demo-growsurf", "demo-sparkloop", "demo-viral-loops", "nowhere"]
CAMPAIGN_IDS = ["gs4mpl", "MF9a78983d1c", "unknown"]


@pytest.fixture(scope="module")
def webhook(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Functions, Any]]:
    """The webhook function with the demo campaigns (webhook secrets set), moto and the sandboxes."""
    sandboxes = Sandboxes()
    with pytest.MonkeyPatch.context() as patch:
        for name, value in sandboxes.start().items():
            patch.setenv(name, value)
        path = tmp_path_factory.mktemp("config") / "hub.toml"
        path.write_text(with_webhook_secrets(sandboxes.config(), DEMO_WEBHOOK_SECRETS))
        template = load()
        patch.setenv("HUB_CONFIG", str(path))
        patch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        patch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
        config.load_config.cache_clear()
        programs._programs.clear()
        with mock_aws():
            create_tables(template, boto3.client("dynamodb"))
            physical = {name: name for name in template.tables()}
            physical.update({name: url for name, (url, _arn) in create_queues(template, boto3.client("sqs")).items()})
            for name, value in template.environment(physical).items():
                patch.setenv(name, value)
            yield Functions(template), template.functions["WebhookFunction"]
        config.load_config.cache_clear()
        programs._programs.clear()
    sandboxes.stop()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)
payloads = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {
            "event": st.sampled_from(["PARTICIPANT_REACHED_A_GOAL", "NEW_PARTICIPANT_ADDED", "CAMPAIGN_ENDED"]),
            "data": st.fixed_dictionaries({"campaign": st.fixed_dictionaries({"id": st.sampled_from(CAMPAIGN_IDS)})}),
        }
    ),
    st.fixed_dictionaries({"type": st.sampled_from(["new_referral", "participation"]), "campaign_id": json_values}),
)
signatures = st.builds(
    lambda ts, v, extra: f"ts={ts},v={v}{extra}",
    st.text(alphabet="0123456789", max_size=500) | st.text(max_size=20),
    st.text(alphabet="0123456789abcdef", max_size=70) | st.text(max_size=20),
    st.text(max_size=10),
)
headers = st.dictionaries(
    st.sampled_from(["GrowSurf-Signature", "SparkLoop-Token", "Content-Type", "growsurf-signature"])
    | st.text(max_size=10),
    signatures | st.text(max_size=40),
    max_size=4,
)
queries = st.dictionaries(
    st.sampled_from(["campaign", "token"]) | st.text(max_size=10),
    st.sampled_from(CAMPAIGNS) | st.text(max_size=40),
    max_size=3,
)


@st.composite
def bodies(draw: st.DrawFn) -> tuple[str | None, bool]:
    """A body as API Gateway hands it over: absent, text (JSON or not), or base64 (valid or not)."""
    kind = draw(st.sampled_from(["none", "json", "text", "base64", "not-base64"]))
    if kind == "none":
        return None, False
    if kind == "json":
        return json.dumps(draw(payloads)), False
    if kind == "text":
        return draw(st.text(max_size=200)), False
    if kind == "base64":
        return base64.b64encode(draw(st.binary(max_size=200))).decode("ascii"), True
    return draw(st.text(max_size=50)), True


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    provider=st.sampled_from(["growsurf", "sparkloop", "viral_loops"]) | st.text(max_size=12),
    header_values=headers,
    query=queries,
    body=bodies(),
)
def test_no_unauthenticated_delivery_gets_a_500_or_a_detail(webhook, provider, header_values, query, body):
    # Given any headers, query and body, without the webhook secret
    functions, fn = webhook
    text, is_base64 = body
    event = {
        **SAMPLE,
        "path": f"/webhooks/{provider}",
        "pathParameters": {"provider": provider},
        "headers": header_values,
        "multiValueHeaders": {name: [value] for name, value in header_values.items()},
        "queryStringParameters": query or None,
        "multiValueQueryStringParameters": {name: [value] for name, value in query.items()} or None,
        "body": text,
        "isBase64Encoded": is_base64,
    }
    # When the webhook function is invoked with it
    result = functions.invoke(fn, event)
    # Then it is refused with the one fixed answer (or no route), never a 500
    assert result["statusCode"] in (401, 404), result["body"]
    error = json.loads(result["body"])["error"]
    if result["statusCode"] == 401:
        assert error == {"code": "UNAUTHORIZED", "message": REFUSED_MESSAGE, "details": []}
    assert not any(secret in result["body"] for secret in DEMO_WEBHOOK_SECRETS.values())
    assert not any(campaign in result["body"] for campaign in CAMPAIGNS[:3])
