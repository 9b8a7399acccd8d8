"""Keys as they are read (stripped, checked) and as the HTTP plumbing fails with them: a key never
reaches an error's message, details, cause, context or traceback, nor a log line."""

from __future__ import annotations

import logging
import traceback

import boto3
import pytest
from moto import mock_aws
from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from hub.domain.errors import ConfigurationError, HubError, ProviderError, ValidationError
from hub.providers.http import ProviderHttp, RetryPolicy
from hub.settings.config import KeyRef, resolve_key
from local.sandbox.base import Sandbox, json_response

KEY = "echo-key-4f2a9b"


class EchoKeySandbox(Sandbox):
    """A provider whose one endpoint answers 200, and whose errors quote the key they were sent."""

    name = "echo"
    prefix = "/v1"

    def rules(self) -> list[Rule]:
        return [Rule("/thing", endpoint="thing", methods=["POST"])]

    def authenticate(self, request: Request) -> Response | None:
        return None

    def thing(self, request: Request) -> Response:
        return json_response({"ok": True})


@pytest.fixture
def sandbox(start_sandbox) -> EchoKeySandbox:
    return start_sandbox(EchoKeySandbox())


def _http(sandbox: EchoKeySandbox, policy: RetryPolicy, key: str) -> ProviderHttp:
    return ProviderHttp(
        "Echo", sandbox.base_url, headers={"Authorization": f"Bearer {key}"}, policy=policy, secrets=(key,)
    )


def _everything(error: BaseException) -> str:
    """The error as every consumer may see it: text, body, formatted traceback, cause and context."""
    parts = [str(error), "".join(traceback.format_exception(error)), repr(error.__cause__), repr(error.__context__)]
    if isinstance(error, HubError):
        parts.append(repr(error.to_dict()))
    return "\n".join(parts)


def test_a_key_with_a_line_break_inside_fails_as_configuration_without_the_key(sandbox, fast_policy, caplog):
    # Given a client whose key holds a line break (which requests refuses as a header, quoting it)
    http = _http(sandbox, fast_policy, f"{KEY}\nsecond-line")
    # When a call is made
    with caplog.at_level(logging.DEBUG), pytest.raises(ConfigurationError) as raised:
        http.request("POST", "/thing", json={})
    # Then the error is the hub's own, with no trace of the key anywhere, and nothing was sent
    assert KEY not in _everything(raised.value) + caplog.text
    assert raised.value.__cause__ is None and raised.value.__context__ is None
    assert sandbox.requests_to("/thing") == []


def test_a_body_with_nan_that_got_past_validation_is_a_validation_error(sandbox, fast_policy):
    # Given a body holding NaN handed to the plumbing directly
    http = _http(sandbox, fast_policy, KEY)
    # When it is sent, Then it is refused as the caller's input, before reaching the provider
    with pytest.raises(ValidationError):
        http.request("POST", "/thing", json={"score": float("nan")})
    assert sandbox.requests_to("/thing") == []


def test_a_provider_echoing_the_key_into_details_is_redacted(sandbox, fast_policy):
    # Given a provider refusing with a message that quotes the key, copied into details by its mapper
    sandbox.inject(400, body={"message": f"key {KEY} refused"})
    http = ProviderHttp(
        "Echo",
        sandbox.base_url,
        headers={"Authorization": f"Bearer {KEY}"},
        policy=fast_policy,
        secrets=(KEY,),
        error_mapper=lambda r: ValidationError(r.message, details=[{"field": "key", "reason": r.message}]),
    )
    # When the call is made
    with pytest.raises(ValidationError) as raised:
        http.request("POST", "/thing", json={})
    # Then neither message nor details hold the key
    assert KEY not in _everything(raised.value)
    assert raised.value.details == [{"field": "key", "reason": "key *** refused"}]


def test_a_5xx_echoing_the_key_answers_a_fixed_message(sandbox, fast_policy):
    # Given a provider failing with the key in its body
    sandbox.inject(500, times=10, body={"message": f"crash with {KEY}"})
    # When the call is made, Then the error says only what failed
    with pytest.raises(ProviderError) as raised:
        _http(sandbox, fast_policy, KEY).request("POST", "/thing", json={})
    assert KEY not in _everything(raised.value)


@mock_aws
@pytest.mark.parametrize("stored", [f"{KEY}\n", f"  {KEY}  ", f"\t{KEY}\r\n", f"{KEY}\n\n"])
def test_a_padded_secret_is_read_without_its_padding(monkeypatch, stored):
    # Given a key stored with white space around it
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    boto3.client("secretsmanager").create_secret(Name="hub/padded", SecretString=stored)
    # When it is resolved, Then it is the key alone
    assert resolve_key(KeyRef(secret="hub/padded")) == KEY


@mock_aws
@pytest.mark.parametrize(
    ("stored", "field", "says"),
    [
        (f"{KEY} second", None, "white space inside"),
        (f"{KEY}\nsecond", None, "white space inside"),
        ("   \n", None, "is empty"),
        ('{"apiKey": null}', "apiKey", "is null"),
        ('{"other": "x"}', "apiKey", "has no JSON field 'apiKey'"),
        (f'{{"apiKey": "{KEY}"}}', None, "holds a JSON object"),
        ('{"apiKey": 12}', "apiKey", "is not text"),
    ],
)
def test_a_secret_that_cannot_be_a_key_is_refused_naming_where_it_lives(monkeypatch, stored, field, says):
    # Given a stored value that is no usable key
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    boto3.client("secretsmanager").create_secret(Name="hub/bad", SecretString=stored)
    # When it is resolved
    with pytest.raises(ConfigurationError) as raised:
        resolve_key(KeyRef(secret="hub/bad", field=field))
    # Then the error names the secret and the problem, never the value
    assert "secret 'hub/bad'" in raised.value.message and says in raised.value.message
    assert KEY not in _everything(raised.value)


@mock_aws
def test_a_padded_ssm_parameter_is_read_without_its_padding(monkeypatch):
    # Given a SecureString stored with a trailing line break
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    boto3.client("ssm").put_parameter(Name="/hub/key", Value=f"{KEY}\n", Type="SecureString")
    # When it is resolved, Then it is the key alone
    assert resolve_key(KeyRef(parameter="/hub/key")) == KEY
