"""Who may deliver: a delivery read from the proxy event, its proof checked, and its campaign found.

Everything here runs before the delivery is known to come from the provider, so it answers a stranger.
Every refusal is the same :class:`WebhookRefused` (401 ``UNAUTHORIZED``, one fixed message, no details):
the answer never tells which check failed, which campaigns exist or have a secret, or anything about a
secret; the cause is in the refusal's ``reason`` (one of :data:`REASONS`, never a value taken from the
request), which the ingress logs. A secret that cannot be read is :class:`WebhookUnavailable` (503,
no names: the log says where the secret lives, never its value), so the provider retries.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from hub.domain.errors import ConfigurationError, ProviderUnavailable, RouteNotFound, Unauthorized
from hub.domain.models import Provider
from hub.providers.fields import as_str
from hub.runtime import observability
from hub.settings.config import CampaignConfig, load_config, resolve_key

logger = observability.logger

#: How far a GrowSurf signature's timestamp may be from now, either way.
SIGNATURE_TOLERANCE_SECONDS = 300
#: The most digits a GrowSurf ``ts`` (milliseconds since 1970) may have: 13 until the year 2286. A longer
#: one is malformed, not a number to convert (400 digits overflow a float).
MAX_TS_DIGITS = 15

GROWSURF_HEADER = "GrowSurf-Signature"
SPARKLOOP_HEADER = "SparkLoop-Token"
VIRAL_LOOPS_QUERY = "token"

#: The one message of every refused delivery, whatever the cause.
REFUSED_MESSAGE = "the webhook delivery is not verified"
#: The message of a delivery that cannot be verified now (a secret that cannot be read).
UNAVAILABLE_MESSAGE = "the webhook delivery cannot be verified now; deliver it again later"

#: Why a delivery is refused, as logged (never answered).
REASONS = {
    "unreadable_body": "the body is not valid base64 or UTF-8",
    "unknown_campaign": "the URL names no campaign of the provider with a webhook secret",
    "unknown_campaign_id": "the payload names no campaign id of the provider with a webhook secret",
    "no_secret": "no campaign of the provider has a webhook secret",
    "missing_signature": f"the {GROWSURF_HEADER} header is missing",
    "malformed_signature": f"the {GROWSURF_HEADER} header is not ts=<milliseconds>,v=<hex>",
    "stale_signature": f"the {GROWSURF_HEADER} timestamp is more than {SIGNATURE_TOLERANCE_SECONDS} s from now",
    "wrong_signature": f"the {GROWSURF_HEADER} is not the body's signature with the campaign's secret",
    "missing_token": "the webhook token is missing",
    "wrong_token": "the webhook token is not the campaign's webhook secret",
}


class WebhookRefused(Unauthorized):
    """A delivery that does not prove itself: 401 with :data:`REFUSED_MESSAGE` and no details, whatever
    the cause; ``reason`` (a key of :data:`REASONS`) is for the log only."""

    def __init__(self, reason: str):
        super().__init__(REFUSED_MESSAGE)
        self.reason = reason

    @property
    def explanation(self) -> str:
        """What the reason means, for the log."""
        return REASONS[self.reason]


class WebhookUnavailable(ProviderUnavailable):
    """A webhook secret that cannot be read now: 503 without naming it, so the provider retries."""

    def __init__(self) -> None:
        super().__init__(UNAVAILABLE_MESSAGE)


@dataclass(frozen=True)
class Delivery:
    """One webhook request: the provider named in the path, the raw body, headers (names lowercased)
    and query parameters."""

    provider: str
    body: bytes
    headers: Mapping[str, str]
    query: Mapping[str, str]

    @classmethod
    def from_proxy(
        cls,
        provider: str,
        body: str | None,
        is_base64_encoded: bool,
        headers: Mapping[str, str] | None,
        query: Mapping[str, str] | None,
    ) -> Delivery:
        """The delivery of an API Gateway proxy event, with the body as the provider sent it (the
        bytes its signature covers). A body that cannot be read is refused like any unproven delivery."""
        try:
            raw = (
                b""
                if body is None
                else base64.b64decode(body, validate=True)
                if is_base64_encoded
                else body.encode("utf-8")
            )
        except (binascii.Error, ValueError):
            # UnicodeEncodeError (a lone surrogate) is a ValueError too: no provider signed such a body.
            raise WebhookRefused("unreadable_body") from None
        return cls(
            provider=provider,
            body=raw,
            headers={str(name).lower(): str(value) for name, value in (headers or {}).items()},
            query={str(name): str(value) for name, value in (query or {}).items()},
        )

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


def provider_named(name: str) -> Provider:
    """The provider of ``/webhooks/{provider}``; any other name is no route (404 ``ROUTE_NOT_FOUND``,
    like any path the API does not serve: the providers are the public contract, not a secret)."""
    try:
        return WEBHOOK_PROVIDERS[name]
    except KeyError:
        raise RouteNotFound(
            f"no webhook route for this provider: the providers are {', '.join(WEBHOOK_PROVIDERS)}"
        ) from None


def _text(value: str) -> bytes:
    # Any text a header can hold, even a lone surrogate, compares as bytes instead of raising.
    return value.encode("utf-8", "surrogatepass")


def growsurf_signature(secret: str, body: bytes, ts: str) -> str:
    """The hex HMAC-SHA256 GrowSurf sends as ``v``: over ``<ts>.<raw body>``, keyed with the secret."""
    return hmac.new(_text(secret), ts.encode("ascii") + b"." + body, hashlib.sha256).hexdigest()


def verify_growsurf(
    header: str | None,
    body: bytes,
    secret: str,
    *,
    now: float | None = None,
    tolerance: float = SIGNATURE_TOLERANCE_SECONDS,
) -> None:
    """Check ``GrowSurf-Signature`` (``ts=<ms>,v=<hex>``, several ``v`` allowed) against the raw body;
    :class:`WebhookRefused` with the reason (missing, malformed, stale, not matching)."""
    if not header or not header.strip():
        raise WebhookRefused("missing_signature")
    ts, signatures = _signature_parts(header)
    if abs((time.time() if now is None else now) - int(ts) / 1000) > tolerance:
        raise WebhookRefused("stale_signature")
    expected = growsurf_signature(secret, body, ts).encode("ascii")
    if not any(hmac.compare_digest(expected, _text(given.lower())) for given in signatures):
        raise WebhookRefused("wrong_signature")


def _signature_parts(header: str) -> tuple[str, list[str]]:
    """The ``ts`` (the last one given) and the non-empty ``v`` of a ``GrowSurf-Signature`` header;
    :class:`WebhookRefused` (malformed) unless ``ts`` is a number of at most :data:`MAX_TS_DIGITS`
    digits and there is at least one ``v``."""
    ts: str | None = None
    signatures: list[str] = []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "ts":
            ts = value.strip()
        elif name == "v" and value.strip():
            signatures.append(value.strip())
    if ts is None or not _is_timestamp(ts) or not signatures:
        raise WebhookRefused("malformed_signature")
    return ts, signatures


def _is_timestamp(ts: str) -> bool:
    """Whether a ``ts`` is milliseconds as GrowSurf writes them: ASCII digits, at most :data:`MAX_TS_DIGITS`."""
    # ASCII first: str.isdigit alone also takes other scripts' digits and superscripts (which int() refuses).
    return ts.isascii() and ts.isdigit() and len(ts) <= MAX_TS_DIGITS


def verify_token(given: str | None, secret: str) -> None:
    """Check a static token (SparkLoop's header, Viral Loops' URL token) against the secret."""
    if not given:
        raise WebhookRefused("missing_token")
    if not hmac.compare_digest(_text(given), _text(secret)):
        raise WebhookRefused("wrong_token")


def _growsurf_proof(delivery: Delivery, secret: str) -> None:
    verify_growsurf(delivery.header(GROWSURF_HEADER), delivery.body, secret)


def _sparkloop_proof(delivery: Delivery, secret: str) -> None:
    verify_token(delivery.header(SPARKLOOP_HEADER), secret)


def _viral_loops_proof(delivery: Delivery, secret: str) -> None:
    verify_token(delivery.query.get(VIRAL_LOOPS_QUERY), secret)


def _growsurf_campaign_id(payload: dict[str, Any]) -> str | None:
    data = payload.get("data")
    if not isinstance(data, dict):
        return None
    if payload.get("event") == "CAMPAIGN_ENDED":
        return _plain(data.get("id"))
    campaign = data.get("campaign")
    return _plain(campaign.get("id")) if isinstance(campaign, dict) else None


def _sparkloop_campaign_id(payload: dict[str, Any]) -> str | None:
    return _plain(payload.get("campaign_id"))


def _unnamed(_payload: dict[str, Any]) -> None:
    # Viral Loops' payloads name no campaign: ``?campaign=`` or the token says which it is.
    return None


@dataclass(frozen=True)
class WebhookProof:
    """How a provider proves its deliveries, and where its payload names its campaign."""

    verify: Callable[[Delivery, str], None]
    campaign_id: Callable[[dict[str, Any]], str | None]


#: The providers that send webhooks, one row each.
PROOFS: dict[Provider, WebhookProof] = {
    Provider.GROWSURF: WebhookProof(_growsurf_proof, _growsurf_campaign_id),
    Provider.VIRAL_LOOPS: WebhookProof(_viral_loops_proof, _unnamed),
    Provider.SPARKLOOP: WebhookProof(_sparkloop_proof, _sparkloop_campaign_id),
}
WEBHOOK_PROVIDERS: dict[str, Provider] = {provider.value: provider for provider in PROOFS}


def verify(provider: Provider, delivery: Delivery, secret: str) -> None:
    """Check the delivery the way its provider proves itself; :class:`WebhookRefused` when it does not."""
    PROOFS[provider].verify(delivery, secret)


def named_campaign_id(provider: Provider, payload: Any) -> str | None:
    """The provider's campaign id the payload names, if it names one."""
    return PROOFS[provider].campaign_id(payload) if isinstance(payload, dict) else None


