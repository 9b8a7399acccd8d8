"""Provider webhooks in: verified, normalized, deduplicated, and queued as Loops contact syncs.

``POST /webhooks/{provider}`` takes no API key (a provider cannot send it); each delivery proves itself
instead, with the campaign's ``webhook_secret`` (a key reference in the configuration, resolved like the
provider keys). A delivery that does not verify is answered 401 ``UNAUTHORIZED`` and nothing happens; a
provider none of whose campaigns has a secret refuses every delivery.

- GrowSurf signs: ``GrowSurf-Signature: ts=<ms>,v=<hex>`` where ``v`` is HMAC-SHA256(secret,
  ``<ts>.<raw body>``); ``ts`` must be within :data:`SIGNATURE_TOLERANCE_SECONDS` of now, so a captured
  delivery cannot be replayed later.
- SparkLoop sends its static authentication token in the ``SparkLoop-Token`` header.
- Viral Loops signs nothing: the URL the operator registers carries the secret as ``?token=``.

Every comparison is constant-time (:func:`hmac.compare_digest`).

Which campaign a delivery is for: the ``campaign`` query parameter of the registered URL when it has
one; else the campaign whose ``campaign_id`` the payload names (GrowSurf ``data.campaign.id``, or
``data.id`` for ``CAMPAIGN_ENDED``; SparkLoop ``campaign_id``); else, as for Viral Loops (whose payloads
name no campaign), the campaign of that provider whose secret verifies the delivery. A verified
delivery naming another campaign than the one its URL names is acknowledged and ignored.

Events are normalized into five kinds (:class:`EventKind`), each about one contact; the value of a kind
is the name of the Loops event sent for it. The fields relied on, per provider:

- GrowSurf (documented samples): ``event`` and ``createdAt``; ``NEW_PARTICIPANT_ADDED``: ``data`` is the
  participant (``id``, ``email``, names, ``shareUrl``, ``referralCount``, ``rank``, ``referrer``);
  ``PARTICIPANT_REACHED_A_GOAL``: ``data.participant`` (with ``referee`` or ``referrer``) and
  ``data.reward`` (``id``, ``title``, ``approved``, ``isReferrer``, ``couponCode``): a reward earned by
  the participant, and the referral that unlocked it as converted for the referrer. Approving a reward
  emits the goal again with ``data.reward.approved`` false (document 001), so a goal showing no
  approval has its reward's state read back from GrowSurf: pending, approved, or fulfilled (the hub's
  own redeem approves with ``fulfill``), the last a reward redeemed; each state is one event;
  ``PARTICIPANT_FRAUD_STATUS_UPDATED``: ``data.participant.fraudRiskLevel`` and ``fraudReasonCode``.
  Other events (``CAMPAIGN_ENDED``, the affiliate ones) are acknowledged and ignored.
- SparkLoop (documented samples): ``type`` and ``campaign_id``; ``new_referral``: ``subscriber`` (a new
  participant) and ``referrer`` (credited at once: SparkLoop has no conversion step);
  ``reward_unlocked`` and ``reward_redeemed``: ``subscriber``, ``reward`` (``id``, ``name``),
  ``referrals``, ``coupon_code``. Subscribers carry ``id``, ``email``, ``first_name``/``name``,
  ``referral_code``, ``referral_link``, ``tot_referrals``. Partner, lead and ``sync_subscriber``
  events are acknowledged and ignored.
- Viral Loops (only ``participation`` has a published sample): ``type``, ``user`` and ``referrer``
  (``email``, ``firstname``, ``lastname``, ``referralCode``, ``createdAt``). The hub assumes the same
  envelope for ``conversion`` (``user`` converted, ``referrer`` credited), ``milestone`` (``user``
  earned ``reward``: ``id``, ``name``) and ``reward_redeemed``; anything else is acknowledged and
  ignored, and every ignored event is logged with its type.

Deduplication: each normalized event runs once per key made of the provider, the campaign, the kind and
the event's identity (the providers send no delivery id): a replayed delivery, or the second copy
GrowSurf sends of a double-sided goal (its conversion is the same one; the reward of the other side is
not), is answered 200 without being queued again. Keys are kept for :data:`DEDUP_WINDOW_SECONDS`,
longer than GrowSurf's days of retries.

Each new event becomes one ``syncContact`` row (contact properties and a Loops event) on the syncContact
queue, under one import job per delivery; the queue's consumer upserts the contact and sends the event
with an ``Idempotency-Key``. The answer is 200 (SparkLoop counts any other status as a failure) with the
job id, the events queued and the duplicates.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import partial
from typing import Any

import boto3
from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ValidationError as PydanticValidationError

from . import idempotency, observability
from .config import load_config, resolve_key
from .contacts import referral_properties
from .errors import MalformedRequest, NotFound, ProviderUnavailable, Unauthorized, ValidationError
from .jobs import JobStore
from .models import Participant, Provider, ReferrerRef
from .programs import PROVIDER_NAMES
from .providers import growsurf as growsurf_api
from .providers.fields import as_int, as_str, parse_time
from .providers.sparkloop import split_name
from .schemas import ContactEvent, ContactSyncRequest, check_email, field_errors

logger = observability.logger
metrics = Metrics()

#: How far a GrowSurf signature's timestamp may be from now, either way.
SIGNATURE_TOLERANCE_SECONDS = 300
#: How long an event's identity is remembered (GrowSurf retries a failed delivery for several days).
DEDUP_WINDOW_SECONDS = 7 * 24 * 3600

WEBHOOK_PROVIDERS: dict[str, Provider] = {
    provider.value: provider for provider in (Provider.GROWSURF, Provider.VIRAL_LOOPS, Provider.SPARKLOOP)
}
GROWSURF_HEADER = "GrowSurf-Signature"
SPARKLOOP_HEADER = "SparkLoop-Token"
VIRAL_LOOPS_QUERY = "token"

SYNC_CONTACT = "syncContact"
_NAME_LIMIT = 256
#: Where the providers' webhook participants give their referral count.
_COUNT_FIELDS = ("referralCount", "referralsCount", "tot_referrals")


class EventKind(StrEnum):
    """A normalized webhook event; the value is the name of the Loops event sent for it."""

    PARTICIPANT_ADDED = "referralParticipantAdded"
    REFERRAL_CONVERTED = "referralConverted"
    REWARD_EARNED = "referralRewardEarned"
    REWARD_REDEEMED = "referralRewardRedeemed"
    FRAUD_STATUS_CHANGED = "referralFraudStatusChanged"


@dataclass(frozen=True)
class WebhookEvent:
    """One normalized event: what makes it the same event in every delivery, and the contact sync
    (properties and Loops event) it becomes."""

    kind: EventKind
    identity: tuple[str, ...]
    contact: ContactSyncRequest

    def dedup_key(self, provider: Provider, campaign: str) -> str:
        return "#".join(("webhook", provider.value, campaign, self.kind.value, *self.identity))


@dataclass(frozen=True)
class Normalized:
    """A delivery's payload as the hub reads it: the provider's own event type, the events to act on,
    and why there are none when so."""

    type: str
    events: list[WebhookEvent]
    ignored: str | None = None


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
        bytes its signature covers)."""
        try:
            raw = b"" if body is None else base64.b64decode(body) if is_base64_encoded else body.encode("utf-8")
        except (binascii.Error, ValueError):
            raise MalformedRequest(
                "the webhook body cannot be read", details=[{"field": "body", "reason": "is not valid base64"}]
            ) from None
        return cls(
            provider=provider,
            body=raw,
            headers={name.lower(): value for name, value in (headers or {}).items()},
            query=dict(query or {}),
        )

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] | None = None


