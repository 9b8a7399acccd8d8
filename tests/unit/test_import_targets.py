"""An import's target is checked from the configuration alone: the function that creates jobs reads no
provider key (it has no grant to any) and calls no provider."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hub.domain.errors import CampaignNotFound, Unsupported, ValidationError
from hub.flows import imports
from hub.settings.config import load_config

# Keys in Secrets Manager under names nothing can read here: reading one would fail the check.
CONFIG = """
[campaigns.gs]
provider = "growsurf"
campaign_id = "g1"
key = { secret = "referral-hub/test/provider-keys/absent-growsurf" }

[campaigns.sl]
provider = "sparkloop"
campaign_id = "s1"
key = { secret = "referral-hub/test/provider-keys/absent-sparkloop" }
"""


@pytest.fixture(autouse=True)
def _config(monkeypatch, tmp_path) -> Iterator[None]:
    path = tmp_path / "hub.toml"
    path.write_text(CONFIG)
    monkeypatch.setenv("HUB_CONFIG", str(path))
    # No AWS is reachable: a key read would raise, not answer.
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    load_config.cache_clear()
    yield
    load_config.cache_clear()


@pytest.mark.parametrize(("campaign", "operation"), [("gs", "convert"), ("gs", "redeem"), ("sl", "addParticipant")])
def test_an_operation_the_provider_has_passes_without_reading_its_key(campaign, operation):
    imports.check_target(campaign, imports.operation_of(operation))


def test_an_operation_the_provider_lacks_is_unsupported_naming_both():
    with pytest.raises(Unsupported) as raised:
        imports.check_target("sl", imports.operation_of("convert"))
    assert "SparkLoop" in raised.value.message
    assert "convert" in raised.value.message


def test_an_unknown_campaign_is_campaign_not_found():
    with pytest.raises(CampaignNotFound):
        imports.check_target("nope", imports.operation_of("convert"))


def test_a_campaign_is_required_except_for_contact_syncs():
    imports.check_target(None, imports.operation_of("syncContact"))
    with pytest.raises(ValidationError) as raised:
        imports.check_target(None, imports.operation_of("flag"))
    assert raised.value.details == [{"field": "campaign", "reason": "is required"}]