def _plain(value: Any) -> str | None:
    # A campaign id is text or a number; anything else names no campaign.
    return as_str(value) if isinstance(value, str | int | float) and not isinstance(value, bool) else None


def _candidates(provider: Provider, delivery: Delivery, named_id: str | None) -> dict[str, CampaignConfig]:
    """The provider's campaigns with a secret that the delivery may be for: the one ``?campaign=`` names,
    else those whose ``campaign_id`` the payload names, else all of them."""
    candidates = {
        campaign: config
        for campaign, config in load_config().campaigns.items()
        if config.provider is provider and config.webhook_secret is not None
    }
    requested = delivery.query.get("campaign")
    if requested is not None:
        return _narrowed(candidates, lambda campaign, _: campaign == requested, "unknown_campaign")
    if named_id is not None:
        return _narrowed(candidates, lambda _, config: config.campaign_id == named_id, "unknown_campaign_id")
    if not candidates:
        raise WebhookRefused("no_secret")
    return candidates


def _narrowed(
    candidates: dict[str, CampaignConfig], keep: Callable[[str, CampaignConfig], bool], reason: str
) -> dict[str, CampaignConfig]:
    """The candidates ``keep`` accepts; :class:`WebhookRefused` with ``reason`` when it accepts none."""
    kept = {campaign: config for campaign, config in candidates.items() if keep(campaign, config)}
    if not kept:
        raise WebhookRefused(reason)
    return kept


