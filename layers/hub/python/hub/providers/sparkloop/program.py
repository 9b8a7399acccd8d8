"""The hub's operations on a SparkLoop campaign.

SparkLoop's API covers subscribers only: adding, reading, listing and deleting them. It has no
conversion step (a referral counts when the friend subscribes), no rewards, no flag and no leaderboard
endpoint, so those operations answer 501; redeem answers 501 whatever its ``fulfill``. A subscriber has
no place for custom data: an add with ``metadata`` is refused (422), not stripped of it; ``userAgent``,
``utmSource``, ``utmCampaign`` and ``signedUpAt`` go to ``user_agent``, ``utm_source``,
``utm_campaign`` and ``created_at``. Referrals are the campaign's referred subscribers whose
``referrer_code`` is the participant's ``ref_code``, read page by page. Listing participants (the
scheduled stats sync) walks every subscriber the same way.

Update participant answers 501: SparkLoop's update only sets a subscriber's status (unsubscribed or
confirmed), which is none of the hub's update fields (names, email, metadata, referrer).

Pages (participants, campaign referrals): the cursor is the next page number as a string, ``limit``
is ``per_page`` (1 to 100, within SparkLoop's 200); a cursor that is not a page number is refused (422
naming ``cursor``) before any call. SparkLoop pages by number, newest first, so a sign-up between two
reads shifts the later pages by one: the next page may repeat the last subscriber of the one before
(a deletion may skip one). The page that is last (``next_cursor`` null) is the one ``meta.total_pages``
says, or one that is empty or short (see the client).

Campaign referrals are the subscribers of ``type=referrals``. SparkLoop keeps no referral status: a
referral counts when the friend subscribes, so every one is ``converted`` (the client's
``normalize_referral``). ``status=converted`` is every referral; any other status is refused (422
naming ``status``) rather than answered as an empty list SparkLoop never had a way to fill.

Delete participant finds the subscriber by email (SparkLoop deletes by UUID): an unknown email is 404
with no delete sent; the subscriber answered must be the one asked for (else 502, nothing deleted);
then the delete by UUID, whose 404 (deleted meanwhile) is 404 too. A second delete of the same email
finds nobody: 404, and no one else is reached.

Lost answers. An add or a delete whose answer was lost (a 5xx or a read timeout after it was sent:
:class:`~hub.domain.errors.AnswerLost`) is reconciled, not retried blindly
(:func:`hub.providers.http.reconcile_write`): the add reads the subscriber by email (there: this add
made it, ``created``; a second send's "Email has already been taken" is the first one's success), the
delete reads the subscriber by UUID (gone: deleted; a second send's 404 is the first one's success).
An email the campaign had before, whose add failed before SparkLoop applied it, is answered
``created`` too: the hub reads nothing before an add.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import partial

from hub.domain.errors import EmailTaken, ValidationError
from hub.domain.models import Page, Participant, Provider, Referral, ReferralStatus
from hub.domain.requests import AddParticipantRequest
from hub.providers.http import RetryPolicy, found, reconcile_write
from hub.providers.program import ReferralProgram
from hub.providers.ratelimit.local import RateLimiter
from hub.providers.sparkloop.client import (
    MAX_PER_PAGE,
    SparkLoopClient,
    normalize_participant,
    normalize_referrals,
    normalize_referrals_page,
    normalize_subscribers_page,
    subscriber_uuid,
)
from hub.settings.config import CampaignConfig

# A page number as the hub hands it out: no sign, no leading zero, ASCII digits only.
_PAGE_NUMBER = re.compile(r"[1-9][0-9]{0,8}")


def page_of(cursor: str | None) -> int:
    """The page number a cursor names (None: the first page); 422 naming ``cursor`` otherwise."""
    if cursor is None:
        return 1
    if not _PAGE_NUMBER.fullmatch(cursor):
        raise ValidationError(
            "the cursor is not one SparkLoop's pages handed out",
            details=[{"field": "cursor", "reason": "must be the nextCursor of a previous page (a page number)"}],
        )
    return int(cursor)


def per_page(limit: int) -> int:
    """``limit`` as SparkLoop's ``per_page``; 422 naming ``limit`` outside 1 to 100."""
    if not 1 <= limit <= min(100, MAX_PER_PAGE):
        raise ValidationError(
            "the limit must be from 1 to 100", details=[{"field": "limit", "reason": "must be from 1 to 100"}]
        )
    return limit


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
        create = partial(
            self.client.create_subscriber,
            request.email,
            name=name,
            referrer_code=referrer,
            ip_address=request.ip_address,
            user_agent=request.user_agent,
            utm_source=request.utm_source,
            utm_campaign=request.utm_campaign,
            created_at=request.signed_up_at,
        )
        try:
            answer = reconcile_write(create, partial(self._exists, request.email), already=(EmailTaken,))
        except EmailTaken:
            # SparkLoop answers 400 "Email has already been taken": the hub answers the existing one.
            return self.get_participant(request.email), False
        if answer is None:
            # The answer was lost and the subscriber is there: this add made it.
            return self.get_participant(request.email), True
        return normalize_participant(answer, self.campaign), True

    def _exists(self, email: str) -> bool:
        """Whether the campaign has a subscriber ``email`` now."""
        return found(partial(self.client.get_subscriber_by_email, email))

    def get_participant(self, email: str) -> Participant:
        return normalize_participant(self.client.get_subscriber_by_email(email), self.campaign)

    def delete_participant(self, email: str) -> None:
        # SparkLoop deletes by UUID: its 404s on the lookup and on the delete are ParticipantNotFound.
        uuid = subscriber_uuid(self.client.get_subscriber_by_email(email), email)
        reconcile_write(partial(self.client.delete_subscriber, uuid), partial(self._gone, uuid))

    def _gone(self, uuid: str) -> bool:
        """Whether the subscriber ``uuid`` is deleted (read back after a delete's lost answer)."""
        return not found(partial(self.client.get_subscriber, uuid))

    def participants_page(self, cursor: str | None, limit: int) -> Page[Participant]:
        page, size = page_of(cursor), per_page(limit)
        answer = self.client.get_subscribers(page=page, per_page=size)
        return normalize_subscribers_page(answer, self.campaign, page)

    def campaign_referrals(self, cursor: str | None, limit: int, status: ReferralStatus | None) -> Page[Referral]:
        if status not in (None, ReferralStatus.CONVERTED):
            raise ValidationError(
                f"SparkLoop has no {status} referrals: every referral counts when the friend subscribes",
                details=[{"field": "status", "reason": "SparkLoop's referrals are all converted"}],
            )
        page, size = page_of(cursor), per_page(limit)
        return normalize_referrals_page(self.client.get_subscribers(type="referrals", page=page, per_page=size), page)

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
