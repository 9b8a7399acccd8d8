"""SparkLoop: the client of its subscriber endpoints, and the normalizers of its answers.

Follows the provider's API reference. Where the
document is ambiguous or contradicts itself, these are the choices made:

- **Host.** Every section is on ``https://api.sparkloop.app/v1`` except "Get a subscriber by UUID",
  which writes ``api.sparkloop.com``. The client sends every call to the one configured base URL
  (``SPARKLOOP_API_URL``, default ``https://api.sparkloop.app/v1``), that section included.
- **Authentication.** The key goes in the ``X-Api-Key`` header of every call, also where a section
  marks it "optional" (get by UUID, get by email): it is never put in a URL. A missing or wrong key is
  undocumented: any 401/403 is :class:`~hub.domain.errors.ProviderAuthFailed`, whatever its body.
- **Get by email** is ``GET /campaigns/{campaign}/subscribers?email=...``, the list's path with the
  ``email`` query parameter; it answers ``{"subscriber": {...}}`` instead of a page.
- **Update subscriber** only changes ``status`` (``unsubscribed`` or ``confirmed``). The documented
  answer does not show the status, so the hub cannot read it back.
- **Paging.** ``get_subscribers`` is one page (``page`` from 1, ``per_page`` up to 200, newest first);
  :meth:`SparkLoopClient.iter_subscribers` walks every page. The paging token the hub hands out is the
  next page number as a string (:func:`normalize_subscribers_page`). The document shows ``meta`` of an
  unfiltered list only: with a ``type``, ``total_pages`` may count every subscriber, not that type. So
  a page is the last one when ``meta`` says so, and also when it is empty or holds fewer subscribers
  than its ``per_page``: a page number past the filtered list is never handed out as a next page.
- **Delete** takes the subscriber's UUID; the hub finds it by email first (:func:`subscriber_uuid`
  checks that the subscriber answered is the one asked for before anything is deleted).
- **Rate limit** (about 60 requests per rolling 60 s per key): a 429 is undocumented, its body
  unread; a ``Retry-After`` is honoured when there is one, else :mod:`hub.providers.http` backs off exponentially.
- **No place for custom data.** The create body has ``email``, ``name``, ``referrer_code``,
  ``ip_address``, ``user_agent``, ``utm_source``, ``utm_campaign`` and ``created_at`` (a sign-up in the
  past, ``YYYY-MM-DDThh:mm:ssTZD``): :meth:`SparkLoopClient.create_subscriber` takes exactly those.

Errors (``{"error": "..."}``), mapped by :func:`map_error` on status and the documented messages
(matched exactly, case-insensitively; nothing else of a body is relied on):

- 400 ``Email has already been taken`` -> :class:`~hub.domain.errors.EmailTaken`;
- 400 ``Email is invalid``, ``You have to provide at least an email`` -> ValidationError (field email);
- 400 ``Invalid status!``, ``You have to update at least 1 field.`` -> ValidationError (field status);
- 400 ``Failed to delete subscriber <uuid>`` -> :class:`~hub.domain.errors.ProviderError` (not the caller's fault);
- any other 400 -> ValidationError carrying SparkLoop's message, no field named;
- 404 ``Campaign <uuid> not found!`` -> :class:`~hub.domain.errors.CampaignNotFound`;
- any other 404 on a subscriber's path (by UUID or by email), whatever its body ->
  :class:`~hub.domain.errors.ParticipantNotFound`; on the list (the only 404 it documents is the campaign's)
  -> CampaignNotFound;
- anything else -> :func:`hub.providers.http.default_error` (401/403 ProviderAuthFailed, 5xx ProviderError...).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from hub.domain.errors import (
    CampaignNotFound,
    EmailTaken,
    HubError,
    ParticipantNotFound,
    ProviderError,
    ValidationError,
)
from hub.domain.models import Page, Participant, Provider, Referral, ReferralStatus, ReferrerRef
from hub.providers.fields import as_int, as_str, compact, parse_time, path_segment
from hub.providers.http import ProviderHttp, ProviderResponse, RetryPolicy, default_error
from hub.providers.ratelimit.local import RateLimiter
from hub.settings.config import base_url as configured_base_url

PROVIDER_NAME = "SparkLoop"

SUBSCRIBER_TYPES = ("all", "referrals", "advocates")
SUBSCRIBER_STATUSES = ("unsubscribed", "confirmed")
MAX_PER_PAGE = 200

# The documented error messages, the only texts the client recognizes (matched whole).
_EMAIL_TAKEN = re.compile(r"email has already been taken\.?", re.IGNORECASE)
_EMAIL_ERRORS = re.compile(r"email is invalid\.?|you have to provide at least an email\.?", re.IGNORECASE)
_STATUS_ERRORS = re.compile(r"invalid status!?|you have to update at least 1 field\.?", re.IGNORECASE)
_DELETE_FAILED = re.compile(r"failed to delete subscriber \S+", re.IGNORECASE)
_CAMPAIGN_NOT_FOUND = re.compile(r"campaign \S+ not found!?", re.IGNORECASE)


def _timestamp(value: str | datetime | None) -> str | None:
    """``created_at`` as the document expects it (``YYYY-MM-DDThh:mm:ssTZD``); naive datetimes are UTC."""
    if value is None or isinstance(value, str):
        return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.isoformat(timespec="seconds")


class SparkLoopClient:
    """One method per endpoint of SparkLoop's subscriber API; each returns the parsed JSON answer."""

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
        self.http = ProviderHttp(
            PROVIDER_NAME,
            base_url or configured_base_url(Provider.SPARKLOOP),
            headers={"X-Api-Key": api_key},
            error_mapper=map_error,
            secrets=(api_key,),
            limiter=limiter,
            policy=policy,
        )

    @property
    def _subscribers(self) -> str:
        return f"/campaigns/{path_segment(self.campaign_id)}/subscribers"

    def create_subscriber(
        self,
        email: str,
        *,
        name: str | None = None,
        referrer_code: str | None = None,
        ip_address: str | None = None,
        user_agent: str | None = None,
        utm_source: str | None = None,
        utm_campaign: str | None = None,
        created_at: str | datetime | None = None,
    ) -> Any:
        """POST /campaigns/{campaign}/subscribers: add a subscriber, credited to ``referrer_code``'s owner.

        ``created_at`` may lie in the past (a string as documented, or a datetime).
        """
        body = compact(
            email=email,
            name=name,
            referrer_code=referrer_code,
            ip_address=ip_address,
            user_agent=user_agent,
            utm_source=utm_source,
            utm_campaign=utm_campaign,
            created_at=_timestamp(created_at),
        )
        # Not idempotent: sent again once applied, it meets "Email has already been taken".
        return self.http.request("POST", self._subscribers, json=body, idempotent=False)

    def get_subscribers(self, *, type: str | None = None, page: int | None = None, per_page: int | None = None) -> Any:
        """GET /campaigns/{campaign}/subscribers: one page of subscribers, newest first, with ``meta``.

        ``type`` is ``all`` (the default), ``referrals`` or ``advocates``; ``per_page`` is at most 200.
        """
        params = {"type": type, "page": page, "per_page": per_page}
        try:
            return self.http.request("GET", self._subscribers, params=params)
        except ParticipantNotFound:
            # The list documents one 404, the campaign's: no subscriber is looked up here.
            raise CampaignNotFound(f"{PROVIDER_NAME}: campaign {self.campaign_id} not found") from None

    def iter_subscribers(self, *, type: str | None = None, per_page: int = MAX_PER_PAGE) -> Iterator[dict[str, Any]]:
        """Every subscriber of the campaign, page after page of :meth:`get_subscribers`.

        The list is newest first, so a sign-up during the walk shifts later pages by one: a
        subscriber seen on an earlier page is not yielded again.
        """
        seen: set[str] = set()
        page = 1
        while True:
            payload = self.get_subscribers(type=type, page=page, per_page=per_page)
            subscribers = (payload.get("subscribers") or []) if isinstance(payload, dict) else []
            yield from _not_seen(subscribers, seen)
            total_pages = _total_pages(payload)
            if not subscribers or total_pages is None or page >= total_pages:
                return
            page += 1

    def get_subscriber(self, uuid: str) -> Any:
        """GET /campaigns/{campaign}/subscribers/{uuid}: one subscriber, by SparkLoop's UUID."""
        return self.http.request("GET", f"{self._subscribers}/{path_segment(uuid)}")

    def get_subscriber_by_email(self, email: str) -> Any:
        """GET /campaigns/{campaign}/subscribers?email=...: one subscriber, by email."""
        return self.http.request("GET", self._subscribers, params={"email": email})

    def delete_subscriber(self, uuid: str) -> Any:
        """DELETE /campaigns/{campaign}/subscribers/{uuid}: remove a subscriber."""
        # Not idempotent: sent again once applied, it meets a 404.
        return self.http.request("DELETE", f"{self._subscribers}/{path_segment(uuid)}", idempotent=False)

    def update_subscriber(self, uuid: str, *, status: str) -> Any:
        """PUT /campaigns/{campaign}/subscribers/{uuid}: set ``status`` to ``unsubscribed`` or ``confirmed``."""
        return self.http.request("PUT", f"{self._subscribers}/{path_segment(uuid)}", json={"status": status})


