"""The hub's operations on a Viral Loops campaign.

Viral Loops has no leaderboard endpoint the hub can page through (the reference only mentions one in
passing), so ``leaderboard`` answers 501, and no endpoint that lists a campaign's participants, so the
scheduled tasks cannot walk its participants or find its pending rewards (the pending rewards endpoint
takes one participant's email): they skip Viral Loops campaigns. For the same reason the paged
participant list (``participants_page``) and the campaign-wide referral list (``campaign_referrals``)
answer 501: the referrals endpoint takes one participant's email. Deleting a participant answers 501
too: the flag section mentions "[DELETE /campaign/participant]" in passing, but the document never
describes it (no parameters, no answer, no errors), and a delete the hub cannot check is not one it
sends. A referrer given by email is resolved to its referral code, since Viral Loops takes only codes.

Add participant: the add section documents ``firstName``, ``referrer`` (a referral code) and
``customFields``, so :attr:`ViralLoopsProgram.add_fields` is ``firstName``, ``lastName``, ``referrer``
and ``metadata`` (sent as ``customFields``, the document's place for "custom user data").
``lastName`` is not on the add section: the update section says a participant's "name, last name" can
be changed, so a new participant's last name is sent by a ``PUT /v2/campaign/participant`` right after
the add (and checked as an update's is, below). ``ipAddress`` is refused (422), though the hub once
wrote it into ``customFields``: the document gives no place for it, and ``customFields`` are the
campaign's own form fields (a key the campaign does not define would be dropped or shown as a form
answer); a caller who wants it kept as custom data sends it in ``metadata``. ``userAgent``,
``utmSource``, ``utmCampaign`` and ``signedUpAt`` have no place either and are refused.

Update participant (``PUT /v2/campaign/participant``; the client's docstring reads the section):
:attr:`ViralLoopsProgram.update_fields` is ``firstName``, ``lastName`` (the section's introduction
names it; its field name is the hub's reading), ``email`` (sent as ``newEmail``), ``metadata`` (as
``customFields``) and ``referrer`` (as a referral code: an email is resolved first). The document does
not say whether ``customFields`` replaces or merges, so the hub reads the current ones (``GET
participant/data``, which documents them), merges the update into them and sends the whole; a
``null`` value, which the hub's contract reads as "remove this key", is refused (422 naming
``metadata.<key>``): Viral Loops documents no way to remove a custom field. A participant cannot be
its own referrer (422 naming ``referrer``). The PUT's answer holds only what changed, so the hub reads
the participant back (participant and referrer) under its address after the update and answers that.
Where that read-back shows a ``lastName`` other than the one sent, Viral Loops did not keep it: the
hub answers 502 naming ``lastName`` rather than a success that dropped it (where the read-back shows
no last name at all, as the bare GET participant answer does, the hub cannot tell). An unknown
participant is 404 (``ParticipantNotFound``); a ``newEmail`` another participant has is 409
``EMAIL_TAKEN`` naming ``email``; a 400 when a referrer was sent names ``referrer``.

Redeem: Viral Loops marks a reward redeemed in one step and has no approval apart from it, so
``fulfill: false`` is refused (422 naming ``fulfill``) before any call.

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

Lost answers. A convert, redeem or flag whose answer was lost (a 5xx or a read timeout after it was
sent: :class:`~hub.domain.errors.AnswerLost`) is reconciled, not retried blindly
(:func:`hub.providers.http.reconcile_write`), and answered as a first success when the read-back shows
it applied; otherwise it is sent once more, and that send's documented "Already converted" / "already
redeemed" (409) is the first attempt's success. Convert reads the v3 referrer's ``referredUsers``
(the participant ``converted``; the answer's ``credited`` is then true and its referrer is named by
referral code, the one the read shows). Redeem reads the pending rewards: a reward the hub found
pending before (a redeem without ``milestoneId``) and no longer listed was redeemed; with a
``milestoneId`` the hub did not read it before, so it sends the redeem again and a 409 is its own
success. Flag reads GET participant: ``flagged: true`` where the answer shows it; where it does not,
the flag is sent again (flagging sets the same state again). A convert reads the same referrer first:
a participant converted already is 409 ``ALREADY_CONVERTED`` before any convert is sent, so a
read-back after a lost answer that shows the participant converted shows the hub's own conversion
(one call more per convert: the price of telling the two apart).

An add whose answer was lost reads GET participant: the participant is there, so the add made it
(``created``), and a second send's "already in the system" is the first one's success (an email the
campaign had before, whose add failed before Viral Loops applied it, is answered ``created`` too: the
hub reads nothing before an add, and the participant is the same either way). An update that
changes the email and loses its answer is done when nobody is at the old address and somebody is at the
new one; any other update is sent again (it sets the same fields).
"""