def provider_named(name: str) -> Provider:
    """The provider of ``/webhooks/{provider}``; any other name is no route."""
    try:
        return WEBHOOK_PROVIDERS[name]
    except KeyError:
        raise NotFound(
            f"no webhook route for '{name}': the providers are {', '.join(WEBHOOK_PROVIDERS)}",
            code="ROUTE_NOT_FOUND",
        ) from None


# -- verification ------------------------------------------------------------------------------------


def growsurf_signature(secret: str, body: bytes, ts: str) -> str:
    """The hex HMAC-SHA256 GrowSurf sends as ``v``: over ``<ts>.<raw body>``, keyed with the secret."""
    return hmac.new(secret.encode("utf-8"), ts.encode("ascii") + b"." + body, hashlib.sha256).hexdigest()


def _unauthorized(message: str, field: str, reason: str) -> Unauthorized:
    return Unauthorized(message, details=[{"field": field, "reason": reason}])


def verify_growsurf(
    header: str | None,
    body: bytes,
    secret: str,
    *,
    now: float | None = None,
    tolerance: float = SIGNATURE_TOLERANCE_SECONDS,
) -> None:
    """Check ``GrowSurf-Signature`` (``ts=<ms>,v=<hex>``, several ``v`` allowed) against the raw body;
    :class:`Unauthorized` saying what is wrong (missing, malformed, stale, not matching)."""
    if not header or not header.strip():
        raise _unauthorized(f"the {GROWSURF_HEADER} header is missing", GROWSURF_HEADER, "is required")
    ts: str | None = None
    signatures: list[str] = []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "ts":
            ts = value.strip()
        elif name == "v" and value.strip():
            signatures.append(value.strip())
    if ts is None or not ts.isdigit() or not ts.isascii() or not signatures:
        raise _unauthorized(
            f"the {GROWSURF_HEADER} header is malformed", GROWSURF_HEADER, "must be ts=<milliseconds>,v=<hex>"
        )
    age = abs((time.time() if now is None else now) - int(ts) / 1000)
    if age > tolerance:
        raise _unauthorized(
            f"the {GROWSURF_HEADER} timestamp is too far from now",
            GROWSURF_HEADER,
            f"ts must be within {tolerance:g} seconds of the time of delivery",
        )
    expected = growsurf_signature(secret, body, ts).encode("ascii")
    if not any(hmac.compare_digest(expected, given.lower().encode("utf-8")) for given in signatures):
        raise _unauthorized(
            f"the {GROWSURF_HEADER} does not match the body", GROWSURF_HEADER, "is not this body's signature"
        )


