"""GrowSurf: the client of its REST API (v2), and the normalizers of its answers.

Follows the provider's API reference. Where the
document is ambiguous or contradicts itself, these are the choices made:

- **Base URL and auth.** Every call goes to the configured base URL (``GROWSURF_API_URL``, default
  ``https://api.growsurf.com/v2``) with ``Authorization: Bearer <key>``; the key is never in a URL.
- **By id or by email.** Participant endpoints exist twice, on the same path, with an id or an email
  in the last segment; the client has one method for each (``..._by_id`` / ``..._by_email``) and
  URL-encodes the segment (``quote(value, safe="")``), as the document asks for emails.
- **Names.** Methods are named after the document's operations; "Get Referrals and Invites" and "Get
  Participant Referrals and Invites by ID/Email" are :meth:`GrowSurfClient.get_referrals` and
  :meth:`GrowSurfClient.get_participant_referrals_by_id` / ``..._by_email``.
- **Add participant** answers the existing participant for an email already in the campaign; the
  document shows only the body, and the hub expects HTTP 200 for a new and an existing participant
  alike (a caller tells them apart by looking the email up first, or by ``createdAt``).
- **Leaderboard order.** The prose says "ascending"; the example (rank 1 with 1000 referrals first)
  shows descending referral counts, i.e. ascending rank. The example is taken as the truth.
  ``isMonthly`` is deprecated in favour of ``leaderboardType``; both are offered.
- **Rewards by email, paging.** The document says the ``nextId`` of the by-email answer must be used
  with the by-id endpoint; :meth:`GrowSurfClient.iter_participant_rewards` pages by id throughout.
- **Referrals paging.** Both ``offset`` and ``nextId`` are offered, as documented; the answer carries
  ``nextOffset``, ``nextId`` and ``more``. Of these only ``more`` is documented as always present;
  :func:`normalize_referrals_page` pages by offset on it (see
  :meth:`hub.providers.growsurf.program.GrowSurfProgram.campaign_referrals` for why).
- **Approve's ``fulfill``.** The document gives one body field, ``fulfill``: "Set true to mark the
  reward as fulfilled". :meth:`GrowSurfClient.approve_participant_reward` sends it as given, ``false``
  included (approve only), and leaves it out when it is None (the document's default: not fulfilled).
- **Answers that are not objects.** A 2xx whose body is not the documented JSON object (empty, a list)
  is :class:`~hub.domain.errors.ProviderError` in the normalizers, never an unexpected exception.

Errors. GrowSurf documents no error body except the 429's (``code: RATE_LIMIT``), so the client matches
no code or message text it would have to invent; it maps by status, and a 404 by what the path names
(:func:`map_error`, then :func:`_not_found` by the call's path):

- 401/403 -> :class:`~hub.domain.errors.ProviderAuthFailed` (the key is the operator's to fix);
- 404 on a participant path (``/participant/<id or email>`` and below) ->
  :class:`~hub.domain.errors.ParticipantNotFound`, whatever the body says (a wrong campaign id also answers
  there: it cannot be told apart, and the participant is not found either way);
- 404 on a reward path (``/reward/<id>`` and below) -> :class:`~hub.domain.errors.RewardNotFound`;
- 404 on a campaign path (the campaign, its lists, and add participant, whose path names no
  participant) -> :class:`~hub.domain.errors.CampaignNotFound`;
- 400/422 -> :class:`~hub.domain.errors.ValidationError` carrying GrowSurf's message, if any; 409 ->
  :class:`~hub.domain.errors.Conflict`; 5xx -> provider errors (:func:`hub.providers.http.default_error`).

Trigger referral, approve, fulfill, remove participant, remove reward, and an update that changes the
email or assigns a referrer are sent as non-idempotent writes (a 5xx or a read timeout after sending is
not retried blindly: :class:`~hub.domain.errors.AnswerLost`, which the program reconciles by reading
the participant or the reward back): sent again after it was applied, each would answer otherwise (a
404 for the removed or renamed participant, an error for a referrer assigned already). Add participant
and an update of names or metadata are retried as any call: GrowSurf answers an email it has with that
participant unchanged, and setting the same fields again changes nothing.

States GrowSurf reports only through undocumented errors (credit already awarded, reward already
approved or fulfilled, an update's email taken or referrer assigned already) are read by the programs
before they act, not recognised in error bodies.

Rate limit: 30 requests per 5 s, 200 per minute and 10,000 per hour, and 3 concurrent connections
per key: the hub's default limit keeps all three windows (:mod:`hub.providers.ratelimit.shared`). A
429 has ``code: RATE_LIMIT`` and ``GrowSurf-Retry-After-<Window>-Milliseconds`` headers, which
:mod:`hub.providers.http` waits out (the longest of them) before retrying.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

from hub.domain.errors import (
    CampaignNotFound,
    HubError,
    NotFound,
    ParticipantNotFound,
    ProviderError,
    RewardNotFound,
)
from hub.domain.models import (
    Campaign,
    CatalogReward,
    Page,
    Participant,
    Provider,
    Referral,
    ReferralStatus,
    ReferrerRef,
    Reward,
    RewardStatus,
)
from hub.providers.fields import as_int, as_str, compact, parse_time, path_segment
from hub.providers.http import ProviderHttp, ProviderResponse, RetryPolicy, default_error
from hub.providers.ratelimit.local import RateLimiter
from hub.settings.config import base_url as configured_base_url

PROVIDER_NAME = "GrowSurf"

REFERRAL_STATUSES = ("CREDIT_PENDING", "CREDIT_AWARDED", "CREDIT_EXPIRED", "INVITE_SENT")
LEADERBOARD_TYPES = ("ALL_TIME", "CURRENT_MONTH", "PREV_MONTH", "TOTAL_IMPRESSION_COUNT", "UNIQUE_IMPRESSION_COUNT")
REFERRAL_SORT_FIELDS = ("updatedAt", "createdAt", "email", "referralTriggeredAt")
MAX_LIMIT = 100


class GrowSurfClient:
    """One method per endpoint of GrowSurf's REST API; each returns the parsed JSON answer."""

    def __init__(
        self,
        api_key: str,
        campaign_id: str,
        *,
        base_url: str | None = None,
        limiter: RateLimiter | None = None,
        policy: RetryPolicy | None = None,
    ):
        self.campaign_id = campaign_id
        # The path of the call in flight, per thread: a 404's meaning depends on it, and the error is
        # mapped (and counted in the call's metrics) inside the HTTP layer, which knows no paths.
        self._in_flight = threading.local()
        self.http = ProviderHttp(
            PROVIDER_NAME,
            base_url or configured_base_url(Provider.GROWSURF),
            headers={"Authorization": f"Bearer {api_key}"},
            error_mapper=self._map_error,
            secrets=(api_key,),
            limiter=limiter,
            policy=policy,
        )

    @property
    def _campaign(self) -> str:
        return f"/campaign/{path_segment(self.campaign_id)}"

    def _participant(self, id_or_email: str) -> str:
        return f"{self._campaign}/participant/{path_segment(id_or_email)}"

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        """One request; a 404 is narrowed to what the path names, whatever its body (none is documented)."""
        self._in_flight.path = path
        try:
            return self.http.request(method, path, **kwargs)
        finally:
            self._in_flight.path = None

    def _map_error(self, response: ProviderResponse) -> HubError:
        mapped = map_error(response)
        path = getattr(self._in_flight, "path", None)
        if type(mapped) is NotFound and path is not None:
            return _not_found(path[len(self._campaign) :] if path.startswith(self._campaign) else None)
        return mapped

    # -- campaigns --------------------------------------------------------------------------------

    def get_campaign(self) -> Any:
        """GET /campaign/{id}: the campaign, with its counts, status and rewards."""
        return self._call("GET", self._campaign)

    def get_campaigns(self) -> Any:
        """GET /campaigns: every campaign of the account that is not deleted (``{"campaigns": [...]}``)."""
        return self._call("GET", "/campaigns")

    # -- participants -----------------------------------------------------------------------------

    def get_participant_by_id(self, participant_id: str) -> Any:
        """GET /campaign/{id}/participant/{participantId}: one participant."""
        return self._call("GET", self._participant(participant_id))

    def get_participant_by_email(self, participant_email: str) -> Any:
        """GET /campaign/{id}/participant/{participantEmail}: one participant, by email."""
        return self._call("GET", self._participant(participant_email))

    def get_participants(self, *, next_id: str | None = None, limit: int | None = None) -> Any:
        """GET /campaign/{id}/participants: one page (``participants``, ``limit``, ``nextId``); limit <= 100."""
        return self._call("GET", f"{self._campaign}/participants", params={"nextId": next_id, "limit": limit})

    def iter_participants(self, *, limit: int = MAX_LIMIT) -> Iterator[dict[str, Any]]:
        """Every participant of the campaign, following ``nextId`` from page to page."""
        next_id: str | None = None
        while True:
            payload = self.get_participants(next_id=next_id, limit=limit)
            yield from (payload.get("participants") or []) if isinstance(payload, dict) else []
            next_id = payload.get("nextId") if isinstance(payload, dict) else None
            if not next_id:
                return

    def get_leaderboard(
        self,
        *,
        next_id: str | None = None,
        limit: int | None = None,
        leaderboard_type: str | None = None,
        is_monthly: bool | None = None,
    ) -> Any:
        """GET /campaign/{id}/leaderboard: participants by rank, paged by ``nextId`` (1 < limit <= 100).

        ``leaderboard_type`` is one of :data:`LEADERBOARD_TYPES` (default ``ALL_TIME``);
        ``is_monthly`` is the deprecated form of ``CURRENT_MONTH``.
        """
        params = {"nextId": next_id, "limit": limit, "leaderboardType": leaderboard_type, "isMonthly": is_monthly}
        return self._call("GET", f"{self._campaign}/leaderboard", params=params)

    def add_participant(
        self,
        email: str,
        *,
        referred_by: str | None = None,
        referral_status: str | None = None,
        first_name: str | None = None,
        last_name: str | None = None,
        ip_address: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> Any:
        """POST /campaign/{id}/participant: add a participant, or get the existing one with that email.

        ``referred_by`` is the referrer's id or email; ``referral_status`` (``CREDIT_PENDING`` or
        ``CREDIT_AWARDED``) overrides the default the campaign's referral trigger gives.
        """
        body = compact(
            email=email,
            referredBy=referred_by,
            referralStatus=referral_status,
            firstName=first_name,
            lastName=last_name,
            ipAddress=ip_address,
            metadata=metadata,
        )
        return self._call("POST", f"{self._campaign}/participant", json=body)

    def trigger_referral_by_id(self, participant_id: str) -> Any:
        """POST /campaign/{id}/participant/{participantId}/ref: award the referrer's credit (if CREDIT_PENDING)."""
        return self._call("POST", f"{self._participant(participant_id)}/ref", idempotent=False)

    def trigger_referral_by_email(self, participant_email: str) -> Any:
        """POST /campaign/{id}/participant/{participantEmail}/ref: the same, by the referred one's email."""
        return self._call("POST", f"{self._participant(participant_email)}/ref", idempotent=False)

    def update_participant_by_id(
        self,
        participant_id: str,
        *,
        referred_by: str | None = None,
        email: str | None = None,
        first_name: str | None = None,
        last_name: str | None = None,
        metadata: dict[str, Any] | None = None,
        referral_status: str | None = None,
        vanity_keys: list[str] | None = None,
    ) -> Any:
        """POST /campaign/{id}/participant/{participantId}: change the given fields; answers the participant.

        ``metadata`` is merged into the existing one (a key set to None removes it); ``email`` is the
        new address.
        """
        body = _update_body(referred_by, email, first_name, last_name, metadata, referral_status, vanity_keys)
        return self._call("POST", self._participant(participant_id), json=body)

    def update_participant_by_email(
        self,
        participant_email: str,
        *,
        referred_by: str | None = None,
        email: str | None = None,
        first_name: str | None = None,
        last_name: str | None = None,
        metadata: dict[str, Any] | None = None,
        referral_status: str | None = None,
        vanity_keys: list[str] | None = None,
    ) -> Any:
        """POST /campaign/{id}/participant/{participantEmail}: the same, by the participant's current email.

        A new ``email`` or a ``referred_by`` makes it a non-idempotent write (sent again once applied,
        it would meet a 404 or an error)."""
        body = _update_body(referred_by, email, first_name, last_name, metadata, referral_status, vanity_keys)
        idempotent = email is None and referred_by is None
        return self._call("POST", self._participant(participant_email), json=body, idempotent=idempotent)

    def remove_participant_by_id(self, participant_id: str) -> Any:
        """DELETE /campaign/{id}/participant/{participantId}: remove the participant (``{"success": true}``)."""
        return self._call("DELETE", self._participant(participant_id))

    def remove_participant_by_email(self, participant_email: str) -> Any:
        """DELETE /campaign/{id}/participant/{participantEmail}: remove the participant, by email (a
        non-idempotent write: sent again once applied, it meets a 404)."""
        return self._call("DELETE", self._participant(participant_email), idempotent=False)

    # -- participant rewards ----------------------------------------------------------------------

    def get_participant_rewards_by_id(
        self, participant_id: str, *, next_id: str | None = None, limit: int | None = None
    ) -> Any:
        """GET /campaign/{id}/participant/{participantId}/rewards: one page of the participant's rewards."""
        params = {"nextId": next_id, "limit": limit}
        return self._call("GET", f"{self._participant(participant_id)}/rewards", params=params)

    def get_participant_rewards_by_email(
        self, participant_email: str, *, next_id: str | None = None, limit: int | None = None
    ) -> Any:
        """GET /campaign/{id}/participant/{participantEmail}/rewards: the same, by email."""
        params = {"nextId": next_id, "limit": limit}
        return self._call("GET", f"{self._participant(participant_email)}/rewards", params=params)

    def iter_participant_rewards(self, participant_id: str, *, limit: int = MAX_LIMIT) -> Iterator[dict[str, Any]]:
        """Every reward of the participant, following ``nextId`` on the by-id endpoint."""
        next_id: str | None = None
        while True:
            payload = self.get_participant_rewards_by_id(participant_id, next_id=next_id, limit=limit)
            yield from (payload.get("rewards") or []) if isinstance(payload, dict) else []
            next_id = payload.get("nextId") if isinstance(payload, dict) else None
            if not next_id:
                return

    def approve_participant_reward(self, reward_id: str, *, fulfill: bool | None = None) -> Any:
        """POST /campaign/{id}/reward/{rewardId}/approve: approve a reward; ``fulfill=True`` also fulfills it,
        ``fulfill=False`` is sent as ``false`` (approve only), None leaves the field out (not fulfilled)."""
        return self._call(
            "POST",
            f"{self._campaign}/reward/{path_segment(reward_id)}/approve",
            json=compact(fulfill=fulfill),
            idempotent=False,
        )

    def fulfill_participant_reward(self, reward_id: str) -> Any:
        """POST /campaign/{id}/reward/{rewardId}/fulfill: mark an approved reward fulfilled."""
        return self._call("POST", f"{self._campaign}/reward/{path_segment(reward_id)}/fulfill", idempotent=False)

    def remove_participant_reward(self, reward_id: str) -> Any:
        """DELETE /campaign/{id}/reward/{rewardId}: remove a reward that is not approved yet (a
        non-idempotent write: sent again once applied, it meets a 404)."""
        return self._call("DELETE", f"{self._campaign}/reward/{path_segment(reward_id)}", idempotent=False)

    # -- referrals and invites --------------------------------------------------------------------

    def get_referrals(
        self,
        *,
        sort_by: str | None = None,
        desc: bool | None = None,
        limit: int | None = None,
        offset: int | None = None,
        email: str | None = None,
        first_name: str | None = None,
        last_name: str | None = None,
        referral_status: str | None = None,
        next_id: str | None = None,
    ) -> Any:
        """GET /campaign/{id}/referrals: the campaign's referrals and invites ("Get Referrals and Invites")."""
        params = _referral_params(sort_by, desc, limit, offset, email, first_name, last_name, referral_status, next_id)
        return self._call("GET", f"{self._campaign}/referrals", params=params)

    def get_participant_referrals_by_id(
        self,
        participant_id: str,
        *,
        sort_by: str | None = None,
        desc: bool | None = None,
        limit: int | None = None,
        offset: int | None = None,
        email: str | None = None,
        first_name: str | None = None,
        last_name: str | None = None,
        referral_status: str | None = None,
        next_id: str | None = None,
    ) -> Any:
        """GET /campaign/{id}/participant/{participantId}/referrals: whom the participant referred or invited."""
        params = _referral_params(sort_by, desc, limit, offset, email, first_name, last_name, referral_status, next_id)
        return self._call("GET", f"{self._participant(participant_id)}/referrals", params=params)

    def get_participant_referrals_by_email(
        self,
        participant_email: str,
        *,
        sort_by: str | None = None,
        desc: bool | None = None,
        limit: int | None = None,
        offset: int | None = None,
        email: str | None = None,
        first_name: str | None = None,
        last_name: str | None = None,
        referral_status: str | None = None,
        next_id: str | None = None,
    ) -> Any:
        """GET /campaign/{id}/participant/{participantEmail}/referrals: the same, by the participant's email."""
        params = _referral_params(sort_by, desc, limit, offset, email, first_name, last_name, referral_status, next_id)
        return self._call("GET", f"{self._participant(participant_email)}/referrals", params=params)

    def send_participant_invites_by_id(
        self, participant_id: str, *, email_addresses: list[str], message_text: str, subject_text: str
    ) -> Any:
        """POST /campaign/{id}/participant/{participantId}/invites: email invites on the participant's behalf."""
        body = {"emailAddresses": email_addresses, "messageText": message_text, "subjectText": subject_text}
        return self._call("POST", f"{self._participant(participant_id)}/invites", json=body)

    def send_participant_invites_by_email(
        self, participant_email: str, *, email_addresses: list[str], message_text: str, subject_text: str
    ) -> Any:
        """POST /campaign/{id}/participant/{participantEmail}/invites: the same, by the participant's email."""
        body = {"emailAddresses": email_addresses, "messageText": message_text, "subjectText": subject_text}
        return self._call("POST", f"{self._participant(participant_email)}/invites", json=body)


def _update_body(
    referred_by: str | None,
    email: str | None,
    first_name: str | None,
    last_name: str | None,
    metadata: dict[str, Any] | None,
    referral_status: str | None,
    vanity_keys: list[str] | None,
) -> dict[str, Any]:
    return compact(
        referredBy=referred_by,
        email=email,
        firstName=first_name,
        lastName=last_name,
        metadata=metadata,
        referralStatus=referral_status,
        vanityKeys=vanity_keys,
    )


def _referral_params(
    sort_by: str | None,
    desc: bool | None,
    limit: int | None,
    offset: int | None,
    email: str | None,
    first_name: str | None,
    last_name: str | None,
    referral_status: str | None,
    next_id: str | None,
) -> dict[str, Any]:
    # requests URL-encodes query values, which is what the document asks of ``email``.
    return {
        "sortBy": sort_by,
        "desc": desc,
        "limit": limit,
        "offset": offset,
        "email": email,
        "firstName": first_name,
        "lastName": last_name,
        "referralStatus": referral_status,
        "nextId": next_id,
    }


# -- errors ---------------------------------------------------------------------------------------


def _not_found(rest: str | None) -> NotFound:
    """The 404 of a path: ``rest`` is what follows ``/campaign/<id>`` (None off the campaign)."""
    if rest is None:
        return NotFound(f"{PROVIDER_NAME} found no such resource")
    if rest.startswith("/participant/"):
        return ParticipantNotFound(f"{PROVIDER_NAME} has no such participant in this campaign")
    if rest.startswith("/reward/"):
        return RewardNotFound(f"{PROVIDER_NAME} has no such participant reward in this campaign")
    return CampaignNotFound(f"{PROVIDER_NAME} has no campaign with the configured id")


def map_error(response: ProviderResponse) -> HubError:
    """GrowSurf's errors as domain errors, by status alone (GrowSurf documents no error body).

    A 404 becomes a plain :class:`~hub.domain.errors.NotFound` here; the client, which knows the call's path,
    narrows it to what that path names (:func:`_not_found`).
    """
    return default_error(PROVIDER_NAME, response)


# -- normalizers ----------------------------------------------------------------------------------


def normalize_referrer(value: Any) -> ReferrerRef | None:
    """The ``referrer`` of a participant: an object (``id``, ``email``...) or, defensively, an id string.

    The referral code of a GrowSurf referrer is its id (what ``referredBy`` takes).
    """
    if isinstance(value, dict):
        email, code = as_str(value.get("email")), as_str(value.get("id"))
        return ReferrerRef(email=email, referral_code=code) if email or code else None
    if isinstance(value, str) and value:
        return ReferrerRef(email=value, referral_code=None) if "@" in value else ReferrerRef(referral_code=value)
    return None


def normalize_participant(payload: dict[str, Any], campaign: str) -> Participant:
    """A GrowSurf participant as the hub's :class:`Participant`.

    - ``referralCode`` is the participant's ``id``: GrowSurf has no separate code, and the id is what
      ``referredBy`` accepts (the ``grsf`` parameter of the share URL is the id or a vanity key).
    - ``shareUrl``, ``referralCount`` and ``rank`` are taken as given (all-time rank).
    - ``referrer`` is ``{email, referralCode: referrer.id}``, or None when ``referrer`` is null.
    - ``flagged`` is true when ``fraudRiskLevel`` is ``HIGH`` (GrowSurf has no flag of its own; LOW and
      MEDIUM are not flags).
    - ``createdAt`` is epoch milliseconds, turned into a UTC datetime.
    - ``providerData`` is the participant object untouched.
    """
    if not isinstance(payload, dict):
        raise ValueError("a GrowSurf participant must be a JSON object")
    return Participant(
        id=as_str(payload.get("id")),
        email=str(payload["email"]),
        first_name=as_str(payload.get("firstName")),
        last_name=as_str(payload.get("lastName")),
        referral_code=as_str(payload.get("id")),
        share_url=as_str(payload.get("shareUrl")),
        referral_count=as_int(payload.get("referralCount"), 0) or 0,
        rank=as_int(payload.get("rank")),
        referrer=normalize_referrer(payload.get("referrer")),
        flagged=str(payload.get("fraudRiskLevel") or "").upper() == "HIGH",
        created_at=parse_time(payload.get("createdAt")),
        campaign=campaign,
        provider=Provider.GROWSURF,
        provider_data=payload,
    )


def answer_object(payload: Any, what: str) -> dict[str, Any]:
    """``payload`` when it is the JSON object GrowSurf documents for ``what``; else :class:`ProviderError`
    (a 2xx with an empty or other body is the provider's failure, not the caller's)."""
    if not isinstance(payload, dict):
        raise ProviderError(f"{PROVIDER_NAME} answered {what} with something other than a JSON object")
    return payload


def normalize_participant_answer(payload: Any, campaign: str) -> Participant:
    """A single-participant answer (get, add, update) as a :class:`Participant`; an answer that is not a
    participant object with an ``email`` is :class:`ProviderError`."""
    answer = answer_object(payload, "the participant")
    if not answer.get("email"):
        raise ProviderError(f"{PROVIDER_NAME} answered a participant without an email")
    return normalize_participant(answer, campaign)


def normalize_leaderboard(payload: Any, campaign: str) -> Page[Participant]:
    """A leaderboard (or get participants) answer as a page of participants.

    ``next_cursor`` is GrowSurf's ``nextId`` (the id of the participant the next page starts with),
    None when it is null (the last page). An item that is not a participant with an email (the hub's
    participant has one) is left out; an answer that is not an object is :class:`ProviderError`.
    """
    answer = answer_object(payload, "the participants list")
    participants = answer.get("participants")
    items = participants if isinstance(participants, list) else []
    return Page[Participant](
        items=[normalize_participant(item, campaign) for item in items if isinstance(item, dict) and item.get("email")],
        next_cursor=as_str(answer.get("nextId")),
    )


normalize_participants_page = normalize_leaderboard

_REFERRAL_STATUS = {
    "CREDIT_PENDING": ReferralStatus.PENDING,
    "CREDIT_AWARDED": ReferralStatus.CONVERTED,
    "CREDIT_EXPIRED": ReferralStatus.EXPIRED,
    "INVITE_SENT": ReferralStatus.INVITED,
}


#: The hub's referral status as GrowSurf's ``referralStatus`` filter value (the inverse of :func:`referral_status`).
REFERRAL_STATUS_FILTER: dict[ReferralStatus, str] = {hub: growsurf for growsurf, hub in _REFERRAL_STATUS.items()}


def referral_status(value: Any) -> ReferralStatus:
    """GrowSurf's ``referralStatus`` as a :class:`ReferralStatus`.

    CREDIT_PENDING -> pending, CREDIT_AWARDED -> converted, CREDIT_EXPIRED -> expired, INVITE_SENT ->
    invited; anything else (a status GrowSurf might add) -> pending, since no credit is known.
    """
    return _REFERRAL_STATUS.get(str(value or "").upper(), ReferralStatus.PENDING)


def normalize_referral(payload: dict[str, Any]) -> Referral:
    """One item of a referrals-and-invites answer as a :class:`Referral` (status as :func:`referral_status`).

    An invite's email is masked by GrowSurf (``"***************"``); it is given as None.
    """
    email = as_str(payload.get("email"))
    if email is not None and set(email) == {"*"}:
        email = None
    return Referral(
        id=as_str(payload.get("id")),
        email=email,
        first_name=as_str(payload.get("firstName")),
        last_name=as_str(payload.get("lastName")),
        status=referral_status(payload.get("referralStatus")),
        created_at=parse_time(payload.get("createdAt")),
        provider_data=payload,
    )


def normalize_referrals(payload: Any) -> list[Referral]:
    """A referrals-and-invites answer (``{"referrals": [...]}``) or a list of items as Referrals."""
    items = payload.get("referrals") if isinstance(payload, dict) else payload
    return [normalize_referral(item) for item in items or [] if isinstance(item, dict)]


def normalize_referrals_page(payload: Any, offset: int) -> Page[Referral]:
    """A referrals-and-invites answer read from ``offset`` as a page.

    ``next_cursor`` is the offset of the next page (``offset`` plus the items answered) while GrowSurf's
    ``more`` is true, the one paging field the document says is always present; None on the last page,
    and None when ``more`` is true of an empty page (which would otherwise be asked for forever).
    """
    answer = answer_object(payload, "the referrals list")
    listed = answer.get("referrals")
    items = listed if isinstance(listed, list) else []
    more = answer.get("more") is True and bool(items)
    return Page[Referral](items=normalize_referrals(items), next_cursor=str(offset + len(items)) if more else None)


def normalize_catalog_reward(payload: dict[str, Any]) -> CatalogReward:
    """A reward of Get Campaign's ``rewards`` (the catalog) as a :class:`CatalogReward`; ``providerData``
    keeps the whole object (``referralDescription``, ``limit``, ``imageUrl``...)."""
    return CatalogReward(
        id=str(payload["id"]),
        description=as_str(payload.get("description")),
        type=as_str(payload.get("type")),
        conversions_required=as_int(payload.get("conversionsRequired")),
        provider_data=payload,
    )


def normalize_campaign(payload: Any, campaign: str) -> Campaign:
    """Get Campaign's answer as a :class:`Campaign` named ``campaign`` (the hub's name).

    ``name``, ``status``, ``participantCount`` and ``referralCount`` are taken as given; the catalog is
    ``rewards``, each as :func:`normalize_catalog_reward` (an entry without an ``id`` cannot be named, and
    is left out); ``providerData`` is the answer untouched.
    """
    answer = answer_object(payload, "the campaign")
    rewards = answer.get("rewards")
    catalog = [
        normalize_catalog_reward(item)
        for item in (rewards if isinstance(rewards, list) else [])
        if isinstance(item, dict) and as_str(item.get("id"))
    ]
    return Campaign(
        campaign=campaign,
        provider=Provider.GROWSURF,
        name=as_str(answer.get("name")),
        status=as_str(answer.get("status")),
        participant_count=as_int(answer.get("participantCount")),
        referral_count=as_int(answer.get("referralCount")),
        rewards=catalog,
        provider_data=answer,
    )


def reward_status(payload: dict[str, Any]) -> RewardStatus:
    """A ParticipantReward's state as a :class:`RewardStatus`.

    ``status: FULFILLED`` or ``isFulfilled: true`` -> redeemed; ``PENDING`` and ``approved`` ->
    approved; ``PENDING`` and not approved -> pending.
    """
    if str(payload.get("status") or "").upper() == "FULFILLED" or payload.get("isFulfilled") is True:
        return RewardStatus.REDEEMED
    if payload.get("approved") is True:
        return RewardStatus.APPROVED
    return RewardStatus.PENDING


def normalize_reward(payload: dict[str, Any]) -> Reward:
    """A ParticipantReward as a :class:`Reward`.

    ``id`` is the participant reward's id (what approve, fulfill and remove take); ``rewardId`` is
    the campaign reward it is an instance of; status as :func:`reward_status`. GrowSurf gives no
    creation time or description on a ParticipantReward: ``createdAt`` and ``description`` are None.
    """
    return Reward(
        id=str(payload["id"]),
        reward_id=as_str(payload.get("rewardId")),
        milestone_id=None,
        status=reward_status(payload),
        description=None,
        created_at=None,
        provider_data=payload,
    )


def normalize_rewards(payload: Any) -> list[Reward]:
    """The rewards of a participant rewards answer, of a participant object, or a list of rewards."""
    items = payload.get("rewards") if isinstance(payload, dict) else payload
    return [normalize_reward(item) for item in items or [] if isinstance(item, dict)]


def normalize_rewards_page(payload: dict[str, Any]) -> Page[Reward]:
    """A participant rewards answer as a page; ``next_cursor`` is ``nextId`` (None on the last page)."""
    return Page[Reward](items=normalize_rewards(payload), next_cursor=as_str(payload.get("nextId")))
