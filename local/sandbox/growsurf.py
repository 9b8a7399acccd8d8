"""A stateful GrowSurf on loopback, faithful to the reference document (001_d3cca08b39f2ab97.txt).

One campaign (``campaign_id``) with participants (6-character ids, share URLs ``<share_base>?grsf=<id>``,
vanity keys), referral linkage by the referrer's id or email (``referredBy``), referral credit that is
pending until a referral is triggered (or awarded at once), referral counts and ranks (all-time, this
month, last month), ParticipantRewards unlocked every ``reward_every`` credited referrals and then
approved, fulfilled or removed, email invites, and the referrals-and-invites lists. Where the document
is silent the sandbox answers as follows (the client's module docstring holds the matching choices):

Settings where the document is silent (constructor arguments, and ``GET``/``POST /_sandbox/settings``
with their camelCase names, :data:`SETTINGS`). Each default is the least convenient plausible reading:

- ``error_style`` (default ``"empty"``): GrowSurf documents no error body but the 429's, so errors
  answer with no body; ``"message"`` gives ``{"success": false, "message": ...}``; ``"coded"`` adds a
  made-up ``code`` (``CAMPAIGN_NOT_FOUND``, ``PARTICIPANT_NOT_FOUND``, ``REWARD_NOT_FOUND``,
  ``INVALID_<FIELD>``, ``REFERRAL_ALREADY_AWARDED``...), codes no client may rely on. Statuses: 401 for a
  missing or wrong ``Authorization: Bearer`` key; 404 for another campaign id on every
  ``/campaign/<id>`` route (before anything else), an unknown participant or participant reward; 400
  for a missing or invalid field or a body that is not a JSON object.
- ``referral_trigger`` (default ``"SIGN_UP"``): a ``referredBy`` without ``referralStatus`` is
  ``CREDIT_AWARDED`` at once (the document's add participant says so, then says it follows the
  trigger), which makes a client's explicit ``referralStatus`` matter; ``"SIGN_UP_QUALIFYING_ACTION"``
  leaves it ``CREDIT_PENDING``.
- ``trigger_refusals`` (default False): trigger referral credits only a ``CREDIT_PENDING`` referral and
  answers the documented success otherwise too (awarded already, nobody referred); True refuses those
  two with 400. Past the credit window, or of a ``CREDIT_EXPIRED`` referral, it always answers success
  without credit, as documented.
- ``credit_expiry_ms`` (default None: no window): a pending referral triggered later than this after
  the referred participant's sign-up becomes ``CREDIT_EXPIRED``, with the documented success.
- ``double_sided`` (default True): when a referral unlocks a reward, the referred friend gets a
  ParticipantReward too (``isReferrer: false``); the catalog reward is ``DOUBLE_SIDED``.
- ``optional_fields`` (default False): participant answers leave out what some of the document's own
  examples leave out (``monthlyReferrals``, ``prevMonthlyRank``, and the fraud fields of a ``LOW``
  risk). Fields GrowSurf's official client requires stay (``rewards``, the campaign's ``type``, a
  reward's ``metadata``).
- ``approval_webhook`` (default True): approving a reward emits ``PARTICIPANT_REACHED_A_GOAL`` with
  ``data.reward.approved`` false, as the document says; a reward unlocking emits it too (with its own
  ``approved``). Payloads are kept in ``webhooks`` (``GET /_sandbox/webhooks``) and, with
  ``webhook_url``, posted there signed with ``webhook_secret`` (``GrowSurf-Signature``).
- ``update_refusal_status`` (default 400): Update Participant promises "an error response" for a new
  email another participant has, for a ``referredBy`` when a referrer is assigned already and for a
  ``referralStatus`` once awarded, without a status; 400 is the least convenient (a client cannot tell
  those from a bad field), 409 and 422 are the other plausible ones.
- ``update_unknown_referrer`` (default ``"ignored"``): an Update Participant ``referredBy`` that names
  no participant is ignored (the update goes on without it, as Add Participant's is), so a client that
  leaves the check to GrowSurf answers success for a referrer never assigned; ``"refused"`` answers 400
  ``INVALID_REFERRED_BY``. The participant itself as ``referredBy`` is always 400.
- ``manual_approval`` (default True) and ``reward_every`` (default 1), as below.

- The 429 is ``{"success": false, "code": "RATE_LIMIT", "message": ...}`` with one
  ``GrowSurf-Retry-After-<Second|Minute|Hour>-Milliseconds`` header per window that is used up (the
  base window is named by its length; ``per_minute`` and ``per_hour`` add the other two). The
  documented limits (:data:`DOCUMENTED_RATE`, 200 per minute, 10,000 per hour) are off unless given.
- Add participant answers 200 both for a new participant and for an existing email (then the existing
  participant, unchanged). An unknown ``referredBy`` is ignored (the participant joins without a
  referrer). ``referralStatus`` defaults per ``referral_trigger``.
- Update participant: an unknown ``referredBy`` per ``update_unknown_referrer``, the participant itself
  -> 400 ``INVALID_REFERRED_BY``; a referrer already assigned (even the same one) ->
  ``update_refusal_status`` ``REFERRER_ALREADY_ASSIGNED``; an email another participant has ->
  ``update_refusal_status`` ``EMAIL_ALREADY_EXISTS``; ``referralStatus`` when already awarded ->
  ``update_refusal_status`` ``REFERRAL_ALREADY_AWARDED``, without a referrer -> 400 ``NO_REFERRER``.
  A ``referredBy`` assigned without ``referralStatus`` gets the ``referral_trigger``'s default, as on
  an add. Nothing changes unless the whole update is valid; the answer is the participant as it is now.
- Remove participant: the participant, its rewards and the invites it sent are gone; a second remove is
  404. The participants it referred keep their ``referralStatus`` with a null ``referrer``, and their
  referrer's credits stay.
- Campaign: the one reward of the catalog is ``DOUBLE_SIDED`` with a ``referralDescription`` (the
  friend's side), or ``SINGLE_SIDED`` without one (the document's two examples), with
  ``conversionsRequired`` = ``reward_every``.
- ``referralCount`` counts credited (``CREDIT_AWARDED``) referrals and ``referrals`` lists their ids;
  a credit stays when the referred participant is removed. Rank: referral count descending, then
  sign-up order (the document's example, though its prose says "ascending"); ``monthlyRank`` the same
  on this month's credits; ``prevMonthlyRank`` on last month's, -1 for participants who joined this
  month. Ranks cover every participant, with or without referrals.
- Rewards: the referrer gets a ParticipantReward (``isReferrer: true``) each time its referral count
  reaches a multiple of ``reward_every`` (and the friend its side, with ``double_sided``).
  With ``manual_approval`` (default) it is ``PENDING``, not approved; otherwise approved at once.
  Approve: already approved -> 400 ``REWARD_ALREADY_APPROVED``, fulfilled -> 400
  ``REWARD_ALREADY_FULFILLED``. Fulfill: not approved -> 400 ``REWARD_NOT_APPROVED``; fulfilled ->
  ``REWARD_ALREADY_FULFILLED``. Remove: approved -> 400 ``REWARD_ALREADY_APPROVED``.
- Paging: ``limit`` defaults to 100 and must be an integer from 1 (leaderboard: 2, "greater than 1")
  to 100; ``nextId`` names the first item of the page (a participant id, a participant reward id, a
  referral or invite id) and one not in the list is 400 ``INVALID_NEXT_ID``. Participants are listed in
  sign-up order, rewards in the order they were earned. Referrals take ``offset`` or ``nextId``
  (``nextId`` wins); ``nextOffset`` and ``nextId`` are null on the last page. ``sortBy`` other than
  the four documented is 400 ``INVALID_SORT_BY``; ``referralStatus`` other than the four is ignored,
  as documented; items without the sort field (``referralTriggeredAt`` of pending ones) come last.
  ``leaderboardType`` other than the five documented is 400 ``INVALID_LEADERBOARD_TYPE``.
- Invites: ``emailAddresses`` must be a non-empty list of emails, ``messageText`` and ``subjectText``
  non-empty strings; each address becomes an ``INVITE_SENT`` item (email masked as
  ``"***************"``) and adds to the participant's ``inviteCount``; the invite is dropped when that
  address later joins referred by the same participant.
- Fraud: ``fraudRiskLevel`` is ``LOW`` (``fraudReasonCode`` ``UNIQUE_IDENTIY``, spelt as documented)
  unless seeded otherwise; GrowSurf has no flag endpoint.

Seeding: :meth:`GrowSurfSandbox.seed_participant` (:meth:`~GrowSurfSandbox.seed_participants` for
many at once), :meth:`~GrowSurfSandbox.trigger`,
:meth:`~GrowSurfSandbox.grant_reward`, :meth:`~GrowSurfSandbox.set_fraud` in Python, and over HTTP
``POST /_sandbox/participants`` (``email``, ``firstName``, ``lastName``, ``referrer`` as an id or an
email, ``referralStatus``, ``createdAt`` in epoch ms, ``metadata``, ``ipAddress``, ``fraudRiskLevel``,
``fraudReasonCode``, ``impressionCount``, ``uniqueImpressionCount``), ``GET /_sandbox/participants``,
``POST /_sandbox/conversions`` (``participant``: id or email; triggers the referral),
``POST /_sandbox/rewards`` (``participant``, optional ``approved``, ``fulfilled``: grants a reward)
and ``POST /_sandbox/fraud`` (``participant``, ``fraudRiskLevel``, optional ``fraudReasonCode``).
For tests, ``raw_uris`` holds each request line's URI as sent (``received`` has decoded paths, which
cannot show how an email was encoded) and ``sent_invites`` the invite emails the sandbox "sent".
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import hmac
import json
import re
import secrets
import string
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeGuard

import requests
from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from local.sandbox.base import Sandbox, SandboxRate, json_response

DEFAULT_CAMPAIGN_ID = "gs4mpl"
DEFAULT_REWARD_ID = "rwd001"
DOCUMENTED_RATE = SandboxRate(requests=30, per_seconds=5, concurrency=3)
DOCUMENTED_PER_MINUTE = 200
DOCUMENTED_PER_HOUR = 10_000
MAX_LIMIT = 100
MASKED_EMAIL = "*" * 15
REFERRAL_STATUSES = ("CREDIT_PENDING", "CREDIT_AWARDED", "CREDIT_EXPIRED", "INVITE_SENT")
LEADERBOARD_TYPES = ("ALL_TIME", "CURRENT_MONTH", "PREV_MONTH", "TOTAL_IMPRESSION_COUNT", "UNIQUE_IMPRESSION_COUNT")
SORT_FIELDS = ("updatedAt", "createdAt", "email", "referralTriggeredAt")
#: The campaign's referral trigger (document 001, "What's a campaign referral trigger?").
REFERRAL_TRIGGERS = ("SIGN_UP", "SIGN_UP_QUALIFYING_ACTION")
#: How errors other than the 429 are answered: no body, a message only, or a made-up ``code`` too.
ERROR_STYLES = ("empty", "message", "coded")
#: The statuses Update Participant's undocumented "error response" may plausibly have.
UPDATE_REFUSAL_STATUSES = (400, 409, 422)
#: What Update Participant does with a ``referredBy`` naming nobody.
UNKNOWN_REFERRER_READINGS = ("ignored", "refused")
#: The settings that take one of a few values, and those values.
_CHOICES = {
    "referral_trigger": REFERRAL_TRIGGERS,
    "error_style": ERROR_STYLES,
    "update_refusal_status": UPDATE_REFUSAL_STATUSES,
    "update_unknown_referrer": UNKNOWN_REFERRER_READINGS,
}
#: camelCase setting (``/_sandbox/settings``) -> attribute.
SETTINGS = {
    "referralTrigger": "referral_trigger",
    "errorStyle": "error_style",
    "creditExpiryMs": "credit_expiry_ms",
    "triggerRefusals": "trigger_refusals",
    "doubleSided": "double_sided",
    "optionalFields": "optional_fields",
    "manualApproval": "manual_approval",
    "approvalWebhook": "approval_webhook",
    "webhookUrl": "webhook_url",
    "webhookSecret": "webhook_secret",
    "rewardEvery": "reward_every",
    "updateRefusalStatus": "update_refusal_status",
    "updateUnknownReferrer": "update_unknown_referrer",
}
#: Fields some of the document's own examples leave out: answered only with ``optional_fields``.
OPTIONAL_FIELDS = (
    "monthlyReferrals",
    "prevMonthlyRank",
)
_ID_ALPHABET = string.ascii_lowercase + string.digits
_EMAIL = re.compile(r"^[^@\s/]+@[^@\s/]+\.[^@\s/.]+$")
_VANITY = re.compile(r"^[A-Za-z0-9_-]{1,20}$")
_CAMPAIGN = "/campaign/<campaign_id>"
_PARTICIPANT = f"{_CAMPAIGN}/participant/<participant>"
_REWARD = f"{_CAMPAIGN}/reward/<reward_id>"


def _now_ms() -> int:
    return int(time.time() * 1000)


def _month(ms: int) -> tuple[int, int]:
    moment = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return moment.year, moment.month


def _previous(month: tuple[int, int]) -> tuple[int, int]:
    year, number = month
    return (year - 1, 12) if number == 1 else (year, number - 1)


def _key(email: str) -> str:
    return email.strip().lower()


def _window_name(seconds: float) -> str:
    """The word GrowSurf's retry header uses for a window of that length."""
    if seconds < 60:
        return "Second"
    return "Minute" if seconds < 3600 else "Hour"


