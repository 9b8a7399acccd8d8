"""Viral Loops: the client of its participant and reward endpoints, and the normalizers of its answers.

Follows the provider's API reference. Where the document contradicts itself or is silent, these are
the choices made (docs/providers.md lists them for users):

- **Hosts and versions.** Two base URLs, as the document writes them: ``VIRAL_LOOPS_API_URL``
  (default ``https://app.viral-loops.com/api``; each method appends ``/v2/...`` or ``/v3/...`` as its
  section writes it) and ``VIRAL_LOOPS_REWARDS_API_URL`` (default ``https://api.viral-loops.com/v2``),
  where the pending rewards and redeem reward sections put their endpoints.
- **Flag** is ``/v3/campaign/participant/flag`` (the endpoint overview, the most specific part of its
  section), not the ``/v2`` of the section's sample request.
- **Get referrer** exists in two forms: ``/v2`` with ``campaignId`` and ``email``
  (:meth:`ViralLoopsClient.get_referrer_by_participant`) and ``/v3`` with ``email`` and ``apiToken``
  in the query (:meth:`ViralLoopsClient.get_referrer_by_referred_participant`). Both are offered.
- **Redeem** exists in two forms too: the section-3 ``POST /v2/campaign/participant/redeem`` with a
  ``milestoneId`` (:meth:`ViralLoopsClient.redeem_milestone`) and the reward section's
  ``POST <rewards>/campaign/participant/rewards/redeem`` with ``milestoneId`` and ``rewardId``
  (:meth:`ViralLoopsClient.redeem_reward`).
- **Authentication.** The document names the public token, an ``apiToken`` body field (PUT; spelt
  "Apitokken" in its table), an ``x-api-token`` header (rewards) and an ``apiToken`` query parameter
  (v3 referrer). The client sends the secret API token as ``x-api-token`` on every request, and also as
  ``apiToken`` exactly where a section asks for it: the PUT body and the v3 referrer's query. A key in
  a query string is never logged (:mod:`hub.providers.http` logs the path only) and never in a URL path. The
  reward endpoints also get ``x-campaign-id``, the header the document offers to name the campaign.
- **campaignId** goes in the query of every GET and in the body of every POST/PUT where the section
  lists it; the v3 referrer (the token names the campaign) and the reward endpoints (the header does)
  do not take it.
- **Emails** are sent the way the document asks ("normalized (lowercase, no whitespace)"): every
  email the client sends, in a body or a query, is stripped and lower-cased (:func:`normalize_email`).
- **Names.** The add participant table has ``firstName`` only, so :meth:`ViralLoopsClient.add_participant`
  takes no last name. ``customFields`` carries any other participant data.
- **Update participant** (section 4, ``PUT /v2/campaign/participant``) is written three ways: its table
  lists ``Apitokken``, ``email``, ``firstName``, ``referrer``, ``sendEmails`` and
  ``triggerIntegrations``; its sample request sends ``campaignId``, ``newEmail``, ``firstName``,
  ``referrer`` and ``customFields``; its introduction says it changes the participant's "name, last
  name". :meth:`ViralLoopsClient.update_participant` takes the union of the table and the sample:
  ``apiToken`` (the table's "Apitokken", spelt as the v3 referrer section spells the token), ``email``
  (the participant's current address, which identifies it), ``campaignId`` (the sample, and the 400's
  "make sure email and campaignId are provided"), ``newEmail``, ``firstName``, ``referrer`` (a referral
  code, as the table says), ``customFields``, and ``sendEmails`` / ``triggerIntegrations`` only when
  given (the hub never sends them, leaving the campaign's own behaviour). **Last name**: neither the
  table nor the sample names a field for it, but the introduction says this is where a last name is
  changed, and the one participant answer that shows a last name (the v3 referrer's) spells it
  ``lastName``: the client sends ``last_name`` as ``lastName``. That name is the hub's reading, not
  the document's, so the program checks what it can: where a read-back shows a ``lastName`` other
  than the one sent, the update is reported as not kept (see the program). Whether ``customFields``
  replaces or merges the participant's custom data is not written: the program always sends the whole
  merged object. The sample answer carries only what changed (``firstName``, ``customFields``), so the
  answer is never read as the participant.

Add, convert, flag, the two redeems and an update that changes the email are sent as non-idempotent
writes: a 5xx or a read timeout after sending is not retried blindly
(:class:`~hub.domain.errors.AnswerLost`); the program reconciles it. Sent again once applied, an add
would meet "already in the system" and a change of email "Participant not found". Any other update
sets the same fields again and is retried as any call.

Errors. The document gives status codes and what they mean, never an error body. :func:`map_error`
turns a status into a domain error; a message text is recognised only where the document writes it
("Participant not found", "Already converted", "The newEmail is already used by another participant",
"Email conflict", "This email is already in the system (duplicate submission)", "Referrer not found",
"No order found"). Whatever the body, each endpoint then says what its 404 and 409 mean
(:class:`_Refusals`): a 404 on a participant path is ParticipantNotFound; on the order and referrer
paths a plain NotFound (the document's "No order found", "Referrer not found") unless the text says
"Participant not found"; on redeem reward RewardNotFound unless it names the participant. A 409 is
EmailTaken on add (a duplicate submission) and update (the newEmail is taken), AlreadyConverted on
convert, AlreadyRedeemed on the two redeems. A 400 is ValidationError (on convert, naming ``email``:
the document says convert works only for referred participants); 401/403 ProviderAuthFailed. A 429
(undocumented; the limit is about 300 requests per minute) is retried by :mod:`hub.providers.http`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hub.domain.errors import (
    AlreadyConverted,
    AlreadyRedeemed,
    Conflict,
    EmailTaken,
    HubError,
    NotFound,
    ParticipantNotFound,
    ProviderError,
    RewardNotFound,
    ValidationError,
)
from hub.domain.models import Participant, Provider, Referral, ReferralStatus, ReferrerRef, Reward, RewardStatus
from hub.providers.fields import as_int, as_str, compact, parse_time
from hub.providers.http import ProviderHttp, ProviderResponse, RetryPolicy, default_error
from hub.providers.ratelimit.local import RateLimiter
from hub.settings.config import base_url as configured_base_url
from hub.settings.config import viral_loops_rewards_url

PROVIDER_NAME = "Viral Loops"

_PARTICIPANT = "/campaign/participant"


def normalize_email(email: str) -> str:
    """An email the way the document asks it sent: no surrounding whitespace, lower case."""
    return email.strip().lower()


def _optional_email(email: str | None) -> str | None:
    return None if email is None else normalize_email(email)


@dataclass(frozen=True)
class _Refusals:
    """What a 404 and a 409 mean on one endpoint, whatever the body says (the document shows none)."""

    not_found: type[NotFound] = ParticipantNotFound
    conflict: type[Conflict] = Conflict
    #: Added to a 400's details: the field the endpoint's 400 is about, and why.
    invalid: dict[str, str] | None = None


_PARTICIPANT_PATH = _Refusals()
_ADD = _Refusals(conflict=EmailTaken)
_UPDATE = _Refusals(conflict=EmailTaken)
_CONVERT = _Refusals(
    conflict=AlreadyConverted,
    invalid={"field": "email", "reason": "Viral Loops converts only participants who signed up as referrals"},
)
_LOOKUP = _Refusals(not_found=NotFound)  # order, referrer: their own documented 404s
_REDEEM = _Refusals(not_found=RewardNotFound, conflict=AlreadyRedeemed)
_MILESTONE = _Refusals(not_found=RewardNotFound, conflict=AlreadyRedeemed)


class ViralLoopsClient:
    """One method per endpoint of Viral Loops' API document; each returns the parsed JSON answer."""

    def __init__(
        self,
        api_key: str,
        campaign_id: str,
        *,
        base_url: str | None = None,
        rewards_url: str | None = None,
        limiter: RateLimiter | None = None,
        policy: RetryPolicy | None = None,
    ):
        self.campaign_id = campaign_id
        self._api_key = api_key

        def host(url: str) -> ProviderHttp:
            return ProviderHttp(
                PROVIDER_NAME,
                url,
                headers={"x-api-token": api_key},
                error_mapper=map_error,
                secrets=(api_key,),
                limiter=limiter,
                policy=policy,
            )

        # Two hosts, one limiter: the documented limit is the provider's, whichever host is called.
        self.http = host(base_url or configured_base_url(Provider.VIRAL_LOOPS))
        self.rewards_http = host(rewards_url or viral_loops_rewards_url())

    def _call(self, http: ProviderHttp, refusals: _Refusals, method: str, path: str, **kwargs: Any) -> Any:
        try:
            return http.request(method, path, **kwargs)
        except HubError as error:
            raise _refine(error, refusals) from None

    def _get(self, path: str, email: str, refusals: _Refusals = _PARTICIPANT_PATH, **extra: Any) -> Any:
        params = {"campaignId": self.campaign_id, "email": normalize_email(email), **extra}
        return self._call(self.http, refusals, "GET", path, params=params)

    @property
    def _reward_headers(self) -> dict[str, str]:
        return {"x-campaign-id": self.campaign_id}

    # -- participants -----------------------------------------------------------------------------

    def add_participant(
        self,
        email: str,
        *,
        first_name: str | None = None,
        referrer: str | None = None,
        custom_fields: dict[str, Any] | None = None,
    ) -> Any:
        """POST /v2/campaign/participant: add a participant; ``referrer`` is the referrer's referral code."""
        body = compact(
            campaignId=self.campaign_id,
            email=normalize_email(email),
            firstName=first_name,
            referrer=referrer,
            customFields=custom_fields,
        )
        return self._call(self.http, _ADD, "POST", f"/v2{_PARTICIPANT}", json=body, idempotent=False)

    def get_participant(self, email: str) -> Any:
        """GET /v2/campaign/participant: one participant, by email (the document shows no answer)."""
        return self._get(f"/v2{_PARTICIPANT}", email)

    def update_participant(
        self,
        email: str,
        *,
        new_email: str | None = None,
        first_name: str | None = None,
        last_name: str | None = None,
        referrer: str | None = None,
        custom_fields: dict[str, Any] | None = None,
        send_emails: bool | None = None,
        trigger_integrations: bool | None = None,
    ) -> Any:
        """PUT /v2/campaign/participant: update the participant ``email`` names (``apiToken`` in the body).

        ``referrer`` is a referral code; ``custom_fields`` is sent as given (the document does not say
        whether it replaces or merges). The answer is the sample's: only what changed, not the participant.
        """
        body = compact(
            apiToken=self._api_key,
            campaignId=self.campaign_id,
            email=normalize_email(email),
            newEmail=_optional_email(new_email),
            firstName=first_name,
            lastName=last_name,
            referrer=referrer,
            customFields=custom_fields,
            sendEmails=send_emails,
            triggerIntegrations=trigger_integrations,
        )
        idempotent = body.get("newEmail") in (None, body["email"])
        return self._call(self.http, _UPDATE, "PUT", f"/v2{_PARTICIPANT}", json=body, idempotent=idempotent)

    def get_participant_data(self, email: str) -> Any:
        """GET /v2/campaign/participant/data: referral count, rewards, custom fields, referred users."""
        return self._get(f"/v2{_PARTICIPANT}/data", email)

    def get_participant_referrals(self, email: str) -> Any:
        """GET /v2/campaign/participant/referrals: the users ``email`` referred, with their status."""
        return self._get(f"/v2{_PARTICIPANT}/referrals", email)

    def convert_participant(self, email: str) -> Any:
        """POST /v2/campaign/participant/convert: mark a referred participant as converted."""
        body = {"campaignId": self.campaign_id, "email": normalize_email(email)}
        return self._call(self.http, _CONVERT, "POST", f"/v2{_PARTICIPANT}/convert", json=body, idempotent=False)

    def flag_participant(self, email: str, reason: str) -> Any:
        """POST /v3/campaign/participant/flag: exclude a participant from the waitlist and leaderboard."""
        body = compact(campaignId=self.campaign_id, email=normalize_email(email), reason=reason)
        return self._call(self.http, _PARTICIPANT_PATH, "POST", f"/v3{_PARTICIPANT}/flag", json=body, idempotent=False)

    def get_participant_order(self, email: str, *, referral_code: str | None = None) -> Any:
        """GET /v2/campaign/participant/order: the order of a participant (Shopify, WooCommerce)."""
        return self._get(f"/v2{_PARTICIPANT}/order", email, _LOOKUP, **compact(referralCode=referral_code))

    def get_referrer_by_participant(self, email: str) -> Any:
        """GET /v2/campaign/participant/referrer: who referred ``email`` (name, referral code)."""
        return self._get(f"/v2{_PARTICIPANT}/referrer", email, _LOOKUP)

    def get_referrer_by_referred_participant(self, email: str) -> Any:
        """GET /v3/campaign/participant/referrer: the referrer of ``email`` as a full participant.

        This form takes the secret token in the ``apiToken`` query parameter, as its section says.
        """
        params = {"email": normalize_email(email), "apiToken": self._api_key}
        return self._call(self.http, _LOOKUP, "GET", f"/v3{_PARTICIPANT}/referrer", params=params)

    def get_participant_rank(self, email: str) -> Any:
        """GET /v2/campaign/participant/rank: the participant's position on the leaderboard."""
        return self._get(f"/v2{_PARTICIPANT}/rank", email)

    # -- rewards ----------------------------------------------------------------------------------

    def redeem_milestone(self, email: str, milestone_id: str) -> Any:
        """POST /v2/campaign/participant/redeem: mark a participant's milestone reward as redeemed."""
        body = {"email": normalize_email(email), "campaignId": self.campaign_id, "milestoneId": milestone_id}
        return self._call(self.http, _MILESTONE, "POST", f"/v2{_PARTICIPANT}/redeem", json=body, idempotent=False)

    def get_pending_rewards(self, email: str) -> Any:
        """GET <rewards>/campaign/participant/rewards/pending: rewards earned but not yet redeemed."""
        return self._call(
            self.rewards_http,
            _PARTICIPANT_PATH,
            "GET",
            f"{_PARTICIPANT}/rewards/pending",
            params={"email": normalize_email(email)},
            headers=self._reward_headers,
        )

    def redeem_reward(self, email: str, milestone_id: str, reward_id: str) -> Any:
        """POST <rewards>/campaign/participant/rewards/redeem: mark one pending reward as redeemed."""
        body = {"email": normalize_email(email), "milestoneId": milestone_id, "rewardId": reward_id}
        return self._call(
            self.rewards_http,
            _REDEEM,
            "POST",
            f"{_PARTICIPANT}/rewards/redeem",
            json=body,
            headers=self._reward_headers,
            idempotent=False,
        )