def webhook_secret(campaign: str, config: CampaignConfig) -> str:
    """The campaign's webhook secret; :class:`WebhookUnavailable` (logged with where it lives) when it
    cannot be read."""
    assert config.webhook_secret is not None
    try:
        return resolve_key(config.webhook_secret)
    except ConfigurationError:
        logger.warning(
            "webhook secret unreadable",
            extra={"campaign": campaign, "secretLocation": config.webhook_secret.describe()},
        )
        raise WebhookUnavailable() from None


def campaign_for(provider: Provider, delivery: Delivery, named_id: str | None) -> str:
    """The campaign the delivery is for, once it verifies with that campaign's webhook secret.

    The first candidate (see :func:`_candidates`) whose secret verifies wins. When none does, the
    delivery is refused, unless a candidate's secret could not be read: then it may be that one's, and
    the answer is 503 so the provider delivers it again.
    """
    refusal: WebhookRefused | None = None
    unreadable: WebhookUnavailable | None = None
    for campaign, config in _candidates(provider, delivery, named_id).items():
        try:
            verify(provider, delivery, webhook_secret(campaign, config))
        except WebhookRefused as exc:
            refusal = refusal or exc
            continue
        except WebhookUnavailable as exc:
            unreadable = unreadable or exc
            continue
        return campaign
    if unreadable is not None:
        raise unreadable
    assert refusal is not None
    raise refusal