def verify_token(given: str | None, secret: str, name: str) -> None:
    """Check a static token (SparkLoop's header, Viral Loops' URL token) against the secret."""
    if not given:
        raise _unauthorized(f"the webhook token '{name}' is missing", name, "is required")
    if not hmac.compare_digest(given.encode("utf-8"), secret.encode("utf-8")):
        raise _unauthorized(f"the webhook token '{name}' is wrong", name, "is not the campaign's webhook secret")


def verify(provider: Provider, delivery: Delivery, secret: str) -> None:
    """Check the delivery the way its provider proves itself; :class:`Unauthorized` when it does not."""
    if provider is Provider.GROWSURF:
        verify_growsurf(delivery.header(GROWSURF_HEADER), delivery.body, secret)
    elif provider is Provider.SPARKLOOP:
        verify_token(delivery.header(SPARKLOOP_HEADER), secret, SPARKLOOP_HEADER)
    else:
        verify_token(delivery.query.get(VIRAL_LOOPS_QUERY), secret, VIRAL_LOOPS_QUERY)


def named_campaign_id(provider: Provider, payload: Any) -> str | None:
    """The provider's campaign id the payload names, if it names one."""
    if not isinstance(payload, dict):
        return None
    if provider is Provider.GROWSURF:
        data = payload.get("data")
        if not isinstance(data, dict):
            return None
        if payload.get("event") == "CAMPAIGN_ENDED":
            return as_str(data.get("id"))
        campaign = data.get("campaign")
        return as_str(campaign.get("id")) if isinstance(campaign, dict) else None
    if provider is Provider.SPARKLOOP:
        return as_str(payload.get("campaign_id"))
    return None


def campaign_for(provider: Provider, delivery: Delivery, named_id: str | None) -> str:
    """The campaign the delivery is for, once it verifies with that campaign's webhook secret.

    The candidates are the provider's campaigns with a secret: the one ``?campaign=`` names, else those
    whose ``campaign_id`` the payload names, else all of them; the first whose secret verifies wins.
    """
    name = PROVIDER_NAMES[provider]
    candidates = {
        campaign: config
        for campaign, config in load_config().campaigns.items()
        if config.provider is provider and config.webhook_secret is not None
    }
    requested = delivery.query.get("campaign")
    if requested is not None:
        candidates = {campaign: config for campaign, config in candidates.items() if campaign == requested}
        if not candidates:
            raise _unauthorized(
                f"no {name} campaign named '{requested}' has a webhook secret configured",
                "campaign",
                "must name a campaign of this provider with a webhook_secret",
            )
    elif named_id is not None:
        candidates = {campaign: config for campaign, config in candidates.items() if config.campaign_id == named_id}
        if not candidates:
            raise _unauthorized(
                f"no {name} campaign with campaign id '{named_id}' has a webhook secret configured",
                "campaign",
                "add the campaign, with a webhook_secret, to the configuration",
            )
    if not candidates:
        raise _unauthorized(
            f"no {name} campaign has a webhook secret configured, so no delivery can be verified",
            "campaign",
            "give a campaign of this provider a webhook_secret",
        )
    failure: Unauthorized | None = None
    for campaign, config in candidates.items():
        assert config.webhook_secret is not None
        try:
            verify(provider, delivery, resolve_key(config.webhook_secret))
        except Unauthorized as exc:
            failure = failure or exc
            continue
        return campaign
    assert failure is not None
    raise failure


