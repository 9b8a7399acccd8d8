"""The hub's operations on a GrowSurf campaign.

- Add: GrowSurf answers an existing email with the existing participant and the same status as a new
  one, so the hub looks the email up first to tell ``created`` apart.
- Add: a referred participant is sent with an explicit ``referralStatus``, from the campaign's
  ``credit_referrals`` (``on_conversion``: ``CREDIT_PENDING``, ``on_signup``: ``CREDIT_AWARDED``).
  Without it GrowSurf's default depends on the campaign's referral trigger, which the hub cannot see
  (and the document contradicts itself about it).
- Convert is GrowSurf's "trigger referral", which credits only a ``CREDIT_PENDING`` referral and answers
  success past the campaign's credit expiry window without crediting. So the hub reads the participant
  first (a referral credited already is 409 ``ALREADY_CONVERTED``; a participant nobody referred is 409
  ``NOT_REFERRED``), triggers, and reads the participant back: the answer's ``credited`` is true only
  when its ``referralStatus`` became ``CREDIT_AWARDED``, else ``reason`` names the status it has.
- Redeem approves the participant reward and fulfills it in one call (``approve`` with
  ``fulfill: true``), or fulfills it if it was approved already. The reward must belong to the
  participant named in the request.
- Flag answers 501: GrowSurf has no flag endpoint (fraud is its own ``fraudRiskLevel``).
- Listing participants and pending rewards (the scheduled tasks) walks Get Participants in sign-up
  order (a stable order to page through, unlike the leaderboard, which reorders as counts change).
  A participant object carries its ``rewards``, so pending rewards need no call per participant; one
  whose answer has no ``rewards`` field has them read with Get Participant Rewards.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from hub.domain.errors import (
    AlreadyConverted,
    AlreadyRedeemed,
    Conflict,
    NotReferred,
    ParticipantNotFound,
    RewardNotFound,
    ValidationError,
)
from hub.domain.models import Conversion, Page, Participant, Provider, Redemption, Referral, Reward, RewardStatus
from hub.domain.requests import AddParticipantRequest
from hub.providers.growsurf.client import (
    MAX_LIMIT,
    GrowSurfClient,
    normalize_leaderboard,
    normalize_participant,
    normalize_referrals,
    normalize_rewards,
)
from hub.providers.http import RetryPolicy
from hub.providers.program import ReferralProgram
from hub.providers.ratelimit.local import RateLimiter
from hub.settings.config import CampaignConfig

CREDIT_PENDING, CREDIT_AWARDED = "CREDIT_PENDING", "CREDIT_AWARDED"
#: The ``referralStatus`` a referred sign-up is sent with, per the campaign's ``credit_referrals``.
SIGNUP_REFERRAL_STATUS = {"on_conversion": CREDIT_PENDING, "on_signup": CREDIT_AWARDED}


# Bounds the pages one referrals read walks (100 each): a participant with more is cut, not hung on.
MAX_REFERRAL_PAGES = 20


class GrowSurfProgram(ReferralProgram):
    provider = Provider.GROWSURF
    client: GrowSurfClient
    add_fields = frozenset({"firstName", "lastName", "referrer", "metadata", "ipAddress"})

    def add_participant(self, request: AddParticipantRequest) -> tuple[Participant, bool]:
        self.refuse_unplaced(request)
        try:
            return self.get_participant(request.email), False
        except ParticipantNotFound:
            pass
        answer = self.client.add_participant(
            request.email,
            # GrowSurf's referredBy takes the referrer's id (the hub's referral code) or email as is.
            referred_by=request.referrer,
            referral_status=SIGNUP_REFERRAL_STATUS[self.config.credit_referrals] if request.referrer else None,
            first_name=request.first_name,
            last_name=request.last_name,
            ip_address=request.ip_address,
            metadata=dict(request.metadata) or None,
        )
        return normalize_participant(answer, self.campaign), True

    def get_participant(self, email: str) -> Participant:
        return normalize_participant(self.client.get_participant_by_email(email), self.campaign)

    def probe(self) -> str:
        answer = self.client.get_campaign()
        title = answer.get("name") if isinstance(answer, dict) else None
        return f" ({title})" if isinstance(title, str) and title else ""

    def convert(self, email: str) -> Conversion:
        before = self.client.get_participant_by_email(email)
        status = _referral_status(before)
        if status is None and not before.get("referrer"):
            raise NotReferred(
                f"{email} was not referred: there is no referrer to credit",
                details=[{"field": "email", "reason": "the participant has no referrer"}],
            )
        if status == CREDIT_AWARDED:
            raise AlreadyConverted(f"the referral of {email} was credited already")
        try:
            self.client.trigger_referral_by_email(email)
        except (ValidationError, Conflict):
            # GrowSurf documents no error of this call: one credited meanwhile is told by its state.
            if _referral_status(self.client.get_participant_by_email(email)) == CREDIT_AWARDED:
                raise AlreadyConverted(f"the referral of {email} was credited already") from None
            raise
        after = self.client.get_participant_by_email(email)
        status_after = _referral_status(after) or self._listed_status(email)
        credited = status_after == CREDIT_AWARDED
        referrer = normalize_participant(after, self.campaign).referrer
        return Conversion(
            campaign=self.campaign,
            email=email,
            converted=True,
            credited=credited,
            referral_status=status_after,
            reason=None if credited else _not_credited_reason(status_after),
            referrer=referrer,
        )

    def _listed_status(self, email: str) -> str | None:
        """The referral's status from Get Referrals, for an answer whose participant does not carry it."""
        page = self.client.get_referrals(email=email, limit=1)
        items = page.get("referrals") if isinstance(page, dict) else None
        first = items[0] if isinstance(items, list) and items and isinstance(items[0], dict) else {}
        value = first.get("referralStatus")
        return value if isinstance(value, str) else None

    def reward(self, email: str, participant_reward_id: str) -> Reward | None:
        """The participant's reward ``participant_reward_id`` as GrowSurf has it now (None if it has none)."""
        return next((r for r in self.rewards(email, None) if r.id == participant_reward_id), None)

    def redeem(self, email: str, reward_id: str, milestone_id: str | None) -> Redemption:
        reward = next((r for r in self.rewards(email, None) if r.id == reward_id), None)
        if reward is None:
            raise RewardNotFound(f"{email} has no reward {reward_id}")
        if reward.status == RewardStatus.REDEEMED:
            raise AlreadyRedeemed(f"reward {reward_id} of {email} is already redeemed")
        if reward.status == RewardStatus.APPROVED:
            self.client.fulfill_participant_reward(reward_id)
        else:
            self.client.approve_participant_reward(reward_id, fulfill=True)
        return Redemption(campaign=self.campaign, email=email, reward_id=reward_id, status=RewardStatus.REDEEMED)

    def referrals(self, email: str) -> list[Referral]:
        referrals: list[Referral] = []
        offset = 0
        for _ in range(MAX_REFERRAL_PAGES):
            page = self.client.get_participant_referrals_by_email(email, limit=MAX_LIMIT, offset=offset)
            items = normalize_referrals(page)
            referrals += items
            if not (isinstance(page, dict) and page.get("more")) or not items:
                break
            offset += len(items)
        return referrals

    def rewards(self, email: str, status: RewardStatus | None) -> list[Reward]:
        participant = self.get_participant(email)
        assert participant.id is not None
        rewards = normalize_rewards(list(self.client.iter_participant_rewards(participant.id)))
        return [r for r in rewards if status is None or r.status == status]

    def participants(self) -> Iterator[Participant]:
        for item in self.client.iter_participants():
            if isinstance(item, dict) and item.get("email"):
                yield normalize_participant(item, self.campaign)

    def pending_rewards(self) -> Iterator[tuple[Participant, Reward]]:
        for item in self.client.iter_participants():
            if not (isinstance(item, dict) and item.get("email")):
                continue
            participant = normalize_participant(item, self.campaign)
            if "rewards" in item:
                rewards = normalize_rewards(item)
            elif participant.id is not None:
                rewards = normalize_rewards(list(self.client.iter_participant_rewards(participant.id)))
            else:
                rewards = []
            for reward in rewards:
                if reward.status != RewardStatus.REDEEMED:
                    yield participant, reward

    def leaderboard(self, cursor: str | None, limit: int) -> Page[Participant]:
        # GrowSurf takes limits from 2 to 100: one more is read, and its id is the next cursor.
        answer = self.client.get_leaderboard(next_id=cursor, limit=max(limit, 2))
        page = normalize_leaderboard(answer, self.campaign)
        if limit < len(page.items):
            return Page[Participant](items=page.items[:limit], next_cursor=page.items[limit].id)
        return page


def _referral_status(participant: Any) -> str | None:
    value = participant.get("referralStatus") if isinstance(participant, dict) else None
    return value if isinstance(value, str) and value else None


def _not_credited_reason(status: str | None) -> str:
    if status == "CREDIT_EXPIRED":
        return "CREDIT_EXPIRED: the referral's credit window had passed; GrowSurf answered success without crediting"
    if status == CREDIT_PENDING:
        return "CREDIT_PENDING: GrowSurf answered success but the referral is still pending"
    return f"{status or 'unknown'}: GrowSurf did not credit the referrer"


def build(
    campaign: str, config: CampaignConfig, *, key: str, limiter: RateLimiter, policy: RetryPolicy
) -> GrowSurfProgram:
    client = GrowSurfClient(key, config.campaign_id, limiter=limiter, policy=policy)
    return GrowSurfProgram(campaign, config, client)
