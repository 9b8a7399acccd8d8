"""Viral Loops: the client of its participant and reward endpoints, and the normalizers of its answers.

Follows the provider's API reference. Where the
document contradicts itself, these are the choices made:

- **Base URL and versions.** The base URL is the one configured (``VIRAL_LOOPS_API_URL``, default
  ``https://app.viral-loops.com/api``); each method appends ``/v2/...`` or ``/v3/...`` as its section
  writes it. The reward endpoints are documented on another host (``api.viral-loops.com/v2/...``);
  with one configurable base URL they are sent to ``<base>/v2/campaign/participant/rewards/...``.
- **Flag** is ``/v3/campaign/participant/flag`` (the endpoint overview, the most specific part of its
  section), not the ``/v2`` of the section's sample request.
- **Get referrer** exists in two forms: ``/v2`` with ``campaignId`` and ``email``
  (:meth:`ViralLoopsClient.get_referrer_by_participant`) and ``/v3`` with ``email`` and ``apiToken``
  in the query (:meth:`ViralLoopsClient.get_referrer_by_referred_participant`). Both are offered.
- **Redeem** exists in two forms too: the section-3 ``POST /v2/campaign/participant/redeem`` with a
  ``milestoneId`` (:meth:`ViralLoopsClient.redeem_milestone`) and the reward section's
  ``POST /v2/campaign/participant/rewards/redeem`` with ``milestoneId`` and ``rewardId``
  (:meth:`ViralLoopsClient.redeem_reward`).
- **Authentication.** The document names the public token, an ``apiToken`` body field (PUT; spelt
  "Apitokken" in its table), an ``x-api-token`` header (rewards) and an ``apiToken`` query parameter
  (v3 referrer). The client sends the secret API token as ``x-api-token`` on every request, and also as
  ``apiToken`` exactly where a section asks for it: the PUT body and the v3 referrer's query. A key in
  a query string is never logged (:mod:`hub.http` logs the path only) and never in a URL path. The
  reward endpoints also get ``x-campaign-id``, the header the document offers to name the campaign.
- **campaignId** goes in the query of every GET and in the body of every POST/PUT where the section
  lists it; the v3 referrer (the token names the campaign) and the reward endpoints (the header does)
  do not take it.
- **Names.** The add participant table has ``firstName`` only; ``last_name`` is sent as ``lastName``
  since the update section says a participant's last name can be changed. ``customFields`` carries
  any other participant data.

Errors (``{"status": "error", "message": ...}``), mapped by :func:`map_error`: 400 -> ValidationError
(a convert of a participant who was not referred is a 400 as well: the document says convert works only
for referred participants); 403 (the document's answer to a missing or wrong token) or 401 ->
ProviderAuthFailed; 404 -> CampaignNotFound / RewardNotFound / NotFound (referrer, order) by message,
else ParticipantNotFound; 409 -> AlreadyConverted, AlreadyRedeemed or EmailTaken ("This email is
already in the system (duplicate submission)", "newEmail is already used") by message, else Conflict.
A 429 (undocumented; the limit is about 300 requests per minute) is retried by :mod:`hub.http`.
"""

from __future__ import annotations

import re
from typing import Any

from hub.config import base_url as configured_base_url
from hub.errors import (
    AlreadyConverted,
    AlreadyRedeemed,
    CampaignNotFound,
    Conflict,
    EmailTaken,
    HubError,
    NotFound,
    ParticipantNotFound,
    RewardNotFound,
    ValidationError,
)
from hub.http import ProviderHttp, ProviderResponse, RetryPolicy, default_error
from hub.models import Participant, Provider, Referral, ReferralStatus, ReferrerRef, Reward, RewardStatus
from hub.throttle import RateLimiter

from .fields import as_int, as_str, compact, parse_time

PROVIDER_NAME = "Viral Loops"

_PARTICIPANT = "/campaign/participant"
_MISSING = re.compile(r"missing required parameters?:\s*(?P<fields>[\w\s,]+)", re.IGNORECASE)