def parse_payload(body: bytes) -> dict[str, Any]:
    """The delivery's JSON object; a body that is not one is a 400 (after verification only)."""
    if not body:
        raise MalformedRequest("the webhook needs a JSON body", details=[{"field": "body", "reason": "is empty"}])
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise MalformedRequest(
            "the webhook body is not valid JSON", details=[{"field": "body", "reason": str(exc)}]
        ) from None
    if not isinstance(data, dict):
        raise MalformedRequest(
            "the webhook body must be a JSON object", details=[{"field": "body", "reason": "is not an object"}]
        )
    return data


def _loose_json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return None


# -- normalization -----------------------------------------------------------------------------------


def _invalid(field: str, reason: str) -> ValidationError:
    return ValidationError(
        "the webhook payload lacks what the hub needs to act on it", details=[{"field": field, "reason": reason}]
    )


def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _invalid(where, "must be an object")
    return value


def _email(data: dict[str, Any], where: str) -> str:
    value = data.get("email")
    if not isinstance(value, str) or not value.strip():
        raise _invalid(f"{where}.email", "is required")
    try:
        return check_email(value)
    except ValueError as exc:
        raise _invalid(f"{where}.email", str(exc)) from None


def _name(value: Any) -> str | None:
    text = as_str(value)
    if text is None:
        return None
    return text.strip()[:_NAME_LIMIT] or None


def _ident(participant: Participant) -> str:
    return participant.id or participant.email.lower()


def _flat(values: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}


def _event(
    kind: EventKind,
    participant: Participant,
    identity: tuple[str, ...],
    *,
    details: Mapping[str, Any] | None = None,
    properties: Mapping[str, Any] | None = None,
) -> WebhookEvent:
    """The event about ``participant``: its referral stats (the same properties ``/contacts/sync``
    copies) and ``properties`` on the contact, and the Loops event with ``details``."""
    contact_properties = referral_properties(participant)
    if not any(participant.provider_data.get(name) is not None for name in _COUNT_FIELDS):
        # The payload does not say: leave the contact's count as it is rather than zero it.
        del contact_properties["referralCount"]
    contact_properties.update(properties or {})
    event_properties = {
        "referralCampaign": participant.campaign,
        "referralProvider": participant.provider.value,
        **(details or {}),
    }
    try:
        contact = ContactSyncRequest(
            email=participant.email,
            first_name=participant.first_name,
            last_name=participant.last_name,
            properties=_flat(contact_properties),
            event=ContactEvent(name=kind.value, properties=_flat(event_properties)),
        )
    except PydanticValidationError as exc:
        raise ValidationError("the webhook payload cannot become a contact sync", details=field_errors(exc)) from None
    return WebhookEvent(kind, identity, contact)


def _growsurf_participant(data: dict[str, Any], where: str, campaign: str) -> Participant:
    email = _email(data, where)
    participant = growsurf_api.normalize_participant(data, campaign)
    return participant.model_copy(
        update={"email": email, "first_name": _name(data.get("firstName")), "last_name": _name(data.get("lastName"))}
    )


def normalize_growsurf(payload: dict[str, Any], campaign: str, lookup: RewardLookup | None = None) -> Normalized:
    """GrowSurf's ``{event, createdAt, data}`` as the hub's events (see the module's notes).

    ``lookup`` reads a reward's state at GrowSurf when a goal's payload shows no approval (see
    :func:`_growsurf_goal`); without it such a goal is taken as pending."""
    kind = as_str(payload.get("event")) or ""
    handlers: dict[str, Callable[[dict[str, Any], dict[str, Any], str], list[WebhookEvent]]] = {
        "NEW_PARTICIPANT_ADDED": _growsurf_added,
        "PARTICIPANT_REACHED_A_GOAL": partial(_growsurf_goal, lookup=lookup),
        "PARTICIPANT_FRAUD_STATUS_UPDATED": _growsurf_fraud,
    }
    if kind not in handlers:
        return Normalized(kind, [], f"GrowSurf's '{kind or '(no event)'}' is not an event the hub acts on")
    return Normalized(kind, handlers[kind](payload, _object(payload.get("data"), "data"), campaign))


