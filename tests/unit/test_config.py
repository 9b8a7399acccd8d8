"""The configuration document: validation that names what is wrong, defaults, key references."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from hub.domain.errors import CampaignNotFound, ConfigurationError
from hub.domain.models import Provider, Rate, Window
from hub.settings.config import (
    DEFAULT_RATE_LIMITS,
    KeyRef,
    base_url,
    load_config,
    parse_config,
    resolve_key,
)

ROOT = Path(__file__).resolve().parents[2]


def test_the_commented_example_is_a_valid_configuration():
    # Given the example file shipped with the project
    config = parse_config((ROOT / "config.example.toml").read_text(), "example")
    # Then it names three campaigns of three providers and the Loops contact store
    assert {name: c.provider for name, c in config.campaigns.items()} == {
        "spring-launch": Provider.GROWSURF,
        "waitlist": Provider.VIRAL_LOOPS,
        "newsletter": Provider.SPARKLOOP,
    }
    assert config.contacts is not None and config.contacts.provider == Provider.LOOPS
    assert config.rate(Provider.GROWSURF) == DEFAULT_RATE_LIMITS[Provider.GROWSURF]


def test_unset_rate_limits_take_the_documented_defaults():
    config = parse_config("", "empty")
    assert config.rate(Provider.SPARKLOOP) == DEFAULT_RATE_LIMITS[Provider.SPARKLOOP] == Rate(60, 60)


def test_growsurfs_default_keeps_its_three_windows_and_three_connections():
    config = parse_config("", "empty")
    assert config.rate(Provider.GROWSURF) == Rate(30, 5, 3, more=(Window(200, 60), Window(10_000, 3_600)))


def test_a_rate_limit_may_be_a_list_of_windows_every_one_kept():
    # Given two windows, the second naming a concurrency
    text = (
        "[providers.loops]\nrate_limit = [{ requests = 10, per_seconds = 1 },"
        " { requests = 500, per_seconds = 60, concurrency = 4 }]\n"
    )
    # When it is read / Then both windows are the limit, with the concurrency named
    assert parse_config(text, "test").rate(Provider.LOOPS) == Rate(10, 1, 4, more=(Window(500, 60),))


@pytest.mark.parametrize(
    ("value", "named"),
    [
        ("[]", "providers.loops.rate_limit"),
        ("[{ requests = 0, per_seconds = 1 }]", "providers.loops.rate_limit"),
        ("[{ requests = 10, per_second = 1 }]", "per_second"),
        ("[" + ", ".join(["{ requests = 1, per_seconds = 1 }"] * 6) + "]", "providers.loops.rate_limit"),
    ],
    ids=["empty", "zero-requests", "misspelt-field", "six-windows"],
)
def test_a_rate_limit_list_that_cannot_be_kept_is_refused_naming_it(value, named):
    with pytest.raises(ConfigurationError) as raised:
        parse_config(f"[providers.loops]\nrate_limit = {value}\n", "test")
    assert named in raised.value.message


def test_an_unknown_provider_is_named_in_the_error():
    # Given a campaign whose provider is misspelt
    text = '[campaigns.x]\nprovider = "growsurff"\ncampaign_id = "a"\nkey = { value = "k" }\n'
    # When / Then the error names the setting
    with pytest.raises(ConfigurationError) as raised:
        parse_config(text, "test")
    assert "campaigns.x.provider" in raised.value.message


def test_a_key_with_two_sources_is_refused():
    text = '[campaigns.x]\nprovider = "growsurf"\ncampaign_id = "a"\nkey = { value = "k", secret = "s" }\n'
    with pytest.raises(ConfigurationError) as raised:
        parse_config(text, "test")
    assert "exactly one of" in raised.value.message


def test_an_unknown_setting_is_refused_not_ignored():
    text = '[campaigns.x]\nprovider = "growsurf"\ncampaign_id = "a"\nkey = { value = "k" }\ncampain = "typo"\n'
    with pytest.raises(ConfigurationError) as raised:
        parse_config(text, "test")
    assert "campaigns.x.campain" in raised.value.message


def test_broken_toml_is_reported_with_its_source():
    with pytest.raises(ConfigurationError) as raised:
        parse_config("[campaigns", "file 'hub.toml'")
    assert "file 'hub.toml'" in raised.value.message


def test_an_inline_key_never_shows_in_the_model_repr():
    config = parse_config(
        '[campaigns.x]\nprovider = "sparkloop"\ncampaign_id = "a"\nkey = { value = "super-secret" }\n', "t"
    )
    assert "super-secret" not in repr(config)
    assert resolve_key(config.campaign("x").key) == "super-secret"


def test_an_unknown_campaign_is_campaign_not_found():
    with pytest.raises(CampaignNotFound):
        parse_config("", "t").campaign("nope")


def test_base_urls_default_to_the_real_ones_and_follow_the_environment(monkeypatch):
    monkeypatch.delenv("GROWSURF_API_URL", raising=False)
    assert base_url(Provider.GROWSURF) == "https://api.growsurf.com/v2"
    monkeypatch.setenv("GROWSURF_API_URL", "http://127.0.0.1:9999/v2")
    assert base_url(Provider.GROWSURF) == "http://127.0.0.1:9999/v2"


def test_missing_configuration_says_which_variables_to_set(monkeypatch):
    monkeypatch.delenv("HUB_CONFIG", raising=False)
    monkeypatch.delenv("HUB_CONFIG_PARAMETER", raising=False)
    load_config.cache_clear()
    with pytest.raises(ConfigurationError) as raised:
        load_config()
    assert "HUB_CONFIG" in raised.value.message


def test_config_is_loaded_from_the_file_in_hub_config(monkeypatch, tmp_path):
    path = tmp_path / "hub.toml"
    path.write_text('[campaigns.a]\nprovider = "growsurf"\ncampaign_id = "g1"\nkey = { value = "k" }\n')
    monkeypatch.setenv("HUB_CONFIG", str(path))
    load_config.cache_clear()
    try:
        assert load_config().campaign("a").campaign_id == "g1"
    finally:
        load_config.cache_clear()


@mock_aws
def test_keys_are_read_from_secrets_manager_and_ssm(monkeypatch):
    # Given a JSON secret and a SecureString in (emulated) AWS
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    boto3.client("secretsmanager").create_secret(Name="hub/providers", SecretString='{"growsurf": "gs-key"}')
    boto3.client("ssm").put_parameter(Name="/hub/loops", Value="loops-key", Type="SecureString")
    # When the references are resolved
    from_secret = resolve_key(KeyRef(secret="hub/providers", field="growsurf"))
    from_parameter = resolve_key(KeyRef(parameter="/hub/loops"))
    # Then each gives its key
    assert (from_secret, from_parameter) == ("gs-key", "loops-key")


@mock_aws
def test_a_missing_secret_is_a_configuration_error_naming_where_not_what(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    with pytest.raises(ConfigurationError) as raised:
        resolve_key(KeyRef(secret="hub/absent"))
    assert "hub/absent" in raised.value.message


def test_a_key_that_cannot_be_read_for_want_of_a_region_names_where_it_lives(monkeypatch):
    # Given no AWS region at all (the SDK cannot even make its client)
    from aws_lambda_powertools.utilities import parameters

    from hub.domain.errors import ConfigurationError
    from hub.settings.config import KeyRef, resolve_key

    for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    parameters.base.DEFAULT_PROVIDERS.clear()
    # When a secret is read, Then the error names where the key lives, and nothing of the SDK
    with pytest.raises(ConfigurationError) as raised:
        resolve_key(KeyRef(secret="referral-hub/test/provider-keys/growsurf"))
    assert raised.value.message == "the key in secret 'referral-hub/test/provider-keys/growsurf' cannot be read"
