"""What a delivery becomes: the hub's normalized webhook events, and the helpers every provider's
normalizer shares to read a payload and build an event's contact sync."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from pydantic import ValidationError as PydanticValidationError

from hub.domain import json_input
from hub.domain.errors import ValidationError
from hub.domain.models import Participant, Provider
from hub.domain.requests import ContactEvent, ContactSyncRequest, check_email, field_errors
from hub.flows.contacts import referral_properties
from hub.providers.fields import as_str

_NAME_LIMIT = 256
#: Where the providers' participants give their referral count (webhook payloads and API answers).
_COUNT_FIELDS = ("referralCount", "referralsCount", "tot_referrals", "referrals_count")


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
    and why there are none when so. ``unconfirmed`` marks a payload the provider's own answer does not
    bear out (its events are dropped, never emailed)."""

    type: str
    events: list[WebhookEvent] = field(default_factory=list)
    ignored: str | None = None
    unconfirmed: bool = False


def unconfirmed(kind: str, why: str) -> Normalized:
    """A delivery the provider does not confirm: acknowledged, ignored, nothing sent."""
    return Normalized(kind, [], f"not confirmed by the provider: {why}", unconfirmed=True)


def parse_payload(body: bytes) -> dict[str, Any]:
    """The delivery's JSON object (after verification only): 400 when it is not one, 422 naming a
    field that holds NaN or Infinity or is nested too deeply, as for every other body the hub reads."""
    return json_input.read_object(body, what="the webhook body")


def loose_json(body: bytes) -> Any:
    """The body as JSON if it is any, else None (read before verification: never an error)."""
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return None


def invalid(where: str, reason: str) -> ValidationError:
    return ValidationError(
        "the webhook payload lacks what the hub needs to act on it", details=[{"field": where, "reason": reason}]
    )


def obj(value: Any, where: str) -> dict[str, Any]:
    """``value`` if it is a JSON object, else the VALIDATION_ERROR naming ``where``."""
    if not isinstance(value, dict):
        raise invalid(where, "must be an object")
    return value


def email_of(data: dict[str, Any], where: str) -> str:
    """The ``email`` of a payload object, checked; else the VALIDATION_ERROR naming ``<where>.email``."""
    value = data.get("email")
    if not isinstance(value, str) or not value.strip():
        raise invalid(f"{where}.email", "is required")
    try:
        return check_email(value)
    except ValueError as exc:
        raise invalid(f"{where}.email", str(exc)) from None


def name(value: Any) -> str | None:
    text = as_str(value)
    if text is None:
        return None
    return text.strip()[:_NAME_LIMIT] or None


def ident(participant: Participant) -> str:
    return participant.id or participant.email.lower()


def payload_ident(data: dict[str, Any], email: str) -> str:
    """A payload participant's identity as the dedup keys have it: its ``id``, else its email."""
    return as_str(data.get("id")) or email.lower()


def _flat(values: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}


def event(
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
    if not any(participant.provider_data.get(count) is not None for count in _COUNT_FIELDS):
        # The source does not say: leave the contact's count as it is rather than zero it.
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
            first_name=name(participant.first_name),
            last_name=name(participant.last_name),
            properties=_flat(contact_properties),
            event=ContactEvent(name=kind.value, properties=_flat(event_properties)),
        )
    except PydanticValidationError as exc:
        raise ValidationError("the webhook payload cannot become a contact sync", details=field_errors(exc)) from None
    return WebhookEvent(kind, identity, contact)