# -- errors ---------------------------------------------------------------------------------------

# The error texts the document itself writes, in lower case, and the error each one is.
_DOCUMENTED_404 = {
    "participant not found": ParticipantNotFound,
    "referrer not found": NotFound,
    "no order found": NotFound,
}
_DOCUMENTED_409 = {
    "already converted": AlreadyConverted,
    "newemail is already used": EmailTaken,
    "email conflict": EmailTaken,
    "already in the system": EmailTaken,
}


def map_error(response: ProviderResponse) -> HubError:
    """A Viral Loops error answer as a domain error, by status and the document's own texts only.

    The endpoint then refines a 404 or 409 whose text the document does not write (:func:`_refine`).
    """
    status, message = response.status, response.message
    lowered = message.lower()
    text = f"{PROVIDER_NAME}: {message}"
    if status in (400, 422):
        return ValidationError(f"{PROVIDER_NAME} rejected the request: {message}")
    if status == 404:
        found = next((error for words, error in _DOCUMENTED_404.items() if words in lowered), NotFound)
        return found(text)
    if status == 409:
        conflict = next((error for words, error in _DOCUMENTED_409.items() if words in lowered), Conflict)
        return conflict(text)
    return default_error(PROVIDER_NAME, response)


def _refine(error: HubError, refusals: _Refusals) -> HubError:
    """What ``error`` means on the endpoint that answered it (see :class:`_Refusals`)."""
    if type(error) is ValidationError and refusals.invalid is not None and not error.details:
        error.details = [dict(refusals.invalid)]
        return error
    if isinstance(error, NotFound):
        if refusals.not_found is ParticipantNotFound:
            # A 404 on a participant path: that participant is not there, whatever the body says.
            return error if type(error) is ParticipantNotFound else ParticipantNotFound(error.message)
        if type(error) is NotFound and refusals.not_found is not NotFound:
            return refusals.not_found(error.message)
        return error
    if type(error) is Conflict:
        return refusals.conflict(error.message)
    return error


