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
  participant named in the request. With ``fulfill=False`` it only approves (``approve`` with
  ``fulfill: false``, the document's one flag for it) and answers ``approved``; a reward approved or
  fulfilled already is 409 then (GrowSurf refuses to approve it again, with no documented error).
- A trigger, approve or fulfill whose answer was lost (a 5xx or a read timeout after it was sent:
  :class:`~hub.domain.errors.AnswerLost`) is reconciled, not retried blindly
  (:func:`hub.providers.http.reconcile_write`): the participant is read back (``CREDIT_AWARDED``, or
  ``CREDIT_EXPIRED`` past the credit window: the trigger was applied) or the reward (fulfilled for a
  redeem, no longer pending for an approve). Applied, the operation answers as on a first success
  (the convert's answer is read from the participant as always); not applied, the write is sent once
  more. A failed read-back is the provider's error: the caller, or SQS for a bulk row, tries again.
  The same holds for a delete (done when the email is not found), a reward removal (done when the
  participant no longer has the reward) and an update of the email or the referrer (done when the
  participant, by its id, is under the new email with the referrer sent); their second send's 404 is
  read back too. An add is retried as any call (GrowSurf answers an email it has with that participant
  unchanged), and so is an update of names or metadata (the same fields set again).
- Campaign details are Get Campaign: its name, status, counts and reward catalog.
- The participants page is Get Participants (``limit``, ``nextId``); the cursor is GrowSurf's
  ``nextId``, handed back untouched. A cursor GrowSurf refuses (400) is the caller's: 422 naming
  ``cursor``, not the provider's failure.
- Update is Update Participant by Email. Its document promises "an error response" for a new email
  another participant has and for a referrer when one is assigned already, but no status or body, so
  those states are read before the update, not recognised in its error: the new email is looked up
  (another participant's: 409 ``EMAIL_TAKEN`` naming ``email``); the referrer, a referral code (the
  referrer's GrowSurf id) or an email, is looked up by id or email (none: 422 naming ``referrer``;
  the participant itself: 422; the participant referred by someone else already: 409 naming
  ``referrer``; by the same one: nothing to send) and sent as its id, with the ``referralStatus`` of
  the campaign's ``credit_referrals``, as an add sends it. The answer is the participant GrowSurf
  returns. A refusal of the update itself is read again for a taken email (another participant may
  have taken it meanwhile).
- Delete is Remove Participant by Email, one call; its 404 is "no such participant".
- Remove reward reads the participant's rewards first: only one of theirs is removed (another's or an
  unknown id is 404 naming ``rewardId``, and reaches no remove call), and only while it is not
  approved, which is what the document allows (approved or fulfilled: 409).
- Campaign referrals are Get Referrals and Invites, paged by ``offset``, sorted by ``createdAt``
  ascending (see :meth:`GrowSurfProgram.campaign_referrals`).
- Flag answers 501: GrowSurf has no flag endpoint (fraud is its own ``fraudRiskLevel``).
- Listing participants and pending rewards (the scheduled tasks) walks Get Participants in sign-up
  order (a stable order to page through, unlike the leaderboard, which reorders as counts change).
  A participant object carries its ``rewards``, so pending rewards need no call per participant; one
  whose answer has no ``rewards`` field has them read with Get Participant Rewards.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import partial
from typing import Any

from hub.domain.errors import (
    AlreadyConverted,
    AlreadyRedeemed,
    Conflict,
    EmailTaken,
    NotReferred,
    ParticipantNotFound,
    ProviderError,
    RewardNotFound,
    ValidationError,
)
from hub.domain.models import (
    Campaign,
    Conversion,
    Page,
    Participant,
    Provider,
    Redemption,
    Referral,
    ReferralStatus,
    Reward,
    RewardRemoval,
    RewardStatus,
)
from hub.domain.requests import AddParticipantRequest, UpdateParticipantRequest
from hub.providers.growsurf.client import (
    MAX_LIMIT,
    REFERRAL_STATUS_FILTER,
    GrowSurfClient,
    answer_object,
    normalize_campaign,
    normalize_leaderboard,
    normalize_participant,
    normalize_participant_answer,
    normalize_participants_page,
    normalize_referrals,
    normalize_referrals_page,
    normalize_rewards,
)
from hub.providers.http import RetryPolicy, found, reconcile_write
from hub.providers.program import ReferralProgram
from hub.providers.ratelimit.local import RateLimiter
from hub.settings.config import CampaignConfig

CREDIT_PENDING, CREDIT_AWARDED = "CREDIT_PENDING", "CREDIT_AWARDED"
#: The ``referralStatus`` of a referral a trigger was applied to: credited, or expired past the window.
TRIGGERED = frozenset({CREDIT_AWARDED, "CREDIT_EXPIRED"})
#: The ``referralStatus`` a referred sign-up is sent with, per the campaign's ``credit_referrals``.
SIGNUP_REFERRAL_STATUS = {"on_conversion": CREDIT_PENDING, "on_signup": CREDIT_AWARDED}


# Bounds the pages one referrals read walks (100 each): a participant with more is cut, not hung on.
MAX_REFERRAL_PAGES = 20
#: A referral code as GrowSurf can have one: a participant id (or a vanity key, which ``referredBy``
#: does not take, and so is not found). Anything else could not name a participant in a path segment.
_REFERRAL_CODE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
#: A referrals cursor: the offset of the next page, as :func:`normalize_referrals_page` writes it.
_OFFSET_CURSOR = re.compile(r"^[0-9]{1,9}$")
#: Get Referrals' order for paging: creation time, oldest first. New referrals join at the end, and a
#: referral's creation time never changes (its ``updatedAt``, the default order, changes on credit).
REFERRALS_SORT_BY, REFERRALS_DESC = "createdAt", False


class GrowSurfProgram(ReferralProgram):
    provider = Provider.GROWSURF
    client: GrowSurfClient
    add_fields = frozenset({"firstName", "lastName", "referrer", "metadata", "ipAddress"})
    #: Update Participant's body: ``firstName``, ``lastName``, ``email`` (the new one), ``metadata`` and
    #: ``referredBy`` (the hub's ``referrer``).
    update_fields = frozenset({"firstName", "lastName", "email", "metadata", "referrer"})

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
        return normalize_participant_answer(answer, self.campaign), True

    def get_participant(self, email: str) -> Participant:
        return normalize_participant_answer(self.client.get_participant_by_email(email), self.campaign)

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
            reconcile_write(partial(self.client.trigger_referral_by_email, email), partial(self._triggered, email))
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

    def _triggered(self, email: str) -> bool:
        """Whether the participant's referral shows a trigger applied: credited, or expired (a trigger
        past the credit window)."""
        return _referral_status(self.client.get_participant_by_email(email)) in TRIGGERED

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

    def _reward_is(self, email: str, participant_reward_id: str, *statuses: RewardStatus) -> bool:
        """Whether the participant's reward is now in one of ``statuses`` (read back after a lost answer)."""
        reward = self.reward(email, participant_reward_id)
        return reward is not None and reward.status in statuses

    def _own_reward(self, email: str, participant_reward_id: str) -> Reward:
        """The participant's reward ``participant_reward_id``; :class:`RewardNotFound` naming ``rewardId``
        when it is not one of theirs (unknown, or another participant's)."""
        reward = self.reward(email, participant_reward_id)
        if reward is None:
            raise RewardNotFound(
                f"{email} has no reward {participant_reward_id}",
                details=[{"field": "rewardId", "reason": "is not a reward of this participant"}],
            )
        return reward

    def redeem(self, email: str, reward_id: str, milestone_id: str | None, *, fulfill: bool = True) -> Redemption:
        reward = self._own_reward(email, reward_id)
        if reward.status == RewardStatus.REDEEMED:
            raise AlreadyRedeemed(f"reward {reward_id} of {email} is already redeemed")
        if not fulfill:
            return self._approve(email, reward)
        if reward.status == RewardStatus.APPROVED:
            write = partial(self.client.fulfill_participant_reward, reward_id)
        else:
            write = partial(self.client.approve_participant_reward, reward_id, fulfill=True)
        reconcile_write(write, partial(self._reward_is, email, reward_id, RewardStatus.REDEEMED))
        return Redemption(campaign=self.campaign, email=email, reward_id=reward_id, status=RewardStatus.REDEEMED)

    def _approve(self, email: str, reward: Reward) -> Redemption:
        """Approve a pending reward without fulfilling it (``fulfill: false``)."""
        if reward.status != RewardStatus.PENDING:
            raise _already_approved(email, reward.id)
        approve = partial(self.client.approve_participant_reward, reward.id, fulfill=False)
        past_pending = partial(self._reward_is, email, reward.id, RewardStatus.APPROVED, RewardStatus.REDEEMED)
        reconcile_write(approve, past_pending)
        return Redemption(campaign=self.campaign, email=email, reward_id=reward.id, status=RewardStatus.APPROVED)

    def remove_reward(self, email: str, reward_id: str) -> RewardRemoval:
        reward = self._own_reward(email, reward_id)
        if reward.status != RewardStatus.PENDING:
            raise _already_approved(email, reward_id)
        removed = partial(self.client.remove_participant_reward, reward_id)
        try:
            answer = reconcile_write(removed, lambda: self.reward(email, reward_id) is None)
        except (ValidationError, Conflict):
            # No error of this call is documented: one approved meanwhile is told by its state.
            now = self.reward(email, reward_id)
            if now is not None and now.status != RewardStatus.PENDING:
                raise _already_approved(email, reward_id) from None
            raise
        _succeeded(answer, "the reward removal")
        return RewardRemoval(campaign=self.campaign, email=email, reward_id=reward_id, removed=True)

    # -- the campaign and its lists ----------------------------------------------------------------

    def campaign_details(self) -> Campaign:
        return normalize_campaign(self.client.get_campaign(), self.campaign)

    def participants_page(self, cursor: str | None, limit: int) -> Page[Participant]:
        """Get Participants from ``cursor`` (GrowSurf's ``nextId`` of the previous page), in sign-up order."""
        _check_limit(limit)
        try:
            answer = self.client.get_participants(next_id=cursor, limit=limit)
        except ValidationError:
            if cursor is None:
                raise
            raise _bad_cursor("GrowSurf refused it") from None
        return normalize_participants_page(answer, self.campaign)

    def campaign_referrals(self, cursor: str | None, limit: int, status: ReferralStatus | None) -> Page[Referral]:
        """Get Referrals and Invites, paged by ``offset`` (the cursor is the next page's offset), sorted by
        ``createdAt`` ascending; ``status`` filters on GrowSurf's ``referralStatus``.

        Offset, not ``nextId``: both are documented, but the only paging field of the answer the document
        says is always there is ``more``, and with ``offset`` that is all the hub needs (it counts the
        offset itself). ``nextId`` is described as an id "based on the provided sortBy value" while the
        example gives an email, so what it holds is unclear, and ``nextOffset`` appears in the example
        only. Sorting on ``createdAt`` oldest first keeps offsets still while paging: new referrals join
        at the end, and a referral's creation time does not change (its ``updatedAt``, the default sort,
        changes when it is credited, which would move it between pages).
        """
        _check_limit(limit)
        offset = _offset_of(cursor)
        try:
            answer = self.client.get_referrals(
                sort_by=REFERRALS_SORT_BY,
                desc=REFERRALS_DESC,
                limit=limit,
                offset=offset,
                referral_status=REFERRAL_STATUS_FILTER[status] if status is not None else None,
            )
        except ValidationError:
            if cursor is None:
                raise
            raise _bad_cursor("GrowSurf refused it") from None
        return normalize_referrals_page(answer, offset)

    # -- update and delete -------------------------------------------------------------------------

    def update_participant(self, email: str, update: UpdateParticipantRequest) -> Participant:
        self.refuse_unplaced(update, self.update_fields)
        # The participant is read only when the update's checks need it; a names or metadata update is
        # one call, whose 404 says there is no such participant.
        current = self._participant_object(email) if update.email or update.referrer else None
        referrer_id = self._checked_changes(current, update)
        try:
            answer = self._send_update(email, update, referrer_id, current)
        except (ValidationError, Conflict):
            # Another participant may have taken the email since it was checked.
            if current is not None and update.email is not None and self._taken_by_other(current, update.email):
                raise _email_taken(update.email) from None
            raise
        return normalize_participant_answer(answer, self.campaign)

    def _checked_changes(self, current: dict[str, Any] | None, update: UpdateParticipantRequest) -> str | None:
        """Refuse a taken email or a referrer GrowSurf would refuse, read before the update; answer the
        referrer's id to send as ``referredBy`` (None: none to send)."""
        if current is None:
            return None
        if update.email is not None and self._taken_by_other(current, update.email):
            raise _email_taken(update.email)
        return self._referrer_id(current, update.referrer) if update.referrer else None

    def _send_update(
        self, email: str, update: UpdateParticipantRequest, referrer_id: str | None, current: dict[str, Any] | None
    ) -> Any:
        """Update Participant by Email with the update's fields; a referrer goes with the ``referralStatus``
        of the campaign's ``credit_referrals``, as on an add. A new email or a referrer (``current`` is
        read then) is a write reconciled when its answer is lost: the participant is read under its
        new address and the update is done when it shows the email and the referrer sent."""
        send = partial(
            self.client.update_participant_by_email,
            email,
            referred_by=referrer_id,
            referral_status=SIGNUP_REFERRAL_STATUS[self.config.credit_referrals] if referrer_id else None,
            email=update.email,
            first_name=update.first_name,
            last_name=update.last_name,
            metadata=update.metadata,
        )
        if current is None:
            return send()
        address = update.email or email
        landed = partial(self._update_landed, current, address, referrer_id)
        answer = reconcile_write(send, landed)
        return answer if answer is not None else self.client.get_participant_by_email(address)

    def _update_landed(self, current: dict[str, Any], address: str, referrer_id: str | None) -> bool:
        """Whether the participant ``current`` is now at ``address`` with the referrer ``referrer_id`` (if
        one was sent): an update of its email or referrer applied."""
        try:
            now = self._participant_object(address)
        except ParticipantNotFound:
            return False
        if now["id"] != current["id"]:
            return False
        return referrer_id is None or _assigned_referrer_id(now) == referrer_id

    def delete_participant(self, email: str) -> None:
        answer = reconcile_write(partial(self.client.remove_participant_by_email, email), partial(self._gone, email))
        _succeeded(answer, "the participant removal")

    def _gone(self, email: str) -> bool:
        """Whether GrowSurf has no participant ``email`` now (read back after a removal's lost answer)."""
        return not found(partial(self.client.get_participant_by_email, email))

    def _participant_object(self, id_or_email: str) -> dict[str, Any]:
        """GrowSurf's participant object (by email when ``id_or_email`` has an ``@``, else by id)."""
        if "@" in id_or_email:
            answer = self.client.get_participant_by_email(id_or_email)
        else:
            answer = self.client.get_participant_by_id(id_or_email)
        participant = answer_object(answer, "the participant")
        if not _text(participant.get("id")):
            raise ProviderError("GrowSurf answered a participant without an id")
        return participant

    def _taken_by_other(self, current: dict[str, Any], new_email: str) -> bool:
        """Whether ``new_email`` is the email of a participant other than ``current``."""
        if new_email.casefold() == str(current.get("email") or "").casefold():
            return False
        try:
            owner = self._participant_object(new_email)
        except ParticipantNotFound:
            return False
        return bool(owner["id"] != current["id"])

    def _referrer_id(self, current: dict[str, Any], referrer: str) -> str | None:
        """The GrowSurf id to send as ``referredBy`` for ``referrer`` (a referral code or an email); None
        when it is the participant's referrer already (nothing to change)."""
        found = self._referrer_object(referrer)
        if found["id"] == current["id"]:
            raise _bad_referrer("a participant cannot be its own referrer")
        assigned = _assigned_referrer_id(current)
        if assigned == found["id"]:
            return None
        if assigned is not None or _referral_status(current) is not None:
            raise Conflict(
                f"{current.get('email')} has a referrer already; GrowSurf does not change it",
                details=[{"field": "referrer", "reason": "the participant has a referrer already"}],
            )
        return str(found["id"])

    def _referrer_object(self, referrer: str) -> dict[str, Any]:
        """The participant ``referrer`` names; 422 naming ``referrer`` when there is none."""
        if "@" not in referrer and not _REFERRAL_CODE.fullmatch(referrer):
            raise _bad_referrer("is not a referral code of this campaign")
        try:
            return self._participant_object(referrer)
        except ParticipantNotFound:
            raise _bad_referrer("no participant of this campaign has this referral code or email") from None

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


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _assigned_referrer_id(participant: dict[str, Any]) -> str | None:
    """The id of the participant's referrer as its object shows it (an object, or defensively an id)."""
    referrer = participant.get("referrer")
    if isinstance(referrer, dict):
        return _text(referrer.get("id"))
    return _text(referrer)


def _succeeded(answer: Any, what: str) -> None:
    """A documented ``{"success": true}`` answer; an explicit ``success: false`` is the provider's failure."""
    if isinstance(answer, dict) and answer.get("success") is False:
        raise ProviderError(f"GrowSurf answered {what} with success: false")


def _email_taken(email: str) -> EmailTaken:
    return EmailTaken(
        f"another participant of this campaign has the email {email}",
        details=[{"field": "email", "reason": "another participant of this campaign has this email"}],
    )


def _already_approved(email: str, reward_id: str) -> Conflict:
    return Conflict(
        f"reward {reward_id} of {email} is already approved",
        details=[{"field": "rewardId", "reason": "the reward is already approved"}],
    )


def _bad_referrer(reason: str) -> ValidationError:
    return ValidationError(
        "the referrer is not a participant of this campaign", details=[{"field": "referrer", "reason": reason}]
    )


def _bad_cursor(reason: str) -> ValidationError:
    return ValidationError(
        "the cursor is not the nextCursor of a previous page",
        details=[{"field": "cursor", "reason": f"must be the nextCursor of a previous page; {reason}"}],
    )


def _check_limit(limit: int) -> None:
    """GrowSurf's lists take 1 to 100 items a page (the hub's route checks it too)."""
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationError(
            "the limit is invalid",
            details=[{"field": "limit", "reason": f"must be a whole number from 1 to {MAX_LIMIT}"}],
        )


def _offset_of(cursor: str | None) -> int:
    """The offset a referrals cursor holds (0 without one); 422 naming ``cursor`` for any other text."""
    if cursor is None:
        return 0
    if not _OFFSET_CURSOR.fullmatch(cursor):
        raise _bad_cursor("a referrals cursor is a number")
    return int(cursor)


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