def error(status: int, code: str, message: str) -> Response:
    """GrowSurf's error body, as the hub expects it (the document shows none)."""
    return json_response({"success": False, "code": code, "message": message}, status)


class SandboxError(Exception):
    """Raised inside the sandbox's helpers; becomes the provider's error answer."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def _invalid(field_code: str, message: str) -> SandboxError:
    return SandboxError(400, f"INVALID_{field_code}", message)


@dataclass
class ParticipantRecord:
    id: str
    seq: int
    email: str
    created_at: int
    first_name: str | None = None
    last_name: str | None = None
    referrer_id: str | None = None
    referral_status: str | None = None
    referral_triggered_at: int | None = None
    updated_at: int = 0
    ip_address: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    vanity_keys: list[str] = field(default_factory=list)
    fraud_risk_level: str = "LOW"
    fraud_reason_code: str = "UNIQUE_IDENTIY"
    credits: list[tuple[str, int]] = field(default_factory=list)  # (referred id, awarded at ms)
    impression_count: int = 0
    unique_impression_count: int = 0
    invite_count: int = 0


@dataclass
class RewardRecord:
    id: str
    seq: int
    reward_id: str
    referrer_id: str
    referred_id: str | None
    status: str = "PENDING"
    approved: bool = False
    approved_at: int | None = None
    fulfilled_at: int | None = None
    unread: bool = True
    is_referrer: bool = True

    def owner(self) -> str | None:
        """Whose reward it is: the referrer's, or the referred friend's side of a double-sided one."""
        return self.referrer_id if self.is_referrer else self.referred_id


@dataclass
class InviteRecord:
    id: str
    seq: int
    referrer_id: str
    email: str
    created_at: int


@dataclass
class ParticipantUpdate:
    """An update of a participant whose every field has been checked, ready to apply."""

    referrer: ParticipantRecord | None
    status: str | None
    email: str | None
    metadata: dict[str, Any]
    names: dict[str, str | None]  # firstName and lastName, those the body gives
    vanity_keys: list[str] | None


@dataclass
class SentInvite:
    """An invite email as the sandbox would have sent it (for tests to read)."""

    participant_id: str
    email_addresses: list[str]
    subject_text: str
    message_text: str


def _check_settings(sandbox: GrowSurfSandbox) -> None:
    for name, allowed in _CHOICES.items():
        value = getattr(sandbox, name)
        # bool is an int: True must not pass for 400.
        if isinstance(value, bool) or value not in allowed:
            raise ValueError(f"{name} must be one of {', '.join(map(str, allowed))}")
    if not isinstance(sandbox.reward_every, int) or sandbox.reward_every < 1:
        raise ValueError("reward_every must be at least 1")
    if sandbox.credit_expiry_ms is not None and (
        not isinstance(sandbox.credit_expiry_ms, int) or sandbox.credit_expiry_ms < 0
    ):
        raise ValueError("credit_expiry_ms must be a non-negative number of milliseconds or None")


def _handler(method: Callable[..., Any]) -> Callable[..., Response]:
    """A route: the campaign is checked first, a SandboxError becomes the error body, a dict is JSON."""

    @functools.wraps(method)
    def wrapper(self: GrowSurfSandbox, request: Request, **args: Any) -> Response:
        try:
            if "campaign_id" in args:
                self._check_campaign(args.pop("campaign_id"))
            result = method(self, request, **args)
        except SandboxError as exc:
            return self._error(exc.status, exc.code, exc.message)
        return result if isinstance(result, Response) else json_response(result)

    return wrapper


class GrowSurfSandbox(Sandbox):
    """GrowSurf's REST API (v2), stateful, for one campaign."""

    name = "growsurf"
    prefix = "/v2"

    def __init__(
        self,
        *,
        api_key: str = "growsurf-sandbox-key",
        campaign_id: str = DEFAULT_CAMPAIGN_ID,
        rate: SandboxRate | None = None,
        per_minute: int | None = None,
        per_hour: int | None = None,
        reward_every: int = 1,
        manual_approval: bool = True,
        referral_trigger: str = "SIGN_UP",
        error_style: str = "empty",
        credit_expiry_ms: int | None = None,
        trigger_refusals: bool = False,
        double_sided: bool = True,
        optional_fields: bool = False,
        approval_webhook: bool = True,
        update_refusal_status: int = 400,
        update_unknown_referrer: str = "ignored",
        webhook_url: str | None = None,
        webhook_secret: str = "growsurf-sandbox-webhook-secret",  # noqa: S107 (a loopback test double's)
        campaign_name: str = "Sandbox Referral Campaign",
        share_base: str = "https://sandbox.growsurf.local/",
        clock: Callable[[], int] = _now_ms,
    ):
        if reward_every < 1:
            raise ValueError("reward_every must be at least 1")
        self.campaign_id = campaign_id
        self.campaign_name = campaign_name
        self.reward_every = reward_every
        self.manual_approval = manual_approval
        self.referral_trigger = referral_trigger
        self.error_style = error_style
        self.credit_expiry_ms = credit_expiry_ms
        self.trigger_refusals = trigger_refusals
        self.double_sided = double_sided
        self.optional_fields = optional_fields
        self.approval_webhook = approval_webhook
        self.update_refusal_status = update_refusal_status
        self.update_unknown_referrer = update_unknown_referrer
        self.webhook_url = webhook_url
        self.webhook_secret = webhook_secret
        _check_settings(self)
        self.share_base = share_base
        self.clock = clock
        self._extra_windows: list[tuple[str, int, float, deque[float]]] = [
            (name, limit, span, deque())
            for name, limit, span in (("Minute", per_minute, 60.0), ("Hour", per_hour, 3600.0))
            if limit
        ]
        self._retry_windows = threading.local()
        super().__init__(api_key=api_key, rate=rate)

    def rules(self) -> list[Rule]:
        return [
            Rule("/campaigns", endpoint="api_get_campaigns", methods=["GET"]),
            Rule(_CAMPAIGN, endpoint="api_get_campaign", methods=["GET"]),
            Rule(f"{_CAMPAIGN}/participants", endpoint="api_get_participants", methods=["GET"]),
            Rule(f"{_CAMPAIGN}/leaderboard", endpoint="api_get_leaderboard", methods=["GET"]),
            Rule(f"{_CAMPAIGN}/participant", endpoint="api_add_participant", methods=["POST"]),
            Rule(_PARTICIPANT, endpoint="api_get_participant", methods=["GET"]),
            Rule(_PARTICIPANT, endpoint="api_update_participant", methods=["POST"]),
            Rule(_PARTICIPANT, endpoint="api_remove_participant", methods=["DELETE"]),
            Rule(f"{_PARTICIPANT}/ref", endpoint="api_trigger_referral", methods=["POST"]),
            Rule(f"{_PARTICIPANT}/rewards", endpoint="api_get_participant_rewards", methods=["GET"]),
            Rule(f"{_PARTICIPANT}/referrals", endpoint="api_get_participant_referrals", methods=["GET"]),
            Rule(f"{_PARTICIPANT}/invites", endpoint="api_send_participant_invites", methods=["POST"]),
            Rule(f"{_REWARD}/approve", endpoint="api_approve_reward", methods=["POST"]),
            Rule(f"{_REWARD}/fulfill", endpoint="api_fulfill_reward", methods=["POST"]),
            Rule(_REWARD, endpoint="api_remove_reward", methods=["DELETE"]),
            Rule(f"{_CAMPAIGN}/referrals", endpoint="api_get_referrals", methods=["GET"]),
        ]

    @property
    def default_referral_status(self) -> str:
        """What a referred sign-up without ``referralStatus`` gets, per the campaign's referral trigger."""
        return "CREDIT_AWARDED" if self.referral_trigger == "SIGN_UP" else "CREDIT_PENDING"

    def settings(self) -> dict[str, Any]:
        """The settings where the document is silent, as ``/_sandbox/settings`` shows and takes them."""
        return {camel: getattr(self, name) for camel, name in SETTINGS.items()}

    def configure(self, **changes: Any) -> dict[str, Any]:
        """Change settings (camelCase names of :data:`SETTINGS`); an unknown name or value is a ValueError."""
        with self.lock:
            unknown = sorted(set(changes) - set(SETTINGS))
            if unknown:
                raise ValueError(f"unknown settings: {', '.join(unknown)}")
            previous = self.settings()
            for camel, value in changes.items():
                setattr(self, SETTINGS[camel], value)
            try:
                _check_settings(self)
            except ValueError:
                for camel, value in previous.items():
                    setattr(self, SETTINGS[camel], value)
                raise
            return self.settings()

    def _error(self, status: int, code: str, message: str) -> Response:
        """An error answer in the configured :data:`ERROR_STYLES` (GrowSurf documents none but the 429's)."""
        if self.error_style == "empty":
            return Response(b"", status=status)
        if self.error_style == "message":
            return json_response({"success": False, "message": message}, status)
        return error(status, code, message)

    def reset_state(self) -> None:
        self.webhooks: list[dict[str, Any]] = []
        self.participants: dict[str, ParticipantRecord] = {}
        # Participant id by lower-cased email: a campaign of many thousands is looked up in O(1).
        self._emails: dict[str, str] = {}
        self.rewards: dict[str, RewardRecord] = {}
        self.invites: dict[str, InviteRecord] = {}
        self.sent_invites: list[SentInvite] = []
        self.raw_uris: list[str] = []
        self._seq = 0
        for _, _, _, log in getattr(self, "_extra_windows", []):
            log.clear()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        # ``received`` holds decoded paths; the raw request line shows how an email was encoded.
        with self.lock:
            self.raw_uris.append(str(environ.get("REQUEST_URI") or environ.get("RAW_URI") or ""))
        return super().__call__(environ, start_response)

    # -- the provider's answers to auth and rate limits -------------------------------------------

    def authenticate(self, request: Request) -> Response | None:
        if request.headers.get("Authorization") == f"Bearer {self.api_key}":
            return None
        return self._error(401, "UNAUTHORIZED", "Missing or invalid API key")

    def _throttle(self) -> float | None:
        # Runs under the lock, in the request's thread: the windows that refused are kept for
        # rate_limited(), which names each of them in its own header.
        wait = super()._throttle()
        refused: dict[str, float] = {}
        if wait is not None:
            refused[_window_name(self.rate.per_seconds if self.rate else 1.0)] = wait
        now = time.monotonic()
        refused.update(self._longer_refusals(now))
        self._count_in_windows(now, refused, base_admitted=wait is None)
        self._retry_windows.refused = refused
        return max(refused.values()) if refused else None

    def _longer_refusals(self, now: float) -> dict[str, float]:
        """The seconds to wait, by window name, of each per-minute or per-hour window that is used up."""
        refused: dict[str, float] = {}
        for name, limit, span, log in self._extra_windows:
            while log and log[0] <= now - span:
                log.popleft()
            if len(log) >= limit:
                refused[name] = log[0] + span - now
        return refused

    def _count_in_windows(self, now: float, refused: dict[str, float], *, base_admitted: bool) -> None:
        """Count an admitted request in the longer windows; take a refused one out of the base window."""
        if not refused:
            for _, _, _, log in self._extra_windows:
                log.append(now)
        elif base_admitted and self.rate is not None and self._window:
            self._window.pop()  # the base window let it through, a longer one did not

    def rate_limited(self, retry_after: float) -> Response:
        refused = getattr(self._retry_windows, "refused", None) or {"Second": retry_after}
        headers = {
            f"GrowSurf-Retry-After-{name}-Milliseconds": str(max(1, int(seconds * 1000 + 0.999)))
            for name, seconds in refused.items()
        }
        body = {"success": False, "code": "RATE_LIMIT", "message": "Too many requests; retry after the advised wait"}
        return json_response(body, 429, headers)

    # -- Python API: seeding and state ------------------------------------------------------------

    def seed_participant(
        self,
        email: str,
        *,
        first_name: str | None = None,
        last_name: str | None = None,
        referrer: str | None = None,
        referral_status: str | None = None,
        created_at: int | datetime | None = None,
        metadata: dict[str, Any] | None = None,
        ip_address: str | None = None,
        fraud_risk_level: str = "LOW",
        fraud_reason_code: str | None = None,
        impression_count: int = 0,
        unique_impression_count: int = 0,
    ) -> dict[str, Any]:
        """Create a participant directly; ``referrer`` is an id or an email that must exist."""
        with self.lock:
            referrer_id = None
            if referrer:
                found = self._lookup(referrer)
                if found is None:
                    raise ValueError(f"no participant with id or email '{referrer}'")
                referrer_id = found.id
            if referral_status is not None and referral_status not in REFERRAL_STATUSES[:3]:
                raise ValueError("referralStatus must be CREDIT_PENDING, CREDIT_AWARDED or CREDIT_EXPIRED")
            moment = int(created_at.timestamp() * 1000) if isinstance(created_at, datetime) else created_at
            body = {
                "email": email,
                "firstName": first_name,
                "lastName": last_name,
                "referralStatus": "CREDIT_PENDING" if referral_status == "CREDIT_EXPIRED" else referral_status,
                "metadata": metadata,
                "ipAddress": ip_address,
            }
            record = self._create(_without_none(body), referrer_id=referrer_id, created_at=moment)
            if referral_status == "CREDIT_EXPIRED" and referrer_id is not None:
                self._set_status(record, "CREDIT_EXPIRED")
            self.set_fraud(record.id, fraud_risk_level, fraud_reason_code)
            record.impression_count = impression_count
            record.unique_impression_count = unique_impression_count
            return self.participant(record.id)

    def seed_participants(self, people: Iterable[dict[str, Any]]) -> int:
        """Create many participants without referrers at once, each given as ``{"email", "firstName",
        "lastName", "metadata"}``; answer how many. Unlike :meth:`seed_participant` no view is answered
        (each would rank the whole campaign), so a campaign of many thousands seeds in seconds."""
        with self.lock:
            count = 0
            for person in people:
                fields = {name: person.get(name) for name in ("email", "firstName", "lastName", "metadata")}
                self._create(_without_none(fields), referrer_id=None)
                count += 1
            return count

    def participant(self, id_or_email: str) -> dict[str, Any]:
        """A participant as the API answers it, by id or email (KeyError if none)."""
        with self.lock:
            record = self._lookup(id_or_email)
            if record is None:
                raise KeyError(id_or_email)
            return self._view(record, self._standings())

    def trigger(self, id_or_email: str, *, at: int | None = None) -> dict[str, Any]:
        """Trigger the referral of a referred participant, as the API does (``at``: the credit's time)."""
        with self.lock:
            return self._trigger(self._find(id_or_email), at=at)

    def grant_reward(self, id_or_email: str, *, approved: bool = False, fulfilled: bool = False) -> dict[str, Any]:
        """Give the participant a ParticipantReward directly; answers it as the API shows it."""
        with self.lock:
            record = self._find(id_or_email)
            reward = self._new_reward(record, referred_id=None)
            if approved or fulfilled:
                reward.approved, reward.approved_at = True, self.clock()
            if fulfilled:
                reward.status, reward.fulfilled_at = "FULFILLED", self.clock()
            return self._reward_view(reward)

    def rewards_of(self, id_or_email: str) -> list[dict[str, Any]]:
        """The participant's rewards, oldest first, as the API shows them."""
        with self.lock:
            return [self._reward_view(r) for r in self._rewards_of(self._find(id_or_email))]

    def set_fraud(self, id_or_email: str, level: str, reason_code: str | None = None) -> None:
        """Set the participant's ``fraudRiskLevel`` (``LOW``, ``MEDIUM``, ``HIGH``) and reason code."""
        with self.lock:
            record = self._find(id_or_email)
            record.fraud_risk_level = level.upper()
            record.fraud_reason_code = reason_code or ("UNIQUE_IDENTIY" if level.upper() == "LOW" else "SUSPICIOUS")

    # -- routes -----------------------------------------------------------------------------------

    @_handler
    def api_get_campaigns(self, request: Request) -> dict[str, Any]:
        return {"campaigns": [self._campaign_view()]}

    @_handler
    def api_get_campaign(self, request: Request) -> dict[str, Any]:
        return self._campaign_view()

    @_handler
    def api_get_participants(self, request: Request) -> dict[str, Any]:
        ordered = sorted(self.participants.values(), key=lambda p: p.seq)
        return self._participant_page(request, ordered, minimum=1)

    @_handler
    def api_get_leaderboard(self, request: Request) -> dict[str, Any]:
        kind = request.args.get("leaderboardType") or (
            "CURRENT_MONTH" if request.args.get("isMonthly", "").lower() == "true" else "ALL_TIME"
        )
        if kind not in LEADERBOARD_TYPES:
            raise _invalid("LEADERBOARD_TYPE", f"leaderboardType must be one of {', '.join(LEADERBOARD_TYPES)}")
        return self._participant_page(request, self._leaderboard(kind), minimum=2)

    @_handler
    def api_add_participant(self, request: Request) -> dict[str, Any]:
        body = _json_body(request)
        email = body.get("email")
        if isinstance(email, str) and (existing := self._by_email(email)) is not None:
            return self._view(existing, self._standings())
        referred_by = body.get("referredBy")
        referrer = self._lookup(referred_by) if isinstance(referred_by, str) and referred_by else None
        record = self._create(body, referrer_id=referrer.id if referrer else None)
        return self._view(record, self._standings())

    @_handler
    def api_get_participant(self, request: Request, participant: str) -> dict[str, Any]:
        return self._view(self._find(participant), self._standings())

    @_handler
    def api_update_participant(self, request: Request, participant: str) -> dict[str, Any]:
        record = self._find(participant)
        self._update(record, _json_body(request))
        return self._view(record, self._standings())

    @_handler
    def api_remove_participant(self, request: Request, participant: str) -> dict[str, Any]:
        record = self._find(participant)
        del self.participants[record.id]
        self._emails.pop(_key(record.email), None)
        for reward in self._rewards_of(record):
            del self.rewards[reward.id]
        for invite in [i for i in self.invites.values() if i.referrer_id == record.id]:
            del self.invites[invite.id]
        return {"success": True}

    @_handler
    def api_trigger_referral(self, request: Request, participant: str) -> dict[str, Any]:
        return self._trigger(self._find(participant))

    @_handler
    def api_get_participant_rewards(self, request: Request, participant: str) -> dict[str, Any]:
        rewards = self._rewards_of(self._find(participant))
        limit = _limit(request, minimum=1)
        page, next_id = _page(rewards, request.args.get("nextId"), limit, lambda r: r.id)
        return {"limit": limit, "nextId": next_id, "rewards": [self._reward_view(r) for r in page]}

    @_handler
    def api_approve_reward(self, request: Request, reward_id: str) -> dict[str, Any]:
        reward = self._reward(reward_id)
        fulfill = _json_body(request).get("fulfill")
        if fulfill is not None and not isinstance(fulfill, bool):
            raise _invalid("FULFILL", "fulfill must be a boolean")
        if reward.status == "FULFILLED":
            raise SandboxError(400, "REWARD_ALREADY_FULFILLED", f"Participant reward {reward.id} is already fulfilled")
        if reward.approved:
            raise SandboxError(400, "REWARD_ALREADY_APPROVED", f"Participant reward {reward.id} is already approved")
        reward.approved, reward.approved_at = True, self.clock()
        if fulfill:
            reward.status, reward.fulfilled_at = "FULFILLED", self.clock()
        if self.approval_webhook:
            # As the document says: approving emits PARTICIPANT_REACHED_A_GOAL with data.reward.approved false.
            self._goal_webhook(reward, approved=False)
        return {"success": True}

    @_handler
    def api_fulfill_reward(self, request: Request, reward_id: str) -> dict[str, Any]:
        reward = self._reward(reward_id)
        if reward.status == "FULFILLED":
            raise SandboxError(400, "REWARD_ALREADY_FULFILLED", f"Participant reward {reward.id} is already fulfilled")
        if not reward.approved:
            raise SandboxError(400, "REWARD_NOT_APPROVED", f"Participant reward {reward.id} must be approved first")
        reward.status, reward.fulfilled_at = "FULFILLED", self.clock()
        return {"success": True}

    @_handler
    def api_remove_reward(self, request: Request, reward_id: str) -> dict[str, Any]:
        reward = self._reward(reward_id)
        if reward.approved:
            raise SandboxError(
                400, "REWARD_ALREADY_APPROVED", f"Participant reward {reward.id} is approved and cannot be removed"
            )
        del self.rewards[reward.id]
        return {"success": True}

    @_handler
    def api_get_referrals(self, request: Request) -> dict[str, Any]:
        return self._referral_page(request, self._referral_items(None))

    @_handler
    def api_get_participant_referrals(self, request: Request, participant: str) -> dict[str, Any]:
        return self._referral_page(request, self._referral_items(self._find(participant).id))

    @_handler
    def api_send_participant_invites(self, request: Request, participant: str) -> dict[str, Any]:
        record = self._find(participant)
        body = _json_body(request)
        addresses = body.get("emailAddresses")
        if not isinstance(addresses, list) or not addresses or not all(_valid_email(a) for a in addresses):
            raise _invalid("EMAIL_ADDRESSES", "emailAddresses must be a non-empty list of email addresses")
        for name, code in (("messageText", "MESSAGE_TEXT"), ("subjectText", "SUBJECT_TEXT")):
            if not isinstance(body.get(name), str) or not body[name].strip():
                raise _invalid(code, f"{name} is required")
        now = self.clock()
        for address in addresses:
            self._seq += 1
            invite = InviteRecord(self._new_id(), self._seq, record.id, address.strip(), now)
            self.invites[invite.id] = invite
        record.invite_count += len(addresses)
        self.sent_invites.append(SentInvite(record.id, list(addresses), body["subjectText"], body["messageText"]))
        return {"success": True, "messageType": "sent", "invitesSent": len(addresses)}

    # -- state helpers ----------------------------------------------------------------------------

    def _check_campaign(self, campaign_id: str) -> None:
        if campaign_id != self.campaign_id:
            raise SandboxError(404, "CAMPAIGN_NOT_FOUND", f"Campaign {campaign_id} not found")

    def _lookup(self, id_or_email: str) -> ParticipantRecord | None:
        if "@" in id_or_email:
            return self._by_email(id_or_email)
        return self.participants.get(id_or_email)

    def _find(self, id_or_email: str) -> ParticipantRecord:
        record = self._lookup(id_or_email)
        if record is None:
            raise SandboxError(404, "PARTICIPANT_NOT_FOUND", f"Participant {id_or_email} not found")
        return record

    def _by_email(self, email: str) -> ParticipantRecord | None:
        found = self._emails.get(_key(email))
        return self.participants.get(found) if found else None

    def _reward(self, reward_id: str) -> RewardRecord:
        reward = self.rewards.get(reward_id)
        if reward is None:
            raise SandboxError(404, "REWARD_NOT_FOUND", f"Participant reward {reward_id} not found")
        return reward

    def _rewards_of(self, record: ParticipantRecord) -> list[RewardRecord]:
        return sorted((r for r in self.rewards.values() if r.owner() == record.id), key=lambda r: r.seq)

    def _new_id(self) -> str:
        while True:
            candidate = "".join(secrets.choice(_ID_ALPHABET) for _ in range(6))
            taken = candidate in self.participants or candidate in self.rewards or candidate in self.invites
            if not taken and candidate != self.campaign_id:
                return candidate

    def _create(
        self, body: dict[str, Any], *, referrer_id: str | None, created_at: int | None = None
    ) -> ParticipantRecord:
        record = self._new_record(body, created_at)
        self.participants[record.id] = record
        self._emails[_key(record.email)] = record.id
        if referrer_id is not None:
            self._assign_referrer(record, referrer_id, body.get("referralStatus") or self.default_referral_status)
        return record

    def _new_record(self, body: dict[str, Any], created_at: int | None) -> ParticipantRecord:
        """A participant of the body, every field validated; not in the campaign yet."""
        email = body.get("email")
        if not _valid_email(email):
            raise _invalid("EMAIL", "email is required and must be an email address")
        status = body.get("referralStatus")
        if status is not None and status not in ("CREDIT_PENDING", "CREDIT_AWARDED"):
            raise _invalid("REFERRAL_STATUS", "referralStatus must be CREDIT_PENDING or CREDIT_AWARDED")
        metadata = _metadata(body.get("metadata"))
        names = {name: _text(body.get(name), name) for name in ("firstName", "lastName", "ipAddress")}
        if self._by_email(email) is not None:
            raise SandboxError(400, "EMAIL_ALREADY_EXISTS", f"A participant with email {email} already exists")
        now = self.clock()
        self._seq += 1
        record = ParticipantRecord(
            id=self._new_id(),
            seq=self._seq,
            email=email.strip(),
            created_at=created_at if created_at is not None else now,
            first_name=names["firstName"],
            last_name=names["lastName"],
            ip_address=names["ipAddress"],
            metadata=_without_none(metadata),
            updated_at=now,
        )
        record.vanity_keys = _default_vanity_keys(record)
        return record

    def _assign_referrer(self, record: ParticipantRecord, referrer_id: str, status: str) -> None:
        record.referrer_id = referrer_id
        record.referral_status = "CREDIT_PENDING"
        record.updated_at = self.clock()
        for invite in [i for i in self.invites.values() if i.referrer_id == referrer_id]:
            if _key(invite.email) == _key(record.email):
                del self.invites[invite.id]
        self._set_status(record, status)

    def _set_status(self, record: ParticipantRecord, status: str, *, at: int | None = None) -> None:
        record.referral_status = status
        record.updated_at = self.clock()
        if status == "CREDIT_AWARDED":
            self._award(record, at=at)

    def _award(self, record: ParticipantRecord, *, at: int | None = None) -> None:
        referrer = self.participants.get(record.referrer_id) if record.referrer_id else None
        moment = at if at is not None else self.clock()
        record.referral_triggered_at = moment
        if referrer is None:
            return
        referrer.credits.append((record.id, moment))
        referrer.updated_at = self.clock()
        if len(referrer.credits) % self.reward_every == 0:
            earned = self._new_reward(referrer, referred_id=record.id)
            self._goal_webhook(earned)
            if self.double_sided:
                # The referred friend's side of a double-sided reward: the same goal, isReferrer false.
                friend = self._new_reward(referrer, referred_id=record.id, referred_side=True)
                self._goal_webhook(friend)

    def _new_reward(
        self, referrer: ParticipantRecord, *, referred_id: str | None, referred_side: bool = False
    ) -> RewardRecord:
        self._seq += 1
        reward = RewardRecord(self._new_id(), self._seq, DEFAULT_REWARD_ID, referrer.id, referred_id)
        reward.is_referrer = not referred_side
        if not self.manual_approval:
            reward.approved, reward.approved_at = True, self.clock()
        self.rewards[reward.id] = reward
        return reward

    def _goal_webhook(self, reward: RewardRecord, *, approved: bool | None = None) -> None:
        """Record (and, with ``webhook_url``, send) PARTICIPANT_REACHED_A_GOAL for ``reward``.

        ``approved`` overrides the reward's own flag: the approval's event carries ``false``, as documented.
        """
        owner = self.participants.get(reward.owner() or "")
        if owner is None:
            return
        standings = self._standings()
        participant = self._view(owner, standings, nested=True)
        other_id = reward.referred_id if reward.is_referrer else reward.referrer_id
        other = self.participants.get(other_id or "")
        if other is not None:
            participant["referee" if reward.is_referrer else "referrer"] = self._view(other, standings, nested=True)
        reward_view = self._reward_view(reward)
        if approved is not None:
            reward_view["approved"] = approved
        reward_view.update(
            {"title": "Sandbox reward", "description": self._campaign_view()["rewards"][0]["description"]}
        )
        payload = {
            "event": "PARTICIPANT_REACHED_A_GOAL",
            "createdAt": self.clock(),
            "data": {
                "participant": participant,
                "reward": reward_view,
                "campaign": {"id": self.campaign_id, "name": self.campaign_name},
            },
        }
        self.webhooks.append(payload)
        if self.webhook_url:
            body = json.dumps(payload).encode()
            threading.Thread(target=self._send_webhook, args=(self.webhook_url, body), daemon=True).start()

    def signature(self, body: bytes, ts_ms: int) -> str:
        """``GrowSurf-Signature`` of ``body``: ``ts=<ms>,v=<hex HMAC-SHA256(secret, "<ts>.<body>")>``."""
        digest = hmac.new(self.webhook_secret.encode(), f"{ts_ms}.".encode() + body, hashlib.sha256).hexdigest()
        return f"ts={ts_ms},v={digest}"

    def _send_webhook(self, url: str, body: bytes) -> None:
        headers = {"Content-Type": "application/json", "GrowSurf-Signature": self.signature(body, _now_ms())}
        # An endpoint that is down loses the delivery: the recorded payload stays in ``webhooks``.
        with contextlib.suppress(requests.RequestException):
            requests.post(url, data=body, headers=headers, timeout=10)

    def _trigger(self, record: ParticipantRecord, *, at: int | None = None) -> dict[str, Any]:
        success = {"success": True, "message": "Successfully awarded referral credit."}
        if record.referral_status == "CREDIT_PENDING" and record.referrer_id in self.participants:
            self._credit_pending(record, at=at)
            return success
        if not self.trigger_refusals or record.referral_status == "CREDIT_EXPIRED":
            # Credit is awarded only to a CREDIT_PENDING referral; the document shows no other answer,
            # and says an expired credit still answers success.
            return success
        raise self._trigger_refusal(record)

    def _credit_pending(self, record: ParticipantRecord, *, at: int | None) -> None:
        """Award a pending referral its credit, or expire it when triggered past the credit window."""
        moment = at if at is not None else self.clock()
        if self.credit_expiry_ms is not None and moment - record.created_at > self.credit_expiry_ms:
            # Past the credit expiration window: the documented success, no credit, no reward.
            self._set_status(record, "CREDIT_EXPIRED")
            return
        self._set_status(record, "CREDIT_AWARDED", at=at)

    def _trigger_refusal(self, record: ParticipantRecord) -> SandboxError:
        """Why a trigger that credits nothing is refused, under ``trigger_refusals``."""
        if record.referrer_id is None or record.referrer_id not in self.participants:
            return SandboxError(400, "NO_REFERRER", f"Participant {record.id} has no referrer to credit")
        if record.referral_status == "CREDIT_AWARDED":
            return SandboxError(
                400, "REFERRAL_ALREADY_AWARDED", f"Referral credit for participant {record.id} was already awarded"
            )
        return SandboxError(400, "REFERRAL_NOT_PENDING", f"Referral credit for participant {record.id} is not pending")

    def _update(self, record: ParticipantRecord, body: dict[str, Any]) -> None:
        """Validate the whole update, then apply it (nothing changes on an error)."""
        self._apply_update(record, self._validated_update(record, body))

    def _validated_update(self, record: ParticipantRecord, body: dict[str, Any]) -> ParticipantUpdate:
        """Every field of an update body checked, in the order the errors are answered."""
        referrer = self._new_referrer(record, body.get("referredBy"))
        status = body.get("referralStatus")
        self._check_status_change(record, status, referrer)
        email = body.get("email")
        self._check_email_change(record, email)
        return ParticipantUpdate(
            referrer=referrer,
            status=status,
            email=email,
            metadata=_metadata(body.get("metadata")),
            names={name: _text(body[name], name) for name in ("firstName", "lastName") if name in body},
            vanity_keys=self._vanity_keys(record, body.get("vanityKeys")),
        )

    def _new_referrer(self, record: ParticipantRecord, referred_by: Any) -> ParticipantRecord | None:
        """The referrer an update's ``referredBy`` assigns: another participant, to one without a referrer."""
        if referred_by is None:
            return None
        referrer = self._lookup(str(referred_by))
        if referrer is None and self.update_unknown_referrer == "ignored":
            return None
        if referrer is None or referrer.id == record.id:
            raise _invalid("REFERRED_BY", f"referredBy {referred_by} is not another participant")
        if record.referrer_id is not None:
            raise SandboxError(
                self.update_refusal_status,
                "REFERRER_ALREADY_ASSIGNED",
                f"Participant {record.id} already has a referrer",
            )
        return referrer

    def _check_status_change(self, record: ParticipantRecord, status: Any, referrer: ParticipantRecord | None) -> None:
        """A ``referralStatus`` is one of three, needs a referrer, and cannot undo an awarded credit."""
        if status is None:
            return
        if status not in ("CREDIT_PENDING", "CREDIT_AWARDED", "CREDIT_EXPIRED"):
            raise _invalid("REFERRAL_STATUS", "referralStatus must be CREDIT_PENDING, CREDIT_AWARDED or CREDIT_EXPIRED")
        if referrer is None and record.referrer_id is None:
            raise SandboxError(400, "NO_REFERRER", f"Participant {record.id} has no referrer")
        if record.referral_status == "CREDIT_AWARDED":
            raise SandboxError(
                self.update_refusal_status,
                "REFERRAL_ALREADY_AWARDED",
                f"Referral credit for participant {record.id} was already awarded",
            )

    def _check_email_change(self, record: ParticipantRecord, email: Any) -> None:
        """A new ``email`` is an email address no other participant has."""
        if email is None:
            return
        if not _valid_email(email):
            raise _invalid("EMAIL", "email must be an email address")
        other = self._by_email(email)
        if other is not None and other.id != record.id:
            raise SandboxError(
                self.update_refusal_status,
                "EMAIL_ALREADY_EXISTS",
                f"Email {email} is already used by another participant",
            )

    def _apply_update(self, record: ParticipantRecord, update: ParticipantUpdate) -> None:
        """Write a checked update onto the participant, then assign its referrer or set its referral status."""
        if update.email is not None:
            self._emails.pop(_key(record.email), None)
            record.email = update.email.strip()
            self._emails[_key(record.email)] = record.id
        record.first_name = update.names.get("firstName", record.first_name)
        record.last_name = update.names.get("lastName", record.last_name)
        _merge_metadata(record.metadata, update.metadata)
        if update.vanity_keys is not None:
            record.vanity_keys = update.vanity_keys
        record.updated_at = self.clock()
        if update.referrer is not None:
            self._assign_referrer(record, update.referrer.id, update.status or self.default_referral_status)
        elif update.status is not None:
            self._set_status(record, update.status)

    def _vanity_keys(self, record: ParticipantRecord, value: Any) -> list[str] | None:
        if value is None:
            return None
        if not _valid_vanity_keys(value):
            raise _invalid(
                "VANITY_KEYS", "vanityKeys must be a list of at most 5 ids of 1-20 letters, digits, '_' or '-'"
            )
        taken = self._ids_and_vanity_keys(but=record)
        clash = next((v for v in value if v.lower() in taken), None)
        if clash is not None:
            raise _invalid("VANITY_KEYS", f"vanity id {clash} is already used by another participant")
        return list(value)

    def _ids_and_vanity_keys(self, *, but: ParticipantRecord) -> set[str]:
        """Every id and vanity key (lower-cased) of the participants other than ``but``."""
        return {
            key.lower()
            for other in self.participants.values()
            if other.id != but.id
            for key in [other.id, *other.vanity_keys]
        }

    # -- standings --------------------------------------------------------------------------------

    def _standings(self) -> dict[str, dict[str, int]]:
        """Every participant's counts and ranks, computed once per answer."""
        this_month = _month(self.clock())
        last_month = _previous(this_month)
        counts = {record.id: _credit_counts(record, this_month, last_month) for record in self.participants.values()}
        self._add_ranks(counts, this_month)
        return counts

    def _add_ranks(self, counts: dict[str, dict[str, int]], this_month: tuple[int, int]) -> None:
        """Add each participant's ``rank``, ``monthlyRank`` and ``prevMonthlyRank`` to its counts."""
        ordered = sorted(self.participants.values(), key=lambda p: (p.created_at, p.seq))
        for field_name, rank_name in (("all", "rank"), ("monthly", "monthlyRank"), ("prev", "prevMonthlyRank")):
            eligible = [p for p in ordered if rank_name != "prevMonthlyRank" or _month(p.created_at) < this_month]
            # A stable sort: equal counts keep sign-up order.
            eligible.sort(key=_by_count(counts, field_name))
            for position, record in enumerate(eligible, start=1):
                counts[record.id][rank_name] = position
        for values in counts.values():
            values.setdefault("prevMonthlyRank", -1)

    def _leaderboard(self, kind: str) -> list[ParticipantRecord]:
        standings = self._standings()
        records = list(self.participants.values())
        if kind == "ALL_TIME":
            return sorted(records, key=lambda p: standings[p.id]["rank"])
        if kind == "CURRENT_MONTH":
            return sorted(records, key=lambda p: standings[p.id]["monthlyRank"])
        if kind == "PREV_MONTH":
            existed = [p for p in records if standings[p.id]["prevMonthlyRank"] > 0]
            return sorted(existed, key=lambda p: standings[p.id]["prevMonthlyRank"])
        attribute = "impression_count" if kind == "TOTAL_IMPRESSION_COUNT" else "unique_impression_count"
        return sorted(records, key=lambda p: (-getattr(p, attribute), p.created_at, p.seq))

    # -- referrals --------------------------------------------------------------------------------

    def _referral_items(self, referrer_id: str | None) -> list[dict[str, Any]]:
        """Referrals and invites as the API shows them, with the private fields sorting and filters need."""
        items: list[dict[str, Any]] = []
        for record in self.participants.values():
            if record.referrer_id is None or (referrer_id is not None and record.referrer_id != referrer_id):
                continue
            items.append(
                {
                    "id": record.id,
                    "email": record.email,
                    "firstName": record.first_name,
                    "lastName": record.last_name,
                    "referralStatus": record.referral_status,
                    "referredBy": record.referrer_id,
                    "createdAt": record.created_at,
                    "updatedAt": record.updated_at,
                    "_triggeredAt": record.referral_triggered_at,
                    "_seq": record.seq,
                }
            )
        for invite in self.invites.values():
            if referrer_id is not None and invite.referrer_id != referrer_id:
                continue
            items.append(
                {
                    "id": invite.id,
                    "email": MASKED_EMAIL,
                    "firstName": None,
                    "lastName": None,
                    "referralStatus": "INVITE_SENT",
                    "referredBy": invite.referrer_id,
                    "createdAt": invite.created_at,
                    "updatedAt": invite.created_at,
                    "_triggeredAt": None,
                    "_seq": invite.seq,
                }
            )
        return items

    def _referral_page(self, request: Request, items: list[dict[str, Any]]) -> dict[str, Any]:
        args = request.args
        sort_by = _sort_field(args)
        descending = (args.get("desc") or "true").lower() != "false"
        limit = _limit(request, minimum=1)
        offset = _int_arg(args.get("offset"), "OFFSET", "offset", default=0)
        selected = _sorted_items([item for item in items if _matches(item, args)], sort_by, descending)
        offset = _page_start(selected, args.get("nextId"), offset)
        page = selected[offset : offset + limit]
        more = offset + limit < len(selected)
        return {
            "referrals": [_public(item) for item in page],
            "limit": limit,
            "nextOffset": offset + limit if more else None,
            "nextId": selected[offset + limit]["id"] if more else None,
            "more": more,
        }

    # -- views ------------------------------------------------------------------------------------

    def _participant_page(self, request: Request, ordered: list[ParticipantRecord], *, minimum: int) -> dict[str, Any]:
        limit = _limit(request, minimum=minimum)
        page, next_id = _page(ordered, request.args.get("nextId"), limit, lambda p: p.id)
        standings = self._standings()
        return {"participants": [self._view(p, standings) for p in page], "limit": limit, "nextId": next_id}

    def _view(
        self, record: ParticipantRecord, standings: dict[str, dict[str, int]], *, nested: bool = False
    ) -> dict[str, Any]:
        """A participant as the document shows it; ``nested`` is the shape of a ``referrer``."""
        view = self._shared_view(record, standings[record.id])
        if not self.optional_fields:
            _drop_optional_fields(view, record)
        if not nested:
            self._add_own_fields(view, record, standings)
        return view

    def _shared_view(self, record: ParticipantRecord, mine: dict[str, int]) -> dict[str, Any]:
        """The fields of a participant and of a nested ``referrer`` alike, optional ones included."""
        this_month = _month(self.clock())
        return {
            "id": record.id,
            "firstName": record.first_name,
            "lastName": record.last_name,
            "referralCount": mine["all"],
            "monthlyReferralCount": mine["monthly"],
            "prevMonthlyReferralCount": mine["prev"],
            "rank": mine["rank"],
            "monthlyRank": mine["monthlyRank"],
            "prevMonthlyRank": mine["prevMonthlyRank"],
            "shareUrl": f"{self.share_base}?grsf={record.id}",
            "email": record.email,
            "createdAt": record.created_at,
            "referralSource": "PARTICIPANT" if record.referrer_id else "DIRECT",
            "fraudRiskLevel": record.fraud_risk_level,
            "fraudReasonCode": record.fraud_reason_code,
            "isWinner": any(r.owner() == record.id for r in self.rewards.values()),
            "shareCount": {"email": 0, "facebook": 0, "linkedin": 0, "pinterest": 0, "twitter": 0},
            "impressionCount": record.impression_count,
            "uniqueImpressionCount": record.unique_impression_count,
            "inviteCount": record.invite_count,
            "referrals": [referred for referred, _ in record.credits],
            "monthlyReferrals": [referred for referred, at in record.credits if _month(at) == this_month],
        }

    def _add_own_fields(
        self, view: dict[str, Any], record: ParticipantRecord, standings: dict[str, dict[str, int]]
    ) -> None:
        """What a participant shows beyond a nested ``referrer``: its referral, referrer, metadata, rewards."""
        referrer = self.participants.get(record.referrer_id) if record.referrer_id else None
        if record.referrer_id:
            view["referralStatus"] = record.referral_status
        view["referrer"] = self._view(referrer, standings, nested=True) if referrer else None
        view["metadata"] = dict(record.metadata)
        view["rewards"] = [self._reward_view(r) for r in self._rewards_of(record)]
        view["vanityKeys"] = list(record.vanity_keys)

    def _reward_view(self, reward: RewardRecord) -> dict[str, Any]:
        return {
            "id": reward.id,
            "rewardId": reward.reward_id,
            "status": reward.status,
            "unread": reward.unread,
            "approved": reward.approved,
            "approvedAt": reward.approved_at,
            "fulfilledAt": reward.fulfilled_at,
            "isReferrer": reward.is_referrer,
            "isAvailable": reward.approved,
            "isFulfilled": reward.status == "FULFILLED",
            "referredId": reward.referred_id,
            "referrerId": reward.referrer_id,
        }

    def _campaign_view(self) -> dict[str, Any]:
        records = list(self.participants.values())
        return {
            "id": self.campaign_id,
            "name": self.campaign_name,
            "referralCount": sum(len(p.credits) for p in records),
            "participantCount": len(records),
            "impressionCount": sum(p.impression_count for p in records),
            "inviteCount": sum(p.invite_count for p in records),
            "winnerCount": len({r.owner() for r in self.rewards.values()}),
            "status": "IN_PROGRESS",
            # Not in the document's examples; GrowSurf's official client requires it.
            "type": "REFERRAL",
            "rewards": [self._catalog_reward()],
        }

    def _catalog_reward(self) -> dict[str, Any]:
        """The campaign's one reward, as the document's examples show one of each type."""
        reward: dict[str, Any] = {
            "id": DEFAULT_REWARD_ID,
            "type": "DOUBLE_SIDED" if self.double_sided else "SINGLE_SIDED",
            "description": f"Refer {self.reward_every} friend(s) and earn a reward",
            "isUnlimited": True,
            "limit": None,
            "conversionsRequired": self.reward_every,
            "numberOfWinners": None,
            "imageUrl": None,
            # Not in the document's examples; GrowSurf's official client requires it.
            "metadata": {},
        }
        if self.double_sided:
            # Only the document's DOUBLE_SIDED example has the friend's side of the reward.
            reward["referralDescription"] = "Join through a friend and earn a reward too"
        return reward

    # -- control routes ---------------------------------------------------------------------------

    def control(self, request: Request, action: str, payload: Any) -> Response:
        body = payload if isinstance(payload, dict) else {}
        route = self._provider_control_routes().get((action, request.method))
        if route is not None:
            return route(body)
        if request.method != "POST" or action not in ("participants", "conversions", "rewards", "fraud"):
            return super().control(request, action, payload)
        try:
            return self._seed(action, body)
        except SandboxError as exc:
            return error(exc.status, exc.code, exc.message)
        except (ValueError, KeyError, TypeError) as exc:
            return json_response({"error": str(exc)}, 400)

    def _provider_control_routes(self) -> dict[tuple[str, str], Callable[[dict[str, Any]], Response]]:
        """GrowSurf's own control routes but the seeding ones, by action and method; each takes the body."""
        return {
            ("participants", "GET"): self._control_participants,
            ("settings", "GET"): lambda body: json_response(self.settings()),
            ("settings", "POST"): self._control_configure,
            ("webhooks", "GET"): self._control_webhooks,
        }

    def _control_participants(self, body: dict[str, Any]) -> Response:
        with self.lock:
            standings = self._standings()
            ordered = sorted(self.participants.values(), key=lambda p: p.seq)
            return json_response([self._view(p, standings) for p in ordered])

    def _control_configure(self, body: dict[str, Any]) -> Response:
        try:
            return json_response(self.configure(**body))
        except ValueError as exc:
            return json_response({"error": str(exc)}, 400)

    def _control_webhooks(self, body: dict[str, Any]) -> Response:
        with self.lock:
            return json_response(list(self.webhooks))

    def _seed(self, action: str, body: dict[str, Any]) -> Response:
        if action == "participants":
            if not isinstance(body.get("email"), str):
                raise ValueError("'email' is required")
            created = self.seed_participant(
                body["email"],
                first_name=body.get("firstName"),
                last_name=body.get("lastName"),
                referrer=body.get("referrer"),
                referral_status=body.get("referralStatus"),
                created_at=body.get("createdAt"),
                metadata=body.get("metadata"),
                ip_address=body.get("ipAddress"),
                fraud_risk_level=str(body.get("fraudRiskLevel", "LOW")),
                fraud_reason_code=body.get("fraudReasonCode"),
                impression_count=int(body.get("impressionCount", 0)),
                unique_impression_count=int(body.get("uniqueImpressionCount", 0)),
            )
            return json_response(created, 201)
        if not isinstance(body.get("participant"), str):
            raise ValueError("'participant' (an id or an email) is required")
        who = body["participant"]
        if action == "conversions":
            return json_response(self.trigger(who))
        if action == "rewards":
            reward = self.grant_reward(who, approved=bool(body.get("approved")), fulfilled=bool(body.get("fulfilled")))
            return json_response(reward, 201)
        self.set_fraud(who, str(body.get("fraudRiskLevel", "HIGH")), body.get("fraudReasonCode"))
        return json_response(self.participant(who))


