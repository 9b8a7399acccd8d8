"""GrowSurf's webhooks as the hub's events.

GrowSurf signs each delivery over its raw body (HMAC-SHA256 with the campaign's webhook secret), so a
verified payload is GrowSurf's own word: its data counts as confirmed, except the one thing its payload
cannot tell (a goal that shows no approval), which is read back from GrowSurf.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

from hub.domain.errors import NotFound
from hub.domain.models import Participant
from hub.flows.deliveries.events import EventKind, Normalized, WebhookEvent, email_of, event, ident, invalid, name, obj
from hub.providers.fields import as_str
from hub.providers.growsurf import client as growsurf_api
from hub.providers.program import program_for

#: The ParticipantReward as GrowSurf has it now, given the earner's email and the participant reward id;
#: None when GrowSurf has no such reward (any more). The ingress reads it with the campaign's client.
RewardLookup = Callable[[str, str], dict[str, Any] | None]


def _growsurf_participant(data: dict[str, Any], where: str, campaign: str) -> Participant:
    email = email_of(data, where)
    participant = growsurf_api.normalize_participant(data, campaign)
    return participant.model_copy(
        update={"email": email, "first_name": name(data.get("firstName")), "last_name": name(data.get("lastName"))}
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
    return Normalized(kind, handlers[kind](payload, obj(payload.get("data"), "data"), campaign))


def _growsurf_added(payload: dict[str, Any], data: dict[str, Any], campaign: str) -> list[WebhookEvent]:
    added = _growsurf_participant(data, "data", campaign)
    details = {"referredByEmail": added.referrer.email if added.referrer else None}
    return [event(EventKind.PARTICIPANT_ADDED, added, (ident(added),), details=details)]


def _growsurf_fraud(payload: dict[str, Any], data: dict[str, Any], campaign: str) -> list[WebhookEvent]:
    participant = obj(data.get("participant"), "data.participant")
    flagged = _growsurf_participant(participant, "data.participant", campaign)
    level = as_str(participant.get("fraudRiskLevel"))
    # A participant may move between levels several times: each change (and time) is its own event.
    identity = (ident(flagged), level or "", str(payload.get("createdAt") or ""))
    details: dict[str, Any] = {
        "fraudRiskLevel": level,
        "fraudReasonCode": as_str(participant.get("fraudReasonCode")),
        "flagged": flagged.flagged,
    }
    properties: dict[str, Any] = {"referralFraudRiskLevel": level, "referralFlagged": flagged.flagged}
    return [event(EventKind.FRAUD_STATUS_CHANGED, flagged, identity, details=details, properties=properties)]


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
    participant = obj(data.get("participant"), "data.participant")
    earner = _growsurf_participant(participant, "data.participant", campaign)
    reward = obj(data.get("reward"), "data.reward")
    reward_id = as_str(reward.get("id"))
    if reward_id is None:
        raise invalid("data.reward.id", "is required")
    state = _growsurf_goal_state(reward, earner.email, reward_id, lookup)
    is_referrer = reward.get("isReferrer") is True
    details = _growsurf_reward_details(reward, reward_id, state, is_referrer)
    # One event per state the reward reaches: a redelivery, or a copy emitted for a state already seen
    # (a pending goal delivered after the approval), is the same event and is deduplicated.
    kind = EventKind.REWARD_REDEEMED if state == "fulfilled" else EventKind.REWARD_EARNED
    events = [event(kind, earner, (ident(earner), reward_id, state), details=details)]
    conversion = _growsurf_goal_conversion(participant, earner, is_referrer, campaign)
    if conversion is not None:
        events.append(conversion)
    return events


def _growsurf_goal_state(reward: Mapping[str, Any], email: str, reward_id: str, lookup: RewardLookup | None) -> str:
    """The state of a goal's reward: the payload's, unless it shows no approval and ``lookup`` reads
    the reward's state at GrowSurf."""
    state = _growsurf_reward_state(reward)
    if state == "pending" and lookup is not None:
        # Approving a reward emits this event again with ``data.reward.approved`` false (document 001,
        # Approve Participant Reward), so a payload that shows no approval cannot tell a goal just
        # reached from one just approved (or approved and fulfilled by the hub's own redeem): the
        # reward's state at GrowSurf says which.
        current = lookup(email, reward_id)
        if current is not None:
            state = _growsurf_reward_state(current)
    return state


def _growsurf_reward_details(
    reward: Mapping[str, Any], reward_id: str, state: str, is_referrer: bool
) -> dict[str, Any]:
    """The Loops event's properties of a goal's reward in ``state``."""
    return {
        "rewardId": reward_id,
        "rewardName": as_str(reward.get("title")) or as_str(reward.get("description")),
        "rewardStatus": "redeemed" if state == "fulfilled" else state,
        "couponCode": as_str(reward.get("couponCode")),
        "isReferrer": is_referrer,
    }


def _growsurf_goal_conversion(
    participant: dict[str, Any], earner: Participant, is_referrer: bool, campaign: str
) -> WebhookEvent | None:
    """The referral that unlocked the reward, when the payload names the other side of it: the same
    conversion in every copy and state of the goal."""
    side = "referee" if is_referrer else "referrer"
    other = participant.get(side)
    if not isinstance(other, dict) or not other.get("email"):
        return None
    counterpart = _growsurf_participant(other, f"data.participant.{side}", campaign)
    referrer, referee = (earner, counterpart) if is_referrer else (counterpart, earner)
    converted = {"referredEmail": referee.email, "referredFirstName": referee.first_name}
    return event(EventKind.REFERRAL_CONVERTED, referrer, (ident(referrer), ident(referee)), details=converted)


def growsurf_reward_lookup(campaign: str) -> RewardLookup:
    """Reads a participant reward from the campaign's GrowSurf (the hub's own client and key)."""

    def lookup(email: str, participant_reward_id: str) -> dict[str, Any] | None:
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