def _not_seen(subscribers: Any, seen: set[str]) -> Iterator[dict[str, Any]]:
    """The subscribers of a page whose UUID is not in ``seen``, adding each to it as it is yielded."""
    for subscriber in subscribers:
        uuid = str(subscriber.get("uuid"))
        if uuid not in seen:
            seen.add(uuid)
            yield subscriber


def _total_pages(payload: Any) -> int | None:
    """The page count a get subscribers answer gives in its ``meta`` (None when it gives none)."""
    meta = payload.get("meta") if isinstance(payload, dict) else None
    return as_int(meta.get("total_pages")) if isinstance(meta, dict) else None


# -- errors ---------------------------------------------------------------------------------------


def map_error(response: ProviderResponse) -> HubError:
    """SparkLoop's documented errors as domain errors (the table is in the module docstring)."""
    status, message = response.status, response.message.strip()
    text = f"{PROVIDER_NAME}: {message}"
    if status == 400:
        if _EMAIL_TAKEN.fullmatch(message):
            return EmailTaken(text, details=[{"field": "email", "reason": message}])
        if _DELETE_FAILED.fullmatch(message):
            return ProviderError(f"{PROVIDER_NAME} could not delete the subscriber: {message}")
        return ValidationError(f"{PROVIDER_NAME} rejected the request: {message}", details=_details(message))
    if status == 404:
        if _CAMPAIGN_NOT_FOUND.fullmatch(message):
            return CampaignNotFound(text)
        # Every other path is a subscriber's: a 404 there means that subscriber is not there.
        return ParticipantNotFound(text)
    return default_error(PROVIDER_NAME, response)