# -- normalizers ----------------------------------------------------------------------------------


def _unwrap(payload: Any) -> Any:
    """The ``data`` of a ``{"status": ..., "data": ...}`` answer, or the payload itself."""
    if isinstance(payload, dict) and "data" in payload and ("status" in payload or len(payload) == 1):
        return payload["data"]
    return payload


def normalize_referrer(payload: Any) -> ReferrerRef | None:
    """Who referred a participant, from the referrer endpoints' answers; None when nobody did.

    Accepts the v2 referrer answer (``{"referrer": {name, referralCode, campaignId}}``) and the v3 one
    (the referrer as a participant: ``_id``, ``firstName``, ``referralCode``...; empty when nobody
    referred), with or without their envelope. Neither documents the referrer's email, so ``email`` is
    read only where an answer happens to carry one.
    """
    data = _unwrap(payload)
    if isinstance(data, dict) and isinstance(data.get("referrer"), dict | str):
        data = data["referrer"]
    if isinstance(data, str):
        return ReferrerRef(referral_code=data) if data else None
    if not isinstance(data, dict):
        return None
    email, code = as_str(data.get("email")), as_str(data.get("referralCode"))
    if email is None and code is None:
        return None
    return ReferrerRef(email=email, referral_code=code)


def normalize_rank(payload: Any) -> int | None:
    """The rank endpoint's ``{"data": {"rank": 5}}`` as a number; None where the answer has none."""
    data = _unwrap(payload)
    return as_int(data.get("rank"), None) if isinstance(data, dict) else None


