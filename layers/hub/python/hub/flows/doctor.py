"""``GET /doctor``: is the hub configured so that it can work? Each finding says what to fix.

- The configuration document loads and validates (else nothing else can be checked).
- Each campaign's key is read from where the configuration says it lives, then tried against its
  provider with the provider's cheapest authenticated read: GrowSurf's get campaign, SparkLoop's list
  of subscribers with a page of one, and, since Viral Loops has no read of a campaign itself, its get
  participant for an address no one uses (its "participant not found" proves the token and the
  campaign id; "campaign not found" and 401/403 answers prove them wrong).
- The contact store's key is tried with Loops' ``GET /api-key``, which exists for that purpose.
- A configured rate limit above the provider's documented one is a warning: the hub would pace its
  calls faster than the provider allows and meet 429s.

The checks run concurrently, through the same clients, shared rate limiters and retry budget as every
other call, so a provider that hangs costs one budget, not one per campaign. No finding ever holds a
key: only where the key lives (``secret 'referral-hub/growsurf'``) is named.
"""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from hub.domain.errors import (
    CampaignNotFound,
    ConfigurationError,
    HubError,
    NotFound,
    ProviderAuthFailed,
    ProviderTimeout,
    ProviderUnavailable,
    RateLimited,
)
from hub.domain.models import Provider, Rate
from hub.domain.providers import PROVIDERS
from hub.providers.program import PROVIDER_NAMES, ReferralProgram
from hub.runtime import observability
from hub.settings.config import DEFAULT_RATE_LIMITS, HubConfig, KeyRef, load_config

logger = observability.logger

OK, WARNING, PROBLEM = "ok", "warning", "problem"


@dataclass(frozen=True)
class Finding:
    """One check's outcome: ``ok``, ``warning`` (works, but worth a look) or ``problem`` (to fix)."""

    check: str
    status: str
    message: str
    campaign: str | None = None
    provider: Provider | None = None
    code: str | None = None  # the hub's error code behind a problem, for scripts

    def to_wire(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "status": self.status,
            "message": self.message,
            "campaign": self.campaign,
            "provider": self.provider.value if self.provider else None,
            "code": self.code,
        }


@dataclass(frozen=True)
class Report:
    findings: list[Finding]

    @property
    def ok(self) -> bool:
        """True when nothing needs fixing (warnings allowed)."""
        return all(finding.status != PROBLEM for finding in self.findings)

    def to_wire(self) -> dict[str, Any]:
        counts = {status: sum(f.status == status for f in self.findings) for status in (OK, WARNING, PROBLEM)}
        return {"ok": self.ok, "summary": counts, "checks": [finding.to_wire() for finding in self.findings]}


def examine(
    *,
    program_of: Callable[[str], ReferralProgram] | None = None,
    contacts_client: Callable[[], Any] | None = None,
) -> Report:
    """Run every check; the callables default to the layer's own (``program_for``, ``loops_client``)."""
    from hub.flows.contacts import loops_client
    from hub.providers.program import program_for

    try:
        config = load_config()
    except ConfigurationError as exc:
        return Report([Finding("configuration", PROBLEM, _fix_configuration(exc.message), code=exc.code)])
    findings = [_configuration_finding(config), *_rate_findings(config)]
    checks: list[Callable[[], Finding]] = [
        functools.partial(_check_campaign, config, name, program_of or program_for) for name in config.campaigns
    ]
    checks.append(functools.partial(_check_contacts, config, contacts_client or loops_client))
    with ThreadPoolExecutor(max_workers=min(8, len(checks))) as pool:
        # Each check runs in a copy of this context, so the request's log keys follow it into its thread.
        futures = [pool.submit(contextvars.copy_context().run, _guarded, check) for check in checks]
        findings += [future.result() for future in futures]
    return Report(findings)


def _guarded(check: Callable[[], Finding]) -> Finding:
    try:
        return check()
    except Exception:  # a check that breaks must not hide the others' findings
        logger.exception("doctor check failed unexpectedly")
        return Finding("unexpected", PROBLEM, "a check failed unexpectedly; the error is in the hub's log")


def _fix_configuration(message: str) -> str:
    return f"{message}. Fix the configuration document (see config.example.toml); nothing else can be checked"


def _configuration_finding(config: HubConfig) -> Finding:
    if not config.campaigns:
        return Finding(
            "configuration",
            PROBLEM,
            "no campaign is configured: add a [campaigns.<name>] section naming its provider, campaign_id and key",
        )
    names = ", ".join(f"{name} ({PROVIDER_NAMES[c.provider]})" for name, c in sorted(config.campaigns.items()))
    return Finding("configuration", OK, f"the configuration is valid; campaigns: {names}")