def _details(message: str) -> list[dict[str, Any]]:
    """The field a documented 400 is about; an undocumented one carries SparkLoop's message alone."""
    if _EMAIL_ERRORS.fullmatch(message):
        return [{"field": "email", "reason": message}]
    if _STATUS_ERRORS.fullmatch(message):
        return [{"field": "status", "reason": message}]
    return [{"reason": message}]


# -- normalizers ----------------------------------------------------------------------------------


def split_name(name: Any) -> tuple[str | None, str | None]:
    """SparkLoop's one ``name`` as (first, last), split on the first space: "Drago Vrago" -> Drago, Vrago."""
    if not isinstance(name, str) or not name.strip():
        return None, None
    first, _, last = name.strip().partition(" ")
    return first, last.strip() or None


def _subscriber(payload: Any) -> dict[str, Any]:
    """The subscriber of a ``{"subscriber": {...}}`` answer, or the payload itself."""
    if isinstance(payload, dict) and isinstance(payload.get("subscriber"), dict):
        payload = payload["subscriber"]
    if not isinstance(payload, dict):
        raise ProviderError(f"{PROVIDER_NAME} answered a subscriber that is not a JSON object")
    return payload


def subscriber_uuid(payload: Any, email: str) -> str:
    """The UUID of the subscriber a get-by-email answer (``{"subscriber": {...}}``) gives for ``email``.

    :class:`ProviderError` unless the answer is one subscriber, with a UUID, whose email is ``email``
    (letter case aside): what the hub then deletes must be the person asked for, never another."""
    data = payload.get("subscriber") if isinstance(payload, dict) else None
    if not isinstance(data, dict):
        raise ProviderError(f"{PROVIDER_NAME} answered a subscriber lookup without a subscriber")
    uuid = as_str(data.get("uuid"))
    if uuid is None or str(data.get("email", "")).strip().lower() != email.strip().lower():
        raise ProviderError(f"{PROVIDER_NAME} answered a subscriber other than the one asked for, or no UUID")
    return uuid