def normalize_participant(
    payload: Any,
    campaign: str,
    *,
    email: str | None = None,
    referrer: Any = None,
    rank: Any = None,
) -> Participant:
    """A Viral Loops participant as the hub's :class:`Participant`, each field from the endpoint that
    documents it.

    ``payload`` is an answer of GET participant or GET participant/data (with or without its
    ``{"status", "data"}`` envelope); GET participant's answer is not documented, so nothing in it is
    required. ``email`` is the email that was asked for, used when the answer carries none.
    ``referrer`` is the answer of the referrer endpoint (None: nobody referred, or not asked) and
    ``rank`` the answer of the rank endpoint (None: not asked, or not available).

    - ``id`` is the referral code (no answer documents an id), or the email when there is no code, so
      it is never null;
    - ``referralCount`` is ``referralCount`` (v2) or ``referralsCount`` (v3), 0 when absent;
    - ``lastName``, ``shareUrl``, ``createdAt`` and ``flagged`` are read if an answer carries them
      (none is documented): null, or false for ``flagged``, otherwise;
    - ``referrer`` and ``rank`` come only from their endpoints, never from fields of this answer.

    ``providerData`` is the provider's object as is. A non-object answer is a :class:`ProviderError`.
    """
    data = _unwrap(payload)
    if not isinstance(data, dict):
        raise ProviderError(f"{PROVIDER_NAME} answered a participant that is not a JSON object")
    address = as_str(data.get("email")) or (normalize_email(email) if email else None)
    code = as_str(data.get("referralCode"))
    identity = code or address
    if identity is None or address is None:
        raise ProviderError(f"{PROVIDER_NAME} answered a participant without an email")
    return Participant(
        id=identity,
        email=address,
        first_name=as_str(data.get("firstName")),
        last_name=as_str(data.get("lastName")),
        referral_code=code,
        share_url=as_str(data.get("shareUrl")),
        referral_count=as_int(data.get("referralCount", data.get("referralsCount")), 0) or 0,
        rank=normalize_rank(rank) if rank is not None else None,
        referrer=normalize_referrer(referrer) if referrer is not None else None,
        flagged=data.get("flagged") is True,
        created_at=parse_time(data.get("createdAt")),
        campaign=campaign,
        provider=Provider.VIRAL_LOOPS,
        provider_data=data,
    )


