"""The providers, each declared once: its name as people read it, where its API lives (the default
base URL and the variable that overrides it), its documented rate limit, and what its key is.

The configuration (:mod:`hub.settings.config`), the programs' 501s and 422s
(:mod:`hub.providers.program`) and the doctor (:mod:`hub.flows.doctor`) read this registry. What a
provider *does* lives in its folder, ``hub/providers/<provider>/``: its client and its program, whose
``probe`` is the doctor's check. A provider that sends webhooks has a row in each webhook table: how
it proves a delivery and where its payload names its campaign
(:data:`hub.flows.deliveries.verification.PROOFS`), and what a delivery means
(:data:`hub.flows.webhooks.NORMALIZERS`, its normalizer in ``hub/flows/deliveries/``). Adding a
provider is its folder, one row here and, if it sends webhooks, those two rows.
"""

from __future__ import annotations

from dataclasses import dataclass

from hub.domain.models import Provider, Rate, Window


@dataclass(frozen=True)
class ProviderInfo:
    provider: Provider
    #: how messages, 501s and the doctor name it
    name: str
    #: its API's URL, up to and including the version (SPEC)
    base_url: str
    #: the environment variable that overrides ``base_url`` (a sandbox, a proxy)
    base_url_env: str
    #: its documented limit, the default of ``[providers.<provider>] rate_limit``
    rate_limit: Rate
    #: what the doctor asks for when the key is refused
    key_hint: str


PROVIDERS: dict[Provider, ProviderInfo] = {
    info.provider: info
    for info in (
        ProviderInfo(
            Provider.VIRAL_LOOPS,
            "Viral Loops",
            "https://app.viral-loops.com/api",
            "VIRAL_LOOPS_API_URL",
            Rate(requests=300, per_seconds=60),
            "the campaign's secret Viral Loops API token (not its public token)",
        ),
        ProviderInfo(
            Provider.GROWSURF,
            "GrowSurf",
            "https://api.growsurf.com/v2",
            "GROWSURF_API_URL",
            Rate(
                requests=30,
                per_seconds=5,
                concurrency=3,
                more=(Window(requests=200, per_seconds=60), Window(requests=10_000, per_seconds=3_600)),
            ),
            "a GrowSurf API key",
        ),
        ProviderInfo(
            Provider.SPARKLOOP,
            "SparkLoop",
            "https://api.sparkloop.app/v1",
            "SPARKLOOP_API_URL",
            Rate(requests=60, per_seconds=60),
            "a SparkLoop API key",
        ),
        ProviderInfo(
            Provider.LOOPS,
            "Loops",
            "https://app.loops.so/api/v1",
            "LOOPS_API_URL",
            Rate(requests=10, per_seconds=1),
            "a Loops API key",
        ),
    )
}