class ViralLoopsClient:
    """One method per endpoint of Viral Loops' API document; each returns the parsed JSON answer."""

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
        self._api_key = api_key
        self.http = ProviderHttp(
            PROVIDER_NAME,
            base_url or configured_base_url(Provider.VIRAL_LOOPS),
            headers={"x-api-token": api_key},
            error_mapper=map_error,
            secrets=(api_key,),
            limiter=limiter,
            policy=policy,
        )

    def _campaign_query(self, email: str, **extra: Any) -> dict[str, Any]:
        return {"campaignId": self.campaign_id, "email": email, **extra}

    @property
    def _reward_headers(self) -> dict[str, str]:
        return {"x-campaign-id": self.campaign_id}

    # -- participants -----------------------------------------------------------------------------

    def add_participant(
        self,
        email: str,
        *,
        first_name: str | None = None,
        last_name: str | None = None,
        referrer: str | None = None,
        custom_fields: dict[str, Any] | None = None,
    ) -> Any:
        """POST /v2/campaign/participant: add a participant; ``referrer`` is the referrer's referral code."""
        body = compact(
            campaignId=self.campaign_id,
            email=email,
            firstName=first_name,
            lastName=last_name,
            referrer=referrer,
            customFields=custom_fields,
        )
        return self.http.request("POST", f"/v2{_PARTICIPANT}", json=body)

    def get_participant(self, email: str) -> Any:
        """GET /v2/campaign/participant: one participant, by email."""
        return self.http.request("GET", f"/v2{_PARTICIPANT}", params=self._campaign_query(email))

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
        """PUT /v2/campaign/participant: update the participant ``email`` names (``apiToken`` in the body)."""
        body = compact(
            apiToken=self._api_key,
            campaignId=self.campaign_id,
            email=email,
            newEmail=new_email,
            firstName=first_name,
            lastName=last_name,
            referrer=referrer,
            customFields=custom_fields,
            sendEmails=send_emails,
            triggerIntegrations=trigger_integrations,
        )
        return self.http.request("PUT", f"/v2{_PARTICIPANT}", json=body)

    def get_participant_data(self, email: str) -> Any:
        """GET /v2/campaign/participant/data: referral count, rewards, custom fields, referred users."""
        return self.http.request("GET", f"/v2{_PARTICIPANT}/data", params=self._campaign_query(email))

    def get_participant_referrals(self, email: str) -> Any:
        """GET /v2/campaign/participant/referrals: the users ``email`` referred, with their status."""
        return self.http.request("GET", f"/v2{_PARTICIPANT}/referrals", params=self._campaign_query(email))

    def convert_participant(self, email: str) -> Any:
        """POST /v2/campaign/participant/convert: mark a referred participant as converted."""
        body = compact(campaignId=self.campaign_id, email=email)
        return self.http.request("POST", f"/v2{_PARTICIPANT}/convert", json=body)

    def flag_participant(self, email: str, reason: str) -> Any:
        """POST /v3/campaign/participant/flag: exclude a participant from the waitlist and leaderboard."""
        body = compact(campaignId=self.campaign_id, email=email, reason=reason)
        return self.http.request("POST", f"/v3{_PARTICIPANT}/flag", json=body)

    def get_participant_order(self, email: str, *, referral_code: str | None = None) -> Any:
        """GET /v2/campaign/participant/order: the order of a participant (Shopify, WooCommerce)."""
        params = self._campaign_query(email, referralCode=referral_code)
        return self.http.request("GET", f"/v2{_PARTICIPANT}/order", params=params)

    def get_referrer_by_participant(self, email: str) -> Any:
        """GET /v2/campaign/participant/referrer: who referred ``email`` (name, referral code)."""
        return self.http.request("GET", f"/v2{_PARTICIPANT}/referrer", params=self._campaign_query(email))

    def get_referrer_by_referred_participant(self, email: str) -> Any:
        """GET /v3/campaign/participant/referrer: the referrer of ``email`` as a full participant.

        This form takes the secret token in the ``apiToken`` query parameter, as its section says.
        """
        params = {"email": email, "apiToken": self._api_key}
        return self.http.request("GET", f"/v3{_PARTICIPANT}/referrer", params=params)

    def get_participant_rank(self, email: str) -> Any:
        """GET /v2/campaign/participant/rank: the participant's position on the leaderboard."""
        return self.http.request("GET", f"/v2{_PARTICIPANT}/rank", params=self._campaign_query(email))

    # -- rewards ----------------------------------------------------------------------------------

    def redeem_milestone(self, email: str, milestone_id: str) -> Any:
        """POST /v2/campaign/participant/redeem: mark a participant's milestone reward as redeemed."""
        body = compact(email=email, campaignId=self.campaign_id, milestoneId=milestone_id)
        return self.http.request("POST", f"/v2{_PARTICIPANT}/redeem", json=body)

    def get_pending_rewards(self, email: str) -> Any:
        """GET /v2/campaign/participant/rewards/pending: rewards earned but not yet redeemed."""
        return self.http.request(
            "GET", f"/v2{_PARTICIPANT}/rewards/pending", params={"email": email}, headers=self._reward_headers
        )

    def redeem_reward(self, email: str, milestone_id: str, reward_id: str) -> Any:
        """POST /v2/campaign/participant/rewards/redeem: mark one pending reward as redeemed."""
        body = compact(email=email, milestoneId=milestone_id, rewardId=reward_id)
        return self.http.request("POST", f"/v2{_PARTICIPANT}/rewards/redeem", json=body, headers=self._reward_headers)