# Viral Loops' referral statuses ("joined, converted, or pending") onto the hub's.
REFERRAL_STATUS: dict[str, ReferralStatus] = {
    "joined": ReferralStatus.PENDING,
    "pending": ReferralStatus.PENDING,
    "converted": ReferralStatus.CONVERTED,
}


def normalize_referral(item: dict[str, Any]) -> Referral:
    """One referred user (``{email, status, createdAt}``) as a :class:`Referral`.

    Status: ``joined`` -> pending, ``pending`` -> pending, ``converted`` -> converted; anything else
    is taken as pending (signed up, not credited).
    """
    status = REFERRAL_STATUS.get(str(item.get("status", "")).lower(), ReferralStatus.PENDING)
    return Referral(
        id=as_str(item.get("_id", item.get("id"))),
        email=as_str(item.get("email")),
        first_name=as_str(item.get("firstName")),
        last_name=as_str(item.get("lastName")),
        status=status,
        created_at=parse_time(item.get("createdAt")),
        provider_data=item,
    )


def normalize_referrals(payload: Any) -> list[Referral]:
    """The referrals answer (``data`` is a list), or participant/data's ``referredUsers``, as Referrals."""
    data = _unwrap(payload)
    if isinstance(data, dict):
        data = data.get("referredUsers") or []
    return [normalize_referral(item) for item in data or [] if isinstance(item, dict)]