def _by_count(counts: dict[str, dict[str, int]], field_name: str) -> Callable[[ParticipantRecord], int]:
    return lambda record: -counts[record.id][field_name]


def _credit_counts(
    record: ParticipantRecord, this_month: tuple[int, int], last_month: tuple[int, int]
) -> dict[str, int]:
    """The participant's credited referrals: all of them, this month's and last month's."""
    months = [_month(at) for _, at in record.credits]
    return {
        "all": len(record.credits),
        "monthly": sum(1 for m in months if m == this_month),
        "prev": sum(1 for m in months if m == last_month),
    }


def _default_vanity_keys(record: ParticipantRecord) -> list[str]:
    """The vanity key a participant gets from its first name (``ada-x1y2z3``); none without a name."""
    if not record.first_name:
        return []
    stem = re.sub(r"[^a-z0-9]", "", record.first_name.lower())[:13]
    return [f"{stem}-{record.id}"] if stem else []


def _drop_optional_fields(view: dict[str, Any], record: ParticipantRecord) -> None:
    """Leave out what some of the document's examples leave out (the ``optional_fields`` setting)."""
    for name in OPTIONAL_FIELDS:
        view.pop(name, None)
    if record.fraud_risk_level == "LOW":
        # The document's examples show fraud fields on some participants only: never a risk.
        view.pop("fraudRiskLevel", None)
        view.pop("fraudReasonCode", None)


