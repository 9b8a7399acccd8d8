"""The hub's operations on a Viral Loops campaign.

Viral Loops has no leaderboard endpoint the hub can page through (the reference only mentions one in
passing), so ``leaderboard`` answers 501, and no endpoint that lists a campaign's participants, so the
scheduled tasks cannot walk its participants or find its pending rewards (the pending rewards endpoint
takes one participant's email): they skip Viral Loops campaigns. A referrer given by email is resolved
to its referral code, since Viral Loops takes only codes.

Add participant: the add section documents ``firstName``, ``referrer`` (a referral code) and
``customFields``, so :attr:`ViralLoopsProgram.add_fields` is ``firstName``, ``lastName``, ``referrer``
and ``metadata`` (sent as ``customFields``, the document's place for "custom user data").
``lastName`` is not on the add section: the update section says a participant's "name, last name" can
be changed, so a new participant's last name is sent by a ``PUT /v2/campaign/participant`` right after
the add. ``ipAddress`` is refused (422), though the hub once wrote it into ``customFields``: the
document gives no place for it, and ``customFields`` are the campaign's own form fields (a key the
campaign does not define would be dropped or shown as a form answer); a caller who wants it kept as
custom data sends it in ``metadata``. ``userAgent``, ``utmSource``, ``utmCampaign`` and ``signedUpAt``
have no place either and are refused.

Reading a participant takes one call per documented field source: ``GET participant`` (first name,
referral code, count: its answer is not documented), ``GET participant/referrer`` (the referrer, the
only endpoint that documents it; a 404 there is "Referrer not found": nobody referred them) and ``GET
participant/rank``. :meth:`ViralLoopsProgram.get_participant` makes all three (the participant route and
the contact sync, whose stats include the rank); the participant an add answers is read with the first
two (its rank is null); resolving a referrer's email to its code takes the first only. A rank the
campaign does not have (no leaderboard: a 4xx on rank) is null.

Convert answers ``credited``: true only when the documented answer says the participant was converted
and names the referrer it credited; where the answer does not say (no ``converted`` in it), the hub
reads back the v3 referrer endpoint, whose ``referredUsers`` carries each referral's status.
"""

from __future__ import annotations

import contextlib
from typing import Any

from hub.domain.errors import EmailTaken, NotFound, ParticipantNotFound, RewardNotFound, ValidationError
from hub.domain.models import (
    Conversion,
    Flagged,
    Participant,
    Provider,
    Redemption,
    Referral,
    ReferrerRef,
    Reward,
    RewardStatus,
)
from hub.domain.requests import AddParticipantRequest
from hub.providers.fields import as_str
from hub.providers.http import RetryPolicy
from hub.providers.program import ReferralProgram
from hub.providers.ratelimit.local import RateLimiter
from hub.providers.viral_loops.client import (
    ViralLoopsClient,
    normalize_email,
    normalize_participant,
    normalize_referrals,
    normalize_rewards,
)
from hub.settings.config import CampaignConfig


def _data(answer: Any) -> Any:
    return answer.get("data") if isinstance(answer, dict) else None


#: The address the doctor asks Viral Loops about: a reserved domain, so it is never a real participant.
PROBE_EMAIL = "referral-hub-doctor@example.invalid"


class ViralLoopsProgram(ReferralProgram):
    provider = Provider.VIRAL_LOOPS
    client: ViralLoopsClient
    add_fields = frozenset({"firstName", "lastName", "referrer", "metadata"})
    # Its probe asks for nobody: "participant not found" is the answer hoped for, and another 404 says
    # nothing of the campaign.
    probe_not_found_is_campaign = False

    def probe(self) -> str:
        # Viral Loops has no read of a campaign itself: a participant no one is proves the token and
        # the campaign id ("campaign not found" and 401/403 prove them wrong).
        with contextlib.suppress(ParticipantNotFound):
            self.client.get_participant(PROBE_EMAIL)
        return ""

    def add_participant(self, request: AddParticipantRequest) -> tuple[Participant, bool]:
        self.refuse_unplaced(request)
        referrer = self.referral_code_of(request.referrer) if request.referrer else None
        try:
            self.client.add_participant(
                request.email,
                first_name=request.first_name,
                referrer=referrer,
                custom_fields=dict(request.metadata) or None,
            )
        except EmailTaken:
            return self._read(request.email, rank=False), False
        if request.last_name is not None:
            # The add section has no last name; the update section is where Viral Loops changes it.
            self.client.update_participant(request.email, last_name=request.last_name)
        return self._read(request.email, rank=False), True

    def get_participant(self, email: str) -> Participant:
        return self._read(email, rank=True)

    def referral_code_by_email(self, email: str) -> str | None:
        try:
            # Only the code is needed: GET participant alone, not the referrer and rank calls.
            return normalize_participant(self.client.get_participant(email), self.campaign, email=email).referral_code
        except NotFound:
            return None

    def _read(self, email: str, *, rank: bool) -> Participant:
        """The participant, its referrer from the referrer endpoint and, if ``rank``, its rank."""
        answer = self.client.get_participant(email)
        try:
            referrer = self.client.get_referrer_by_participant(email)
        except NotFound:
            referrer = None  # the document's 404 "Referrer not found": nobody referred them
        ranked = None
        if rank:
            try:
                ranked = self.client.get_participant_rank(email)
            except (NotFound, ValidationError):
                ranked = None  # "if your campaign does not use a leaderboard template, the rank may not be available"
        return normalize_participant(answer, self.campaign, email=email, referrer=referrer, rank=ranked)

    def convert(self, email: str) -> Conversion:
        data = _data(self.client.convert_participant(email))
        data = data if isinstance(data, dict) else {}
        referrer = as_str(data.get("referrer"))
        if "converted" in data:
            converted = data.get("converted") is True
            credited = converted and referrer is not None
        else:
            converted = True  # the call succeeded: the participant is marked converted
            credited = self._credited_by_read_back(email)
        triggered = data.get("rewardTriggered")
        return Conversion(
            campaign=self.campaign,
            email=email,
            converted=converted,
            credited=credited,
            referrer=ReferrerRef(email=referrer) if referrer else None,
            reward_triggered=triggered if isinstance(triggered, bool) else None,
        )

    def _credited_by_read_back(self, email: str) -> bool:
        """Whether ``email``'s referral is converted, as its referrer's ``referredUsers`` says (v3 referrer)."""
        try:
            referrer = _data(self.client.get_referrer_by_referred_participant(email))
        except NotFound:
            return False
        users = referrer.get("referredUsers") if isinstance(referrer, dict) else None
        wanted = normalize_email(email)
        for user in users if isinstance(users, list) else []:
            if isinstance(user, dict) and normalize_email(str(user.get("email", ""))) == wanted:
                return str(user.get("status", "")).lower() == "converted"
        return False

    def redeem(self, email: str, reward_id: str, milestone_id: str | None) -> Redemption:
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
        return Redemption(
            campaign=self.campaign,
            email=email,
            reward_id=reward_id,
            milestone_id=milestone_id,
            status=RewardStatus.REDEEMED,
        )

    def flag(self, email: str, reason: str) -> Flagged:
        self.client.flag_participant(email, reason)
        return Flagged(campaign=self.campaign, email=email, flagged=True, reason=reason)

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