def normalize_participant(payload: dict[str, Any], campaign: str) -> Participant:
    """A SparkLoop subscriber as the hub's :class:`Participant`.

    ``payload`` is a subscriber object or an answer wrapping one (``{"subscriber": {...}}``: create,
    get by UUID or email, update). ``id`` is ``uuid``; first and last name are ``name`` split on the
    first space; ``referralCode`` is ``ref_code``; ``referralCount`` is ``referrals_count``; the
    referrer is known by its code only (``referrer_code``). SparkLoop gives no share URL, rank or flag:
    ``shareUrl`` and ``rank`` are None and ``flagged`` is false. ``providerData`` is the subscriber as is.
    """
    data = _subscriber(payload)
    address = as_str(data.get("email"))
    if address is None:
        raise ProviderError(f"{PROVIDER_NAME} answered a subscriber without an email")
    first, last = split_name(data.get("name"))
    referrer_code = as_str(data.get("referrer_code"))
    return Participant(
        id=as_str(data.get("uuid")),
        email=address,
        first_name=first,
        last_name=last,
        referral_code=as_str(data.get("ref_code")),
        share_url=None,
        referral_count=as_int(data.get("referrals_count"), 0) or 0,
        rank=None,
        referrer=ReferrerRef(referral_code=referrer_code) if referrer_code else None,
        flagged=False,
        created_at=parse_time(data.get("created_at")),
        campaign=campaign,
        provider=Provider.SPARKLOOP,
        provider_data=data,
    )


def next_page(payload: Any, page: int) -> str | None:
    """The cursor after ``page`` of a get subscribers answer: the next page number, or None on the last.

    The last page is the one ``meta.total_pages`` says, or one that is empty or short of its
    ``per_page`` (``meta.per_page``): with a ``type``, ``total_pages`` may count more than that type."""
    items = payload.get("subscribers") if isinstance(payload, dict) else None
    count = len(items) if isinstance(items, list) else 0
    meta = _meta(payload)
    total_pages = as_int(meta.get("total_pages"), 0) or 0
    per_page = as_int(meta.get("per_page"), 0) or 0
    if count == 0 or page >= total_pages or count < per_page:
        return None
    return str(page + 1)


def _meta(payload: Any) -> dict[str, Any]:
    """The ``meta`` of a get subscribers answer, ``{}`` when it has none."""
    meta = payload.get("meta") if isinstance(payload, dict) else None
    return meta if isinstance(meta, dict) else {}


def _items(payload: Any) -> list[dict[str, Any]]:
    """The subscribers of a get subscribers answer (:class:`ProviderError` when it has no list)."""
    items = payload.get("subscribers") if isinstance(payload, dict) else None
    if not isinstance(items, list):
        raise ProviderError(f"{PROVIDER_NAME} answered a page of subscribers without its list")
    return [item for item in items if isinstance(item, dict)]


def normalize_subscribers_page(payload: dict[str, Any], campaign: str, page: int | None = None) -> Page[Participant]:
    """A get subscribers answer as a page of participants.

    ``page`` is the page asked for (by default the answer's ``meta.page``, else 1); ``next_cursor`` is
    the next page number as a string, None on the last page (:func:`next_page`).
    """
    if page is None:
        page = as_int(_meta(payload).get("page"), 1) or 1
    return Page[Participant](
        items=[normalize_participant(item, campaign) for item in _items(payload)],
        next_cursor=next_page(payload, page),
    )


def normalize_referrals_page(payload: dict[str, Any], page: int) -> Page[Referral]:
    """A get subscribers answer of ``type=referrals`` (page ``page``) as a page of Referrals."""
    return Page[Referral](items=normalize_referrals(_items(payload)), next_cursor=next_page(payload, page))


def normalize_referral(payload: dict[str, Any]) -> Referral:
    """A referred subscriber (one with a ``referrer_code``) as a :class:`Referral`.

    Status: SparkLoop counts a referral when the friend subscribes (the referrer's ``referrals_count``
    goes up then, with no later conversion step), so every referred subscriber is ``converted``.
    """
    data = _subscriber(payload)
    first, last = split_name(data.get("name"))
    return Referral(
        id=as_str(data.get("uuid")),
        email=as_str(data.get("email")),
        first_name=first,
        last_name=last,
        status=ReferralStatus.CONVERTED,
        created_at=parse_time(data.get("created_at")),
        provider_data=data,
    )


def normalize_referrals(payload: Any, referrer_code: str | None = None) -> list[Referral]:
    """The referred subscribers of a get subscribers answer (or a list of subscribers) as Referrals.

    SparkLoop has no "referrals of one subscriber" endpoint: the hub lists ``type=referrals`` and
    keeps those whose ``referrer_code`` is the referrer's ``ref_code`` (given as ``referrer_code``;
    with None, every referred subscriber is kept).
    """
    items = (payload.get("subscribers") or []) if isinstance(payload, dict) else (payload or [])
    return [
        normalize_referral(item)
        for item in items
        if isinstance(item, dict)
        and item.get("referrer_code")
        and (referrer_code is None or item.get("referrer_code") == referrer_code)
    ]