def _merge_metadata(metadata: dict[str, Any], changes: dict[str, Any]) -> None:
    """Apply an update's metadata: a null value removes its key, any other sets it."""
    for key, value in changes.items():
        if value is None:
            metadata.pop(key, None)
        else:
            metadata[key] = value


# -- request parsing ------------------------------------------------------------------------------


def _json_body(request: Request) -> dict[str, Any]:
    """The JSON object of the body; empty when there is no body; 400 when it is not an object."""
    if not request.get_data(cache=True):
        return {}
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise SandboxError(400, "BAD_REQUEST", "The request body must be a JSON object")
    return body


def _valid_email(value: Any) -> TypeGuard[str]:
    return isinstance(value, str) and len(value) <= 254 and bool(_EMAIL.match(value.strip()))


def _text(value: Any, name: str) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        code = re.sub(r"(?<!^)(?=[A-Z])", "_", name).upper()
        raise _invalid(code, f"{name} must be a string")
    return value


def _metadata(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict) or any(isinstance(v, dict | list) for v in value.values()):
        raise _invalid("METADATA", "metadata must be a shallow object")
    return value


def _without_none(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if v is not None}


def _int_arg(value: str | None, code: str, name: str, *, default: int) -> int:
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise _invalid(code, f"{name} must be an integer") from None
    if number < 0:
        raise _invalid(code, f"{name} must not be negative")
    return number