# -- errors ---------------------------------------------------------------------------------------


def map_error(response: ProviderResponse) -> HubError:
    """Viral Loops' documented errors as domain errors (the table is in the module docstring)."""
    status, message = response.status, response.message
    lowered = message.lower()
    text = f"{PROVIDER_NAME}: {message}"
    if status in (400, 422):
        return ValidationError(f"{PROVIDER_NAME} rejected the request: {message}", details=_details(message))
    if status == 404:
        if "campaign" in lowered:
            return CampaignNotFound(text)
        if "reward" in lowered or "milestone" in lowered:
            return RewardNotFound(text)
        if "referrer" in lowered or "order" in lowered:
            return NotFound(text)
        return ParticipantNotFound(text)
    if status == 409:
        if "converted" in lowered:
            return AlreadyConverted(text)
        if "redeemed" in lowered:
            return AlreadyRedeemed(text)
        if "email" in lowered or "duplicate" in lowered:
            return EmailTaken(text)
        return Conflict(text)
    return default_error(PROVIDER_NAME, response)


def _details(message: str) -> list[dict[str, Any]]:
    """The fields a 400 names: "Missing required parameters: email, campaignId" gives one detail each."""
    match = _MISSING.search(message)
    if match:
        fields = [name.strip() for name in match.group("fields").split(",") if name.strip()]
        return [{"field": name, "reason": "missing"} for name in fields]
    if "referred" in message.lower():
        return [{"field": "email", "reason": message}]
    return []


# -- normalizers ----------------------------------------------------------------------------------


def _unwrap(payload: Any) -> Any:
    """The ``data`` of a ``{"status": ..., "data": ...}`` answer, or the payload itself."""
    if isinstance(payload, dict) and "data" in payload and ("status" in payload or len(payload) == 1):
        return payload["data"]
    return payload


def normalize_referrer(payload: Any) -> ReferrerRef | None:
    """Who referred a participant, from any of Viral Loops' shapes; None when nobody did.

    Accepts the GET participant ``referrer`` (``{email, referralCode}`` or a bare referral code), the v2
    referrer answer (``{"referrer": {name, referralCode, campaignId}}``) and the v3 one (the referrer
    as a participant: ``_id``, ``firstName``, ``referralCode``...; empty when nobody referred).
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


def normalize_participant(payload: dict[str, Any], campaign: str) -> Participant:
    """A Viral Loops participant as the hub's :class:`Participant`.

    ``payload`` is an answer of GET participant, GET participant/data or add/update participant (with
    or without its ``{"status", "data"}`` envelope). ``id`` is ``_id`` (or ``id``); ``referralCount``
    is read from ``referralCount`` (v2) or ``referralsCount`` (v3); ``flagged`` from ``flagged``;
    ``createdAt`` from ISO 8601 or epoch milliseconds. ``providerData`` is the provider's object as is.
    """
    data = _unwrap(payload)
    if not isinstance(data, dict):
        raise ValueError("a Viral Loops participant must be a JSON object")
    count = data.get("referralCount", data.get("referralsCount"))
    return Participant(
        id=as_str(data.get("_id", data.get("id"))),
        email=str(data["email"]),
        first_name=as_str(data.get("firstName")),
        last_name=as_str(data.get("lastName")),
        referral_code=as_str(data.get("referralCode")),
        share_url=as_str(data.get("shareUrl")),
        referral_count=as_int(count) or 0,
        rank=as_int(data.get("rank"), None),
        referrer=normalize_referrer(data["referrer"]) if data.get("referrer") else None,
        flagged=bool(data.get("flagged", False)),
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
