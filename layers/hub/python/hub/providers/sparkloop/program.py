"""The hub's operations on a SparkLoop campaign.

SparkLoop's API covers subscribers only: adding, reading and listing them. It has no conversion step
(a referral counts when the friend subscribes), no rewards, no flag and no leaderboard endpoint, so
those operations answer 501. A subscriber has no place for custom data: an add with ``metadata`` is
refused (422), not stripped of it; ``userAgent``, ``utmSource``, ``utmCampaign`` and ``signedUpAt`` go
to ``user_agent``, ``utm_source``, ``utm_campaign`` and ``created_at``. Referrals are the campaign's
referred subscribers whose ``referrer_code`` is the participant's ``ref_code``, read page by page.
Listing participants (the scheduled stats sync) walks every subscriber the same way.
"""

from __future__ import annotations

from collections.abc import Iterator

from hub.domain.errors import EmailTaken
from hub.domain.models import Participant, Provider, Referral
from hub.domain.requests import AddParticipantRequest
from hub.providers.http import RetryPolicy
from hub.providers.program import ReferralProgram
from hub.providers.ratelimit.local import RateLimiter
from hub.providers.sparkloop.client import SparkLoopClient, normalize_participant, normalize_referrals
from hub.settings.config import CampaignConfig


class SparkLoopProgram(ReferralProgram):
    provider = Provider.SPARKLOOP
    client: SparkLoopClient
    add_fields = frozenset(
        {"firstName", "lastName", "referrer", "ipAddress", "userAgent", "utmSource", "utmCampaign", "signedUpAt"}
    )

    def probe(self) -> str:
        self.client.get_subscribers(per_page=1)
        return ""

    def add_participant(self, request: AddParticipantRequest) -> tuple[Participant, bool]:
        self.refuse_unplaced(request)
        referrer = self.referral_code_of(request.referrer) if request.referrer else None
        name = " ".join(part for part in (request.first_name, request.last_name) if part) or None
        try:
            answer = self.client.create_subscriber(
                request.email,
                name=name,
                referrer_code=referrer,
                ip_address=request.ip_address,
                user_agent=request.user_agent,
                utm_source=request.utm_source,
                utm_campaign=request.utm_campaign,
                created_at=request.signed_up_at,
            )
        except EmailTaken:
            # SparkLoop answers 400 "Email has already been taken": the hub answers the existing one.
            return self.get_participant(request.email), False
        return normalize_participant(answer, self.campaign), True

    def get_participant(self, email: str) -> Participant:
        return normalize_participant(self.client.get_subscriber_by_email(email), self.campaign)

    def participants(self) -> Iterator[Participant]:
        for item in self.client.iter_subscribers():
            if isinstance(item, dict) and item.get("email"):
                yield normalize_participant(item, self.campaign)

    def referrals(self, email: str) -> list[Referral]:
        code = self.get_participant(email).referral_code
        if not code:
            return []
        return normalize_referrals(list(self.client.iter_subscribers(type="referrals")), referrer_code=code)


def build(
    campaign: str, config: CampaignConfig, *, key: str, limiter: RateLimiter, policy: RetryPolicy
) -> SparkLoopProgram:
    client = SparkLoopClient(key, config.campaign_id, limiter=limiter, policy=policy)
    return SparkLoopProgram(campaign, config, client)