def _valid_vanity_keys(value: Any) -> bool:
    """At most five vanity keys, each of 1-20 letters, digits, ``_`` or ``-``."""
    return isinstance(value, list) and len(value) <= 5 and all(isinstance(v, str) and _VANITY.match(v) for v in value)


def _sort_field(args: Any) -> str:
    """The referrals list's ``sortBy`` (``updatedAt`` by default), one of :data:`SORT_FIELDS`."""
    sort_by = args.get("sortBy") or "updatedAt"
    if sort_by not in SORT_FIELDS:
        raise _invalid("SORT_BY", f"sortBy must be one of {', '.join(SORT_FIELDS)}")
    return str(sort_by)


def _limit(request: Request, *, minimum: int) -> int:
    limit = _int_arg(request.args.get("limit"), "LIMIT", "limit", default=MAX_LIMIT)
    if not minimum <= limit <= MAX_LIMIT:
        raise _invalid("LIMIT", f"limit must be from {minimum} to {MAX_LIMIT}")
    return limit


def _page(
    items: list[Any], next_id: str | None, limit: int, id_of: Callable[[Any], str]
) -> tuple[list[Any], str | None]:
    """The page starting at the item ``next_id`` (or the first), and the id of the page after it."""
    start = 0
    if next_id:
        ids = [id_of(item) for item in items]
        if next_id not in ids:
            raise _invalid("NEXT_ID", f"nextId {next_id} is not in this list")
        start = ids.index(next_id)
    page = items[start : start + limit]
    following = items[start + limit] if start + limit < len(items) else None
    return page, id_of(following) if following is not None else None