def _growsurf_added(payload: dict[str, Any], data: dict[str, Any], campaign: str) -> list[WebhookEvent]:
    added = _growsurf_participant(data, "data", campaign)
    details = {"referredByEmail": added.referrer.email if added.referrer else None}
    return [_event(EventKind.PARTICIPANT_ADDED, added, (_ident(added),), details=details)]


def _growsurf_fraud(payload: dict[str, Any], data: dict[str, Any], campaign: str) -> list[WebhookEvent]:
    participant = _object(data.get("participant"), "data.participant")
    flagged = _growsurf_participant(participant, "data.participant", campaign)
    level = as_str(participant.get("fraudRiskLevel"))
    # A participant may move between levels several times: each change (and time) is its own event.
    identity = (_ident(flagged), level or "", str(payload.get("createdAt") or ""))
    details: dict[str, Any] = {
        "fraudRiskLevel": level,
        "fraudReasonCode": as_str(participant.get("fraudReasonCode")),
        "flagged": flagged.flagged,
    }
    properties: dict[str, Any] = {"referralFraudRiskLevel": level, "referralFlagged": flagged.flagged}
    return [_event(EventKind.FRAUD_STATUS_CHANGED, flagged, identity, details=details, properties=properties)]


#: The ParticipantReward as GrowSurf has it now, given the earner's email and the participant reward id;
#: None when GrowSurf has no such reward (any more). The ingress reads it with the campaign's client.
RewardLookup = Callable[[str, str], "dict[str, Any] | None"]


def _growsurf_reward_state(reward: Mapping[str, Any]) -> str:
    """``fulfilled``, ``approved`` or ``pending``: what a ParticipantReward (or a goal's ``data.reward``) says."""
    if str(reward.get("status") or "").upper() == "FULFILLED" or reward.get("isFulfilled") is True:
        return "fulfilled"
    if reward.get("fulfilledAt"):
        return "fulfilled"
    if reward.get("approved") is True or reward.get("approvedAt"):
        return "approved"
    return "pending"


def _growsurf_goal(
    payload: dict[str, Any], data: dict[str, Any], campaign: str, lookup: RewardLookup | None = None
) -> list[WebhookEvent]:
    participant = _object(data.get("participant"), "data.participant")
    earner = _growsurf_participant(participant, "data.participant", campaign)
    reward = _object(data.get("reward"), "data.reward")
    reward_id = as_str(reward.get("id"))
    if reward_id is None:
        raise _invalid("data.reward.id", "is required")
    state = _growsurf_reward_state(reward)
    if state == "pending" and lookup is not None:
        # Approving a reward emits this event again with ``data.reward.approved`` false (document 001,
        # Approve Participant Reward), so a payload that shows no approval cannot tell a goal just
        # reached from one just approved (or approved and fulfilled by the hub's own redeem): the
        # reward's state at GrowSurf says which.
        current = lookup(earner.email, reward_id)
        if current is not None:
            state = _growsurf_reward_state(current)
    is_referrer = reward.get("isReferrer") is True
    details: dict[str, Any] = {
        "rewardId": reward_id,
        "rewardName": as_str(reward.get("title")) or as_str(reward.get("description")),
        "rewardStatus": "redeemed" if state == "fulfilled" else state,
        "couponCode": as_str(reward.get("couponCode")),
        "isReferrer": is_referrer,
    }
    # One event per state the reward reaches: a redelivery, or a copy emitted for a state already seen
    # (a pending goal delivered after the approval), is the same event and is deduplicated.
    kind = EventKind.REWARD_REDEEMED if state == "fulfilled" else EventKind.REWARD_EARNED
    events = [_event(kind, earner, (_ident(earner), reward_id, state), details=details)]
    # The referral that unlocked the reward: the same conversion in every copy and state of the goal.
    side = "referee" if is_referrer else "referrer"
    other = participant.get(side)
    if isinstance(other, dict) and other.get("email"):
        counterpart = _growsurf_participant(other, f"data.participant.{side}", campaign)
        referrer, referee = (earner, counterpart) if is_referrer else (counterpart, earner)
        converted = {"referredEmail": referee.email, "referredFirstName": referee.first_name}
        identity = (_ident(referrer), _ident(referee))
        events.append(_event(EventKind.REFERRAL_CONVERTED, referrer, identity, details=converted))
    return events


