"""The hub's operations on a Viral Loops campaign.

Viral Loops has no leaderboard endpoint the hub can page through (the reference only mentions one in
passing), so ``leaderboard`` answers 501, and no endpoint that lists a campaign's participants, so the
scheduled tasks cannot walk its participants or find its pending rewards (the pending rewards endpoint
takes one participant's email): they skip Viral Loops campaigns. A referrer given by email is resolved
to its referral code, since Viral Loops takes only codes.
"""

from __future__ import annotations

from typing import Any

from ..config import CampaignConfig
from ..errors import EmailTaken, RewardNotFound, ValidationError
from ..http import RetryPolicy
from ..models import Participant, Provider, Referral, Reward, RewardStatus
from ..providers.viral_loops import (
    ViralLoopsClient,
    normalize_participant,
    normalize_referrals,
    normalize_rewards,
)
from ..schemas import AddParticipantRequest
from ..throttle import RateLimiter
from . import ReferralProgram


class ViralLoopsProgram(ReferralProgram):
    provider = Provider.VIRAL_LOOPS
    client: ViralLoopsClient
    add_fields = frozenset({"firstName", "lastName", "referrer", "metadata", "ipAddress"})

    def add_participant(self, request: AddParticipantRequest) -> tuple[Participant, bool]:
        self.refuse_unplaced(request)
        referrer = self.referral_code_of(request.referrer) if request.referrer else None
        custom_fields = {**request.metadata, **({"ipAddress": request.ip_address} if request.ip_address else {})}
        try:
            self.client.add_participant(
                request.email,
                first_name=request.first_name,
                last_name=request.last_name,
                referrer=referrer,
                custom_fields=custom_fields or None,
            )
        except EmailTaken:
            return self.get_participant(request.email), False
        return self.get_participant(request.email), True

    def get_participant(self, email: str) -> Participant:
        return normalize_participant(self.client.get_participant(email), self.campaign)

    def convert(self, email: str) -> dict[str, Any]:
        answer = self.client.convert_participant(email)
        data = answer.get("data", {}) if isinstance(answer, dict) else {}
        return {
            "campaign": self.campaign,
            "email": email,
            "converted": True,
            "referrer": {"email": data.get("referrer")} if data.get("referrer") else None,
            "rewardTriggered": bool(data.get("rewardTriggered")),
        }

    def redeem(self, email: str, reward_id: str, milestone_id: str | None) -> dict[str, Any]:
        if milestone_id is None:
            pending = {r.reward_id: r for r in normalize_rewards(self.client.get_pending_rewards(email))}
            if reward_id not in pending:
                raise RewardNotFound(f"{email} has no pending reward {reward_id}")
            milestone_id = pending[reward_id].milestone_id
            if milestone_id is None:
                raise ValidationError(
                    "Viral Loops needs the reward's milestone",
                    details=[{"field": "milestoneId", "reason": "is required for this reward"}],
                )
        self.client.redeem_reward(email, milestone_id, reward_id)
        return {
            "campaign": self.campaign,
            "email": email,
            "rewardId": reward_id,
            "milestoneId": milestone_id,
            "status": RewardStatus.REDEEMED.value,
        }

    def flag(self, email: str, reason: str) -> dict[str, Any]:
        self.client.flag_participant(email, reason)
        return {"campaign": self.campaign, "email": email, "flagged": True, "reason": reason}

    def referrals(self, email: str) -> list[Referral]:
        return normalize_referrals(self.client.get_participant_referrals(email))

    def rewards(self, email: str, status: RewardStatus | None) -> list[Reward]:
        pending = normalize_rewards(self.client.get_pending_rewards(email))
        if status == RewardStatus.PENDING:
            return pending
        # The pending endpoint has the reward ids; participant/data adds the redeemed milestones.
        redeemed = [
            r for r in normalize_rewards(self.client.get_participant_data(email)) if r.status == RewardStatus.REDEEMED
        ]
        everything = pending + redeemed
        return [r for r in everything if status is None or r.status == status]


def build(
    campaign: str, config: CampaignConfig, *, key: str, limiter: RateLimiter, policy: RetryPolicy
) -> ViralLoopsProgram:
    client = ViralLoopsClient(key, config.campaign_id, limiter=limiter, policy=policy)
    return ViralLoopsProgram(campaign, config, client)
