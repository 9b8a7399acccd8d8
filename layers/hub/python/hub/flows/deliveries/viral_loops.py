"""Viral Loops' webhooks as the hub's events, each confirmed by Viral Loops' own answer.

Viral Loops signs nothing: the URL's token is the only proof, and whoever holds it could write any
payload. The payload therefore only says what to look at (the user's email, the referrer's email, the
reward's id); what reaches Loops comes from Viral Loops' API, read back with the campaign's program:

- ``participation``: the user is read (participant, its referrer's code, its rank); a payload referrer
  must be the participant holding that referral code;
- ``conversion``: the user must be referred by the payload's referrer (as above), and listed as
  converted among that referrer's referrals; the event goes to the referrer as Viral Loops has it;
- ``milestone`` / ``reward_redeemed``: the user must have, at Viral Loops, a reward with the payload's
  reward id (its ``rewardId`` or milestone), pending or approved for a milestone, redeemed for a
  redemption; the reward's name in the event is Viral Loops' own.

Anything not borne out is ``unconfirmed``. The dedup identities are Viral Loops' own, from the
read-back (the participant's referral code, the reward's id at Viral Loops), never the payload's: a
redelivery reads back the same, and a replay that changes the payload's ids is still the same event.
"""

from __future__ import annotations

from typing import Any

from hub.domain.errors import NotFound, ValidationError
from hub.domain.models import Participant, ReferralStatus, Reward, RewardStatus
from hub.flows.deliveries.events import EventKind, Normalized, email_of, event, ident, obj, unconfirmed
from hub.providers.fields import as_str
from hub.providers.program import ReferralProgram

_KINDS = ("participation", "conversion", "milestone", "reward_redeemed")
_NOT_REFERRED = "Viral Loops does not have the user referred by that referrer"


def _read(program: ReferralProgram, email: str) -> Participant | None:
    """The participant as Viral Loops has it, or None when it has none with that email."""
    try:
        return program.get_participant(email)
    except (NotFound, ValidationError):
        # Viral Loops refuses a lookup it cannot serve with a 4xx: either way it does not confirm it.
        return None


def _referred_by(program: ReferralProgram, user: Participant, referrer_email: str) -> Participant | None:
    """The referrer, read back, when it is the one who referred ``user`` at Viral Loops; else None."""
    code = user.referrer.referral_code if user.referrer else None
    if not code:
        return None
    referrer = _read(program, referrer_email)
    if referrer is None or referrer.referral_code != code:
        return None
    return referrer


def normalize_viral_loops(payload: dict[str, Any], program: ReferralProgram) -> Normalized:
    """Viral Loops' ``{type, user, referrer}`` as the hub's events, built from what ``program`` (the
    campaign's Viral Loops: its participants carry the campaign) answers; a payload it does not bear
    out is ``unconfirmed``."""
    kind = as_str(payload.get("type")) or ""
    if kind not in _KINDS:
        return Normalized(kind, [], f"Viral Loops' '{kind or '(no type)'}' is not an event the hub acts on")
    referrer_email = _referrer_email(payload)
    user_data = obj(payload.get("user"), "user")
    email = email_of(user_data, "user")
    if kind == "conversion" and referrer_email is None:
        return Normalized(kind, [], "a Viral Loops conversion without a referrer credits no one")
    user = _read(program, email)
    if user is None:
        return unconfirmed(kind, "Viral Loops has no participant with the user's email")
    if kind == "participation":
        return _participation(kind, program, user, referrer_email)
    if kind == "conversion":
        assert referrer_email is not None
        return _conversion(kind, program, user, referrer_email)
    return _reward(kind, payload, program, user, ident(user))


def _referrer_email(payload: dict[str, Any]) -> str | None:
    """The payload referrer's email, checked, when the payload names one."""
    referrer_data = payload.get("referrer")
    if isinstance(referrer_data, dict) and referrer_data.get("email"):
        return email_of(referrer_data, "referrer")
    return None


def _participation(kind: str, program: ReferralProgram, user: Participant, referrer_email: str | None) -> Normalized:
    """The user added, with the payload's referrer when Viral Loops has the user referred by it."""
    referrer: Participant | None = None
    if referrer_email is not None:
        referrer = _referred_by(program, user, referrer_email)
        if referrer is None:
            return unconfirmed(kind, _NOT_REFERRED)
    identity = ident(user)
    if referrer is not None and user.referrer is not None:
        # Viral Loops knows the referrer by code only; the email is the one just confirmed to hold it.
        confirmed = user.referrer.model_copy(update={"email": referrer.email})
        user = user.model_copy(update={"referrer": confirmed})
    details = {"referredByEmail": referrer.email if referrer else None}
    return Normalized(kind, [event(EventKind.PARTICIPANT_ADDED, user, (identity,), details=details)])


def _conversion(kind: str, program: ReferralProgram, user: Participant, referrer_email: str) -> Normalized:
    """The referral converted, for the referrer as Viral Loops has it, when Viral Loops has the user
    referred by the payload's referrer and lists the referral as converted."""
    referrer = _referred_by(program, user, referrer_email)
    if referrer is None:
        return unconfirmed(kind, _NOT_REFERRED)
    if not _converted(program, referrer, user):
        return unconfirmed(kind, "Viral Loops does not list the user's referral as converted")
    details = {"referredEmail": user.email, "referredFirstName": user.first_name}
    pair = (ident(referrer), ident(user))
    return Normalized(kind, [event(EventKind.REFERRAL_CONVERTED, referrer, pair, details=details)])


def _converted(program: ReferralProgram, referrer: Participant, user: Participant) -> bool:
    wanted = user.email.lower()
    return any(
        referral.status is ReferralStatus.CONVERTED and (referral.email or "").lower() == wanted
        for referral in program.referrals(referrer.email)
    )


def _reward(kind: str, payload: dict[str, Any], program: ReferralProgram, user: Participant, who: str) -> Normalized:
    reward = payload.get("reward")
    reward = reward if isinstance(reward, dict) else {}
    # The payload's id only says which reward to look for: a payload naming none is not borne out.
    earned = kind == "milestone"
    found = _reward_of(program, user.email, as_str(reward.get("id")), earned=earned)
    if found is None:
        return unconfirmed(kind, f"Viral Loops has no {'earned' if earned else 'redeemed'} reward with that id")
    details = {
        "rewardId": found.id,
        "rewardName": found.description,
        "rewardStatus": found.status.value,
    }
    event_kind = EventKind.REWARD_EARNED if earned else EventKind.REWARD_REDEEMED
    return Normalized(kind, [event(event_kind, user, (who, found.id), details=details)])


def _reward_of(program: ReferralProgram, email: str, reward_id: str | None, *, earned: bool) -> Reward | None:
    """The participant's reward at Viral Loops that the payload's id names (its reward id or its
    milestone), in the state the event says: earned (pending or approved) or redeemed."""
    if reward_id is None:
        return None
    try:
        rewards = program.rewards(email, None)
    except (NotFound, ValidationError):
        return None
    for reward in rewards:
        if reward_id not in {reward.id, reward.reward_id, reward.milestone_id}:
            continue
        if (reward.status is RewardStatus.REDEEMED) is not earned:
            return reward
    return None