def _sparkloop_participant(
    data: dict[str, Any], where: str, campaign: str, referrer: Participant | None = None
) -> Participant:
    email = _email(data, where)
    first, last = split_name(data.get("name"))
    return Participant(
        id=as_str(data.get("id")),
        email=email,
        first_name=_name(data.get("first_name")) or _name(first),
        last_name=_name(last),
        referral_code=as_str(data.get("referral_code")),
        share_url=as_str(data.get("referral_link")),
        referral_count=as_int(data.get("tot_referrals"), 0) or 0,
        referrer=ReferrerRef(email=referrer.email, referral_code=referrer.referral_code) if referrer else None,
        created_at=parse_time(data.get("created_at")),
        campaign=campaign,
        provider=Provider.SPARKLOOP,
        provider_data=data,
    )


def normalize_sparkloop(payload: dict[str, Any], campaign: str) -> Normalized:
    """SparkLoop's ``{type, campaign_id, subscriber, ...}`` as the hub's events (see the module's notes)."""
    kind = as_str(payload.get("type")) or ""
    if kind == "new_referral":
        return Normalized(kind, _sparkloop_referral(payload, campaign))
    if kind in ("reward_unlocked", "reward_redeemed"):
        return Normalized(kind, [_sparkloop_reward(kind, payload, campaign)])
    return Normalized(kind, [], f"SparkLoop's '{kind or '(no type)'}' is not an event the hub acts on")


def _sparkloop_referral(payload: dict[str, Any], campaign: str) -> list[WebhookEvent]:
    referrer_data = payload.get("referrer")
    referrer: Participant | None = None
    if isinstance(referrer_data, dict):
        referrer = _sparkloop_participant(referrer_data, "referrer", campaign)
    added = _sparkloop_participant(_object(payload.get("subscriber"), "subscriber"), "subscriber", campaign, referrer)
    details = {"referredByEmail": referrer.email if referrer else None}
    events = [_event(EventKind.PARTICIPANT_ADDED, added, (_ident(added),), details=details)]
    if referrer is not None:
        # SparkLoop has no conversion step: a referral counts for the referrer when the friend subscribes.
        converted = {"referredEmail": added.email, "referredFirstName": added.first_name}
        identity = (_ident(referrer), _ident(added))
        events.append(_event(EventKind.REFERRAL_CONVERTED, referrer, identity, details=converted))
    return events


def _sparkloop_reward(kind: str, payload: dict[str, Any], campaign: str) -> WebhookEvent:
    participant = _sparkloop_participant(_object(payload.get("subscriber"), "subscriber"), "subscriber", campaign)
    reward = _object(payload.get("reward"), "reward")
    reward_id = as_str(reward.get("id"))
    if reward_id is None:
        raise _invalid("reward.id", "is required")
    # A recurring reward is unlocked again at a higher referral count: the count tells them apart.
    referrals = as_str(payload.get("referrals")) or as_str(reward.get("referrals")) or ""
    details: dict[str, Any] = {
        "rewardId": reward_id,
        "rewardName": as_str(reward.get("name")),
        "couponCode": as_str(payload.get("coupon_code")),
    }
    if kind == "reward_unlocked":
        details["rewardStatus"] = "approved"
        identity: tuple[str, ...] = (_ident(participant), reward_id, referrals)
        return _event(EventKind.REWARD_EARNED, participant, identity, details=details)
    details.update(rewardStatus="redeemed", rewardVariant=as_str(payload.get("reward_variant_name")))
    identity = (_ident(participant), reward_id, referrals, as_str(payload.get("reward_variant_sku")) or "")
    return _event(EventKind.REWARD_REDEEMED, participant, identity, details=details)


def _viral_loops_participant(
    data: dict[str, Any], where: str, campaign: str, referrer: Participant | None = None
) -> Participant:
    email = _email(data, where)
    return Participant(
        id=as_str(data.get("id")),
        email=email,
        first_name=_name(data.get("firstname", data.get("firstName"))),
        last_name=_name(data.get("lastname", data.get("lastName"))),
        referral_code=as_str(data.get("referralCode")),
        share_url=as_str(data.get("shareUrl")),
        referral_count=as_int(data.get("referralCount", data.get("referralsCount")), 0) or 0,
        referrer=ReferrerRef(email=referrer.email, referral_code=referrer.referral_code) if referrer else None,
        created_at=parse_time(data.get("createdAt")),
        campaign=campaign,
        provider=Provider.VIRAL_LOOPS,
        provider_data=data,
    )


