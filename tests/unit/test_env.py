"""A variable of the template a function needs and lacks is a CONFIGURATION_ERROR naming it, never a
KeyError the API would answer as an unexpected 500."""

from __future__ import annotations

import pytest

from hub.aws.jobs import JobStore
from hub.domain.errors import ConfigurationError
from hub.flows import imports
from hub.settings import env


@pytest.mark.parametrize("value", [None, ""])
def test_a_missing_or_empty_variable_is_a_configuration_error_naming_it(monkeypatch, value):
    # Given a variable unset, or set to nothing
    if value is None:
        monkeypatch.delenv("HUB_TEST_VARIABLE", raising=False)
    else:
        monkeypatch.setenv("HUB_TEST_VARIABLE", value)
    # When it is required, Then the error names it
    with pytest.raises(ConfigurationError) as raised:
        env.required("HUB_TEST_VARIABLE")
    assert raised.value.message == "the environment variable HUB_TEST_VARIABLE is not set"


@pytest.mark.parametrize(
    ("variable", "use"),
    [
        ("UPLOAD_BUCKET", lambda: imports.upload_url("job-1")),
        ("JOBS_TABLE", JobStore),
    ],
)
def test_the_stores_and_the_upload_url_name_the_variable_they_lack(monkeypatch, variable, use):
    # Given a function whose environment lacks the variable
    monkeypatch.delenv(variable, raising=False)
    # When the code that needs it runs, Then it is a configuration error naming it
    with pytest.raises(ConfigurationError) as raised:
        use()
    assert variable in raised.value.message


def test_a_set_variable_is_its_value(monkeypatch):
    monkeypatch.setenv("HUB_TEST_VARIABLE", "queue-url")
    assert env.required("HUB_TEST_VARIABLE") == "queue-url"


@pytest.mark.parametrize(
    ("variable", "value"),
    [("MAX_RECEIVE_COUNT", "five"), ("HUB_HTTP_BUDGET_SECONDS", "-1"), ("IDEMPOTENCY_KEY_TTL_SECONDS", "0")],
)
def test_a_wrong_value_is_a_configuration_error_naming_the_variable(monkeypatch, variable, value):
    # Given a variable the template sets, with a value it cannot mean
    monkeypatch.setenv(variable, value)
    # When the environment is read, Then the error names the variable and what is wrong
    with pytest.raises(ConfigurationError) as raised:
        env.environment()
    assert raised.value.message.startswith(f"invalid environment: {variable}: ")


def test_the_environment_is_checked_as_a_handler_is_built(monkeypatch):
    # Given a wrong value in a function's environment
    from hub.edge import api, handlers

    monkeypatch.setenv("HUB_DEDUP_WINDOW_SECONDS", "a day")
    # When its handler is built (the function's cold start), Then it fails naming the variable
    with pytest.raises(ConfigurationError, match="HUB_DEDUP_WINDOW_SECONDS"):
        handlers.api(api.make_app())


def test_defaults_hold_where_the_template_sets_nothing(monkeypatch):
    for name in ("MAX_RECEIVE_COUNT", "HUB_DEDUP_WINDOW_SECONDS", "HUB_HTTP_ATTEMPTS"):
        monkeypatch.delenv(name, raising=False)
    variables = env.environment()
    assert (variables.max_receive_count, variables.dedup_window_seconds, variables.http_attempts) == (5, 86400, 4)