def _page_start(items: list[dict[str, Any]], next_id: str | None, offset: int) -> int:
    """Where a referrals page starts: at the item ``nextId`` names (it wins over ``offset``), else ``offset``."""
    if not next_id:
        return offset
    ids = [item["id"] for item in items]
    if next_id not in ids:
        raise _invalid("NEXT_ID", f"nextId {next_id} is not a result of this list")
    return ids.index(next_id)


def _public(item: dict[str, Any]) -> dict[str, Any]:
    """A referrals item without the private fields that sorting and filters use."""
    return {k: v for k, v in item.items() if not k.startswith("_")}


def _matches(item: dict[str, Any], args: Any) -> bool:
    email = args.get("email")
    if email and (item["referralStatus"] == "INVITE_SENT" or _key(item["email"]) != _key(email)):
        return False
    for name in ("firstName", "lastName"):
        wanted = args.get(name)
        if wanted and (item[name] or "").lower() != wanted.lower():
            return False
    status = args.get("referralStatus")
    return not (status in REFERRAL_STATUSES and item["referralStatus"] != status)


def _sorted_items(items: list[dict[str, Any]], sort_by: str, descending: bool) -> list[dict[str, Any]]:
    """Sorted on ``sort_by`` (then creation order), items without a value last in either direction."""
    source = "_triggeredAt" if sort_by == "referralTriggeredAt" else sort_by
    present = [i for i in items if i[source] is not None]
    missing = [i for i in items if i[source] is None]
    present.sort(
        key=lambda i: (_key(i[source]) if isinstance(i[source], str) else i[source], i["_seq"]), reverse=descending
    )
    missing.sort(key=lambda i: i["_seq"], reverse=descending)
    return present + missing