def normalize_viral_loops(payload: dict[str, Any], campaign: str) -> Normalized:
    """Viral Loops' ``{type, user, referrer}`` as the hub's events (see the module's notes)."""
    kind = as_str(payload.get("type")) or ""
    if kind not in ("participation", "conversion", "milestone", "reward_redeemed"):
        return Normalized(kind, [], f"Viral Loops' '{kind or '(no type)'}' is not an event the hub acts on")
    referrer_data = payload.get("referrer")
    referrer = None
    if isinstance(referrer_data, dict) and referrer_data.get("email"):
        referrer = _viral_loops_participant(referrer_data, "referrer", campaign)
    user_data = _object(payload.get("user"), "user")
    if kind == "participation":
        user = _viral_loops_participant(user_data, "user", campaign, referrer)
        details = {"referredByEmail": referrer.email if referrer else None}
        return Normalized(kind, [_event(EventKind.PARTICIPANT_ADDED, user, (_ident(user),), details=details)])
    user = _viral_loops_participant(user_data, "user", campaign)
    if kind == "conversion":
        if referrer is None:
            return Normalized(kind, [], "a Viral Loops conversion without a referrer credits no one")
        details = {"referredEmail": user.email, "referredFirstName": user.first_name}
        identity = (_ident(referrer), _ident(user))
        return Normalized(kind, [_event(EventKind.REFERRAL_CONVERTED, referrer, identity, details=details)])
    reward = payload.get("reward")
    reward = reward if isinstance(reward, dict) else {}
    # No published sample names a reward id: without one, the reward as sent identifies the event.
    reward_id = (
        as_str(reward.get("id"))
        or hashlib.sha256(json.dumps(reward, sort_keys=True, default=str).encode("utf-8")).hexdigest()[:24]
    )
    earned = kind == "milestone"
    details = {
        "rewardId": reward_id,
        "rewardName": as_str(reward.get("name")),
        "rewardStatus": "pending" if earned else "redeemed",
    }
    event_kind = EventKind.REWARD_EARNED if earned else EventKind.REWARD_REDEEMED
    return Normalized(kind, [_event(event_kind, user, (_ident(user), reward_id), details=details)])


NORMALIZERS = {
    Provider.GROWSURF: normalize_growsurf,
    Provider.SPARKLOOP: normalize_sparkloop,
    Provider.VIRAL_LOOPS: normalize_viral_loops,
}


def normalize(
    provider: Provider, payload: dict[str, Any], campaign: str, *, lookup: RewardLookup | None = None
) -> Normalized:
    """The delivery's events (none for an event the hub does not act on); a payload missing what an
    event needs is a VALIDATION_ERROR naming the field. ``lookup`` is GrowSurf's reward read-back."""
    if provider is Provider.GROWSURF:
        return normalize_growsurf(payload, campaign, lookup)
    return NORMALIZERS[provider](payload, campaign)


def growsurf_reward_lookup(campaign: str) -> RewardLookup:
    """Reads a participant reward from the campaign's GrowSurf (the hub's own client and key)."""

    def lookup(email: str, participant_reward_id: str) -> dict[str, Any] | None:
        from .programs import program_for

        program = program_for(campaign)
        find = getattr(program, "reward", None)
        if find is None:
            return None
        try:
            reward = find(email, participant_reward_id)
        except NotFound:
            # Removed since: the payload is all there is. A provider failure propagates instead, so
            # the delivery fails and GrowSurf retries it.
            return None
        return reward.provider_data if reward is not None else None

    return lookup


# -- the ingress -------------------------------------------------------------------------------------
# The queue plumbing (hub.bulk, hub.imports) is imported where a verified delivery is queued, so that
# verification and normalization import on their own: bulk's Powertools Metrics take their namespace
# from the environment when imported, which only a function's environment has.


class _DeliveryJob:
    """The import job of one delivery, made when its first event is queued."""

    def __init__(self, jobs: JobStore, campaign: str):
        self.jobs = jobs
        self.campaign = campaign
        self.id: str | None = None
        self.rows = 0

    def next_row(self) -> tuple[str, int]:
        if self.id is None:
            from .bulk import OPERATIONS
            from .imports import new_job

            self.id = new_job(self.jobs, self.campaign, OPERATIONS[SYNC_CONTACT])
        self.rows += 1
        return self.id, self.rows

    def close(self) -> None:
        """Mark every row read, so the job completes once its queued rows are done."""
        if self.id is not None:
            self.jobs.add_rows(self.id, 0, through=self.rows, split_done=True)