from __future__ import annotations

import contextlib
from functools import partial
from typing import Any

from hub.domain.errors import (
    AlreadyConverted,
    AlreadyRedeemed,
    EmailTaken,
    NotFound,
    ParticipantNotFound,
    ProviderError,
    RewardNotFound,
    ValidationError,
)
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
from hub.domain.requests import AddParticipantRequest, UpdateParticipantRequest
from hub.providers.fields import as_str
from hub.providers.http import RetryPolicy, found, reconcile_write
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
    update_fields = frozenset({"firstName", "lastName", "email", "metadata", "referrer"})
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
        add = partial(
            self.client.add_participant,
            request.email,
            first_name=request.first_name,
            referrer=referrer,
            custom_fields=dict(request.metadata) or None,
        )
        try:
            # A lost answer: the participant there now is the one this add made; a second send's
            # "already in the system" is the first one's success.
            reconcile_write(add, partial(self._exists, request.email), already=(EmailTaken,))
        except EmailTaken:
            return self._read(request.email, rank=False), False
        if request.last_name is None:
            return self._read(request.email, rank=False), True
        # The add section has no last name; the update section is where Viral Loops changes it.
        self.client.update_participant(request.email, last_name=request.last_name)
        return _kept_last_name(self._read(request.email, rank=False), request.last_name), True

    def get_participant(self, email: str) -> Participant:
        return self._read(email, rank=True)

    def _exists(self, email: str) -> bool:
        """Whether the campaign has a participant ``email`` now (GET participant)."""
        return found(partial(self.client.get_participant, email))

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
        # Read first, so that a read-back after a lost answer tells the hub's own conversion apart
        # from one made before it (which is 409, as Viral Loops' own "Already converted" is).
        if self._credited_by_read_back(email):
            raise AlreadyConverted(f"{email} was converted already")
        answer = reconcile_write(
            partial(self.client.convert_participant, email),
            partial(self._credited_by_read_back, email),
            already=(AlreadyConverted,),
        )
        if answer is None:
            return self._reconciled_conversion(email)
        data = _data(answer)
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

    def _reconciled_conversion(self, email: str) -> Conversion:
        """The answer to a convert whose own answer was lost and whose read-back shows it converted."""
        referrer = _data(self.client.get_referrer_by_referred_participant(email))
        code = as_str(referrer.get("referralCode")) if isinstance(referrer, dict) else None
        return Conversion(
            campaign=self.campaign,
            email=email,
            converted=True,
            credited=True,
            referrer=ReferrerRef(referral_code=code) if code else None,
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

    def update_participant(self, email: str, update: UpdateParticipantRequest) -> Participant:
        self.refuse_unplaced(update, self.update_fields)
        _refuse_removals(update.metadata)
        referrer = self._update_referrer(email, update.referrer)
        custom_fields = self._merged_custom_fields(email, update.metadata)
        put = partial(
            self.client.update_participant,
            email,
            new_email=update.email,
            first_name=update.first_name,
            last_name=update.last_name,
            referrer=referrer,
            custom_fields=custom_fields,
        )
        try:
            reconcile_write(put, partial(self._moved, email, update.email))
        except EmailTaken as error:
            raise EmailTaken(
                error.message, details=[{"field": "email", "reason": "another participant of the campaign has it"}]
            ) from None
        except ValidationError as error:
            raise _named_refusal(error, update) from None
        # The PUT answers only what changed: the participant is read back under its address now.
        participant = self._read(update.email or email, rank=False)
        return _kept_last_name(participant, update.last_name)

    def _moved(self, email: str, new_email: str | None) -> bool:
        """Whether an update's change of email was applied (read back after its lost answer): nobody is
        at ``email`` and somebody is at ``new_email``."""
        if new_email is None or normalize_email(new_email) == normalize_email(email):
            return False
        return not self._exists(email) and self._exists(new_email)

    def _update_referrer(self, email: str, referrer: str | None) -> str | None:
        """The referral code an update's ``referrer`` (a code or an email) names; not the participant's own."""
        if referrer is None:
            return None
        if normalize_email(referrer) == normalize_email(email):
            raise ValidationError(
                "a participant cannot be its own referrer",
                details=[{"field": "referrer", "reason": "is the participant being updated"}],
            )
        return self.referral_code_of(referrer)

    def _merged_custom_fields(self, email: str, metadata: dict[str, Any] | None) -> dict[str, Any] | None:
        """The participant's custom fields with ``metadata`` merged in (None: no metadata to change).

        The document does not say whether ``customFields`` replaces or merges: the whole merged
        object is what is sent, right under either reading."""
        if metadata is None:
            return None
        current = _data(self.client.get_participant_data(email))
        fields = current.get("customFields") if isinstance(current, dict) else None
        return {**(fields if isinstance(fields, dict) else {}), **metadata}

    def redeem(self, email: str, reward_id: str, milestone_id: str | None, *, fulfill: bool = True) -> Redemption:
        if not fulfill:
            raise self.refuse_approval()
        # Read-back after a lost answer: a reward seen pending before and gone from the list was
        # redeemed; one not read before cannot be told from an unknown one, so it is sent again.
        seen_pending = milestone_id is None
        if milestone_id is None:
            milestone_id = self._pending_milestone(email, reward_id)
        reconcile_write(
            partial(self.client.redeem_reward, email, milestone_id, reward_id),
            partial(self._no_longer_pending, email, reward_id) if seen_pending else _unknown,
            already=(AlreadyRedeemed,),
        )
        return Redemption(
            campaign=self.campaign,
            email=email,
            reward_id=reward_id,
            milestone_id=milestone_id,
            status=RewardStatus.REDEEMED,
        )

    def _pending_milestone(self, email: str, reward_id: str) -> str:
        """The milestone of the participant's pending reward ``reward_id`` (404 if it is not pending)."""
        pending = {r.reward_id: r for r in normalize_rewards(self.client.get_pending_rewards(email))}
        if reward_id not in pending:
            raise RewardNotFound(f"{email} has no pending reward {reward_id}")
        milestone_id = pending[reward_id].milestone_id
        if milestone_id is None:
            raise ValidationError(
                "Viral Loops needs the reward's milestone",
                details=[{"field": "milestoneId", "reason": "is required for this reward"}],
            )
        return milestone_id

    def _no_longer_pending(self, email: str, reward_id: str) -> bool:
        """Whether the pending rewards no longer hold ``reward_id`` (read back after a lost answer)."""
        return all(r.reward_id != reward_id for r in normalize_rewards(self.client.get_pending_rewards(email)))

    def _shows_flagged(self, email: str) -> bool:
        """Whether GET participant shows the participant flagged; False where its answer does not say."""
        data = _data(self.client.get_participant(email))
        return isinstance(data, dict) and data.get("flagged") is True

    def flag(self, email: str, reason: str) -> Flagged:
        reconcile_write(partial(self.client.flag_participant, email, reason), partial(self._shows_flagged, email))
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


def _unknown() -> bool:
    """A read-back that cannot tell: the write is sent again, and its "already done" is the answer."""
    return False


def _refuse_removals(metadata: dict[str, Any] | None) -> None:
    """422 naming each ``metadata`` key set to null: Viral Loops documents no removal of a custom field."""
    removed = [key for key, value in (metadata or {}).items() if value is None]
    if removed:
        raise ValidationError(
            "Viral Loops documents no way to remove a custom field: send a value for each metadata key",
            details=[
                {"field": f"metadata.{key}", "reason": "Viral Loops cannot remove a custom field"} for key in removed
            ],
        )


def _named_refusal(error: ValidationError, update: UpdateParticipantRequest) -> ValidationError:
    """A 400 on update, naming the referrer when one was sent: the one field the hub cannot check first
    (Viral Loops has no lookup by referral code), which it refuses when nobody holds the code."""
    if error.details or update.referrer is None:
        return error
    error.details = [{"field": "referrer", "reason": "Viral Loops refused the update: is it a participant's code?"}]
    return error


def _kept_last_name(participant: Participant, sent: str | None) -> Participant:
    """``participant`` (read back after an update), unless it shows a last name other than ``sent``."""
    shown = participant.provider_data.get("lastName", sent)
    if sent is None or shown == sent:
        return participant
    raise ProviderError(
        f"Viral Loops accepted the update but kept the last name {shown!r}, not {sent!r}; any other change was made",
        details=[{"field": "lastName", "reason": "Viral Loops did not keep it"}],
    )


def build(
    campaign: str, config: CampaignConfig, *, key: str, limiter: RateLimiter, policy: RetryPolicy
) -> ViralLoopsProgram:
    client = ViralLoopsClient(key, config.campaign_id, limiter=limiter, policy=policy)
    return ViralLoopsProgram(campaign, config, client)
