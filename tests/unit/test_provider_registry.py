"""One registry of providers: their names, base URLs, limits and key hints are declared once, and the
tables of what each provider does (its program, its webhooks) cover exactly the providers they should."""

from __future__ import annotations

import importlib

import pytest

from hub.domain.models import Provider
from hub.domain.providers import PROVIDERS
from hub.edge import openapi
from hub.providers.program import PROVIDER_NAMES, ReferralProgram
from hub.settings.config import DEFAULT_RATE_LIMITS, base_url

REFERRAL_PROVIDERS = [Provider.GROWSURF, Provider.VIRAL_LOOPS, Provider.SPARKLOOP]


def test_every_provider_has_its_row():
    assert set(PROVIDERS) == set(Provider)
    assert {provider: info.name for provider, info in PROVIDERS.items()} == PROVIDER_NAMES
    assert {provider: info.rate_limit for provider, info in PROVIDERS.items()} == DEFAULT_RATE_LIMITS


@pytest.mark.parametrize("provider", list(Provider))
def test_a_base_url_is_the_rows_unless_its_variable_overrides_it(monkeypatch, provider):
    info = PROVIDERS[provider]
    monkeypatch.delenv(info.base_url_env, raising=False)
    assert base_url(provider) == info.base_url
    monkeypatch.setenv(info.base_url_env, "http://127.0.0.1:9/v1")
    assert base_url(provider) == "http://127.0.0.1:9/v1"


@pytest.mark.parametrize("provider", REFERRAL_PROVIDERS)
def test_every_referral_provider_has_a_program_with_its_own_doctor_probe(provider):
    # Given the provider's folder
    module = importlib.import_module(f"hub.providers.{provider.value}.program")
    programs = [
        value
        for value in vars(module).values()
        if isinstance(value, type) and issubclass(value, ReferralProgram) and value.__module__ == module.__name__
    ]
    # Then it holds one program, of that provider, with the doctor's check of its own
    assert [program.provider for program in programs] == [provider]
    assert programs[0].probe is not ReferralProgram.probe


def test_the_webhook_tables_and_the_route_enum_name_the_same_providers():
    # Given how each provider proves its deliveries, what they mean, and the route's document
    from hub.flows.deliveries.verification import PROOFS, WEBHOOK_PROVIDERS
    from hub.flows.webhooks import NORMALIZERS

    spec = openapi.document()["paths"]["/webhooks/{provider}"]["post"]
    enum = next(p["schema"]["enum"] for p in spec["parameters"] if p["name"] == "provider")
    # Then all of them are the referral providers
    assert set(PROOFS) == set(NORMALIZERS) == set(REFERRAL_PROVIDERS)
    assert sorted(WEBHOOK_PROVIDERS) == sorted(enum) == sorted(p.value for p in REFERRAL_PROVIDERS)
