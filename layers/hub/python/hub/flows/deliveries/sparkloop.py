"""SparkLoop's webhooks as the hub's events, each confirmed by SparkLoop's own answer.

SparkLoop proves a delivery with a static token only, so whoever holds the token could write any
payload. The payload therefore only says what to look at (the subscriber's email, the referrer's email,
the referral count a reward unlocked at); what reaches Loops comes from SparkLoop's API, read back with
the campaign's program:

- the subscriber (and the referrer, for ``new_referral``) are read by email; a subscriber SparkLoop does
  not have, or a referrer whose ``ref_code`` is not the subscriber's ``referrer_code``, is not confirmed;
- SparkLoop's API has no rewards, so a reward event is confirmed by the subscriber's ``referrals_count``
  at SparkLoop having reached the ``referrals`` the payload says the reward unlocked at, and its Loops
  event carries only that count: the reward's name, coupon code and variant are the payload's word
  alone, and are not sent.

The dedup identities are SparkLoop's own, from the read-back (the subscriber's id, the referrer's, the
confirmed referral count), never the payload's: a redelivery reads back the same, and a replay that
changes the payload's ids, reward or variant is still the same event.
"""

from __future__ import annotations

from typing import Any

from hub.domain.errors import NotFound
from hub.domain.models import Participant, ReferrerRef
from hub.flows.deliveries.events import (
    EventKind,
    Normalized,
    WebhookEvent,
    email_of,
    event,
    ident,
    invalid,
    obj,
    unconfirmed,
)
from hub.providers.fields import as_int, as_str
from hub.providers.program import ReferralProgram


def _read(program: ReferralProgram, email: str) -> Participant | None:
    """The subscriber as SparkLoop has it, or None when it has no such subscriber."""
    try:
        return program.get_participant(email)
    except NotFound:
        return None


def normalize_sparkloop(payload: dict[str, Any], program: ReferralProgram) -> Normalized:
    """SparkLoop's ``{type, campaign_id, subscriber, ...}`` as the hub's events, built from what
    ``program`` (the campaign's SparkLoop: its participants carry the campaign) answers; a payload it
    does not bear out is ``unconfirmed``."""
    kind = as_str(payload.get("type")) or ""
    if kind == "new_referral":
        return _referral(kind, payload, program)
    if kind in ("reward_unlocked", "reward_redeemed"):
        return _reward(kind, payload, program)
    return Normalized(kind, [], f"SparkLoop's '{kind or '(no type)'}' is not an event the hub acts on")


def _referral(kind: str, payload: dict[str, Any], program: ReferralProgram) -> Normalized:
    subscriber_data = obj(payload.get("subscriber"), "subscriber")
    email = email_of(subscriber_data, "subscriber")
    referrer_data = payload.get("referrer")
    referrer_email = email_of(referrer_data, "referrer") if isinstance(referrer_data, dict) else None
    subscriber = _read(program, email)
    if subscriber is None:
        return unconfirmed(kind, "SparkLoop has no subscriber with the subscriber's email")
    if referrer_email is None:
        return Normalized(kind, [_added(subscriber, None)])
    referrer = _read(program, referrer_email)
    if referrer is None:
        return unconfirmed(kind, "SparkLoop has no subscriber with the referrer's email")
    if not _refers(referrer, subscriber):
        return unconfirmed(kind, "SparkLoop does not have the subscriber referred by that referrer")
    # SparkLoop knows the referrer by code only; the email is the one just confirmed to hold it.
    subscriber = subscriber.model_copy(
        update={"referrer": ReferrerRef(email=referrer.email, referral_code=referrer.referral_code)}
    )
    # SparkLoop has no conversion step: a referral counts for the referrer when the friend subscribes.
    return Normalized(kind, [_added(subscriber, referrer), _converted(referrer, subscriber)])


def _refers(referrer: Participant, subscriber: Participant) -> bool:
    """Whether SparkLoop has ``subscriber`` referred by ``referrer`` (the subscriber's referrer code
    is the referrer's ``ref_code``)."""
    code = subscriber.referrer.referral_code if subscriber.referrer else None
    return bool(referrer.referral_code) and code == referrer.referral_code


def _added(subscriber: Participant, referrer: Participant | None) -> WebhookEvent:
    details = {"referredByEmail": referrer.email if referrer else None}
    return event(EventKind.PARTICIPANT_ADDED, subscriber, (ident(subscriber),), details=details)


def _converted(referrer: Participant, subscriber: Participant) -> WebhookEvent:
    converted = {"referredEmail": subscriber.email, "referredFirstName": subscriber.first_name}
    return event(EventKind.REFERRAL_CONVERTED, referrer, (ident(referrer), ident(subscriber)), details=converted)


def _reward(kind: str, payload: dict[str, Any], program: ReferralProgram) -> Normalized:
    subscriber_data = obj(payload.get("subscriber"), "subscriber")
    email = email_of(subscriber_data, "subscriber")
    reward = obj(payload.get("reward"), "reward")
    reward_id = as_str(reward.get("id"))
    if reward_id is None:
        raise invalid("reward.id", "is required")
    # A recurring reward is unlocked again at a higher referral count: the count tells them apart.
    referrals = as_str(payload.get("referrals")) or as_str(reward.get("referrals")) or ""
    needed = as_int(referrals, None)
    if needed is None:
        return unconfirmed(kind, "the payload names no referral count SparkLoop could bear out")
    subscriber = _read(program, email)
    if subscriber is None:
        return unconfirmed(kind, "SparkLoop has no subscriber with the subscriber's email")
    if subscriber.referral_count < needed:
        return unconfirmed(kind, "the subscriber has fewer referrals at SparkLoop than the reward needs")
    details: dict[str, Any] = {"rewardReferrals": needed}
    # What SparkLoop bears out is the subscriber and the count: one reward event per count.
    identity = (ident(subscriber), str(needed))
    found: WebhookEvent
    if kind == "reward_unlocked":
        details["rewardStatus"] = "approved"
        found = event(EventKind.REWARD_EARNED, subscriber, identity, details=details)
    else:
        details["rewardStatus"] = "redeemed"
        found = event(EventKind.REWARD_REDEEMED, subscriber, identity, details=details)
    return Normalized(kind, [found])