# The reward endpoint's statuses; participant/data's ``isRedeemed`` gives redeemed or pending.
REWARD_STATUS: dict[str, RewardStatus] = {
    "pending": RewardStatus.PENDING,
    "approved": RewardStatus.APPROVED,
    "redeemed": RewardStatus.REDEEMED,
    "delivered": RewardStatus.REDEEMED,
}


def normalize_reward(item: dict[str, Any]) -> Reward:
    """One reward as a :class:`Reward`, from either documented shape.

    - pending rewards item (``rewardId``, ``milestoneId``, ``status``, ``type``...): ``id`` and
      ``rewardId`` are the ``rewardId``; status ``pending`` -> pending (``redeemed``/``delivered`` ->
      redeemed, ``approved`` -> approved; unknown -> pending, the endpoint lists pending ones only);
    - participant/data ``rewards`` item (``milestone``, ``reward``, ``isRedeemed``): ``id`` and
      ``milestoneId`` are the milestone, ``description`` the reward's name; ``isRedeemed`` true ->
      redeemed, else pending.
    """
    if "rewardId" in item:
        status = REWARD_STATUS.get(str(item.get("status", "")).lower(), RewardStatus.PENDING)
        return Reward(
            id=str(item["rewardId"]),
            reward_id=str(item["rewardId"]),
            milestone_id=as_str(item.get("milestoneId")),
            status=status,
            description=as_str(item.get("reward", item.get("type"))),
            created_at=parse_time(item.get("createdAt")),
            provider_data=item,
        )
    milestone = as_str(item.get("milestoneId", item.get("milestone")))
    return Reward(
        id=str(milestone),
        milestone_id=milestone,
        status=RewardStatus.REDEEMED if item.get("isRedeemed") else RewardStatus.PENDING,
        description=as_str(item.get("reward")),
        created_at=parse_time(item.get("createdAt")),
        provider_data=item,
    )


def normalize_rewards(payload: Any) -> list[Reward]:
    """The pending rewards answer (``data`` is a list) or participant/data's ``rewards`` as Rewards."""
    data = _unwrap(payload)
    if isinstance(data, dict):
        data = data.get("rewards") or []
    return [normalize_reward(item) for item in data or [] if isinstance(item, dict)]