class WebhookIngress:
    """Receives deliveries; one per function, its AWS clients kept across warm invocations."""

    def __init__(self, *, jobs: JobStore | None = None, sqs: Any = None):
        self._jobs = jobs
        self._sqs = sqs

    @property
    def jobs(self) -> JobStore:
        if self._jobs is None:
            self._jobs = JobStore()
        return self._jobs

    @property
    def sqs(self) -> Any:
        if self._sqs is None:
            self._sqs = boto3.client("sqs")
        return self._sqs

    def receive(self, delivery: Delivery) -> Answer:
        """Verify, normalize and queue a delivery (see the module's notes); raises the hub's errors."""
        provider = provider_named(delivery.provider)
        loose = _loose_json(delivery.body)
        named = named_campaign_id(provider, loose)
        campaign = campaign_for(provider, delivery, named)
        # Read strictly only once verified: an unverified body gets a 401 whatever it holds.
        payload = loose if isinstance(loose, dict) else parse_payload(delivery.body)
        if named is not None and named != load_config().campaign(campaign).campaign_id:
            kind = as_str(payload.get("event")) or as_str(payload.get("type")) or ""
            normalized = Normalized(kind, [], f"the delivery names campaign id '{named}', not that of '{campaign}'")
        else:
            lookup = growsurf_reward_lookup(campaign) if provider is Provider.GROWSURF else None
            normalized = normalize(provider, payload, campaign, lookup=lookup)
        body: dict[str, Any] = {
            "received": True,
            "campaign": campaign,
            "eventType": normalized.type,
            "jobId": None,
            "queued": [],
            "duplicates": [],
        }
        if not normalized.events:
            logger.info(
                "webhook event ignored",
                extra={"provider": provider.value, "campaign": campaign, "eventType": normalized.type},
            )
            metrics.add_metric(name="WebhookDeliveriesIgnored", unit=MetricUnit.Count, value=1)
            return Answer(200, {**body, "ignored": normalized.ignored})
        job = _DeliveryJob(self.jobs, campaign)
        try:
            for event in normalized.events:
                outcome = idempotency.run_once(
                    event.dedup_key(provider, campaign),
                    {"identity": list(event.identity)},
                    partial(self._enqueue, job, campaign, event),
                    window=DEDUP_WINDOW_SECONDS,
                )
                body["duplicates" if outcome.replayed else "queued"].append(event.kind.value)
        finally:
            job.close()
        body["jobId"] = job.id
        logger.info(
            "webhook received",
            extra={
                "provider": provider.value,
                "campaign": campaign,
                "eventType": normalized.type,
                "jobId": job.id,
                "queued": body["queued"],
                "duplicates": body["duplicates"],
            },
        )
        metrics.add_metric(name="WebhookEventsQueued", unit=MetricUnit.Count, value=len(body["queued"]))
        metrics.add_metric(name="WebhookEventsDuplicated", unit=MetricUnit.Count, value=len(body["duplicates"]))
        # Every event seen before: the answer of a replay, as the API marks one.
        headers = {"Idempotent-Replayed": "true"} if not body["queued"] else None
        return Answer(200, body, headers)

    def _enqueue(self, job: _DeliveryJob, campaign: str, event: WebhookEvent) -> idempotency.Outcome:
        """Queue one event's contact sync as the next row of the delivery's job. A row SQS does not take
        fails the delivery (503), so the provider retries it and the event is not lost."""
        from .bulk import OPERATIONS, RowQueue

        job_id, row = job.next_row()
        queue = RowQueue(OPERATIONS[SYNC_CONTACT], job_id, campaign, sqs=self.sqs)
        try:
            queue.add(row, event.contact)
            queue.flush()
            queued = queue.sent == 1 and not queue.failures
        except (BotoCoreError, ClientError):
            logger.exception("the contact sync could not be queued")
            queued = False
        if not queued:
            raise ProviderUnavailable(
                "the event could not be queued; the provider may retry the delivery", code="QUEUE_ERROR"
            )
        self.jobs.add_rows(job_id, 1, through=row)
        return idempotency.Outcome(200, {"jobId": job_id, "row": row})