def _rate_findings(config: HubConfig) -> list[Finding]:
    findings = []
    for provider, documented in DEFAULT_RATE_LIMITS.items():
        rate = config.rate(provider)
        if rate.per_second > documented.per_second:
            findings.append(
                Finding(
                    f"rate limit {provider.value}",
                    WARNING,
                    f"[providers.{provider.value}] rate_limit allows {_windows(rate)}, above"
                    f" {PROVIDER_NAMES[provider]}'s documented {_windows(documented)}:"
                    " expect 429s; remove it or lower it",
                    provider=provider,
                )
            )
    return findings


def _windows(rate: Rate) -> str:
    """A limit's windows as a phrase: "30 requests per 5 s, 200 per 60 s"."""
    first, *more = (f"{w.requests:,} per {w.per_seconds:,g} s" for w in rate.windows)
    return ", ".join([first.replace(" per ", " requests per ", 1), *more])


def _check_campaign(config: HubConfig, name: str, program_of: Callable[[str], ReferralProgram]) -> Finding:
    campaign = config.campaigns[name]
    provider, label = campaign.provider, PROVIDER_NAMES[campaign.provider]
    check = f"campaign {name}"
    try:
        program = program_of(name)
    except HubError as exc:
        return _problem(check, exc, provider, campaign.key, name)
    try:
        detail = program.probe()
    except CampaignNotFound:
        return Finding(
            check,
            PROBLEM,
            f"{label} accepted the key but knows no campaign '{campaign.campaign_id}': fix campaign_id in"
            f" [campaigns.{name}] (the id {label} shows for the campaign)",
            name,
            provider,
            CampaignNotFound.code,
        )
    except NotFound as exc:
        if not program.probe_not_found_is_campaign:
            return _problem(check, exc, provider, campaign.key, name)
        return Finding(
            check,
            PROBLEM,
            f"{label} knows no campaign '{campaign.campaign_id}' for this key ({exc.message}): fix campaign_id in"
            f" [campaigns.{name}], or use the key of the account that owns the campaign",
            name,
            provider,
            exc.code,
        )
    except HubError as exc:
        return _problem(check, exc, provider, campaign.key, name)
    return Finding(check, OK, f"{label} accepted the key and campaign '{campaign.campaign_id}'{detail}", name, provider)


def _check_contacts(config: HubConfig, client_of: Callable[[], Any]) -> Finding:
    if config.contacts is None:
        return Finding(
            "contacts",
            PROBLEM,
            'no contact store is configured: add a [contacts] section with provider = "loops" and its key;'
            " contact syncs fail without it",
            provider=Provider.LOOPS,
        )
    try:
        answer = client_of().get_api_key()
    except HubError as exc:
        return _problem("contacts", exc, Provider.LOOPS, config.contacts.key, None)
    team = answer.get("teamName") if isinstance(answer, dict) else None
    detail = f" (team '{team}')" if isinstance(team, str) and team else ""
    return Finding("contacts", OK, f"Loops accepted the key{detail}", provider=Provider.LOOPS)


def _problem(check: str, exc: HubError, provider: Provider, key: KeyRef, campaign: str | None) -> Finding:
    """A failed check in words a user can act on."""
    label = PROVIDER_NAMES[provider]
    section = f"[campaigns.{campaign}]" if campaign else "[contacts]"
    if isinstance(exc, ProviderAuthFailed):
        message = (
            f"{label} refused the key (from {key.describe()}): put {PROVIDERS[provider].key_hint} there;"
            " a rotated key takes effect within five minutes"
        )
    elif isinstance(exc, ConfigurationError):
        message = (
            f"{exc.message}: create it, or fix the key's location in {section}; in AWS the functions may read"
            " only secrets under the ProviderKeysPrefix, ContactsKeyPrefix and WebhookSecretsPrefix stack parameters"
        )
    elif isinstance(exc, ProviderUnavailable | ProviderTimeout):
        message = (
            f"{label} could not be reached ({exc.message}); if {PROVIDERS[provider].base_url_env} is set, check it,"
            " else retry later"
        )
    elif isinstance(exc, RateLimited):
        message = f"{label} is rate limiting the hub right now, so the key could not be checked; retry later"
    else:
        message = f"{label} answered the check with an error: {exc.message}"
    return Finding(check, PROBLEM, message, campaign, provider, exc.code)
