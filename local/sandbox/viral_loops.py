"""A stateful Viral Loops on loopback, written from its reference document (000_e1d784b703245127.txt).

One campaign (``campaign_id``) with participants, referral links by referral code, conversions that
credit the referrer, ranks, rewards that become pending every ``reward_every`` successful referrals,
redemption, flags and orders.

Two hosts, as the document writes them, on one port under two path prefixes:

- ``/api/v2/...`` and ``/api/v3/...`` stand for ``https://app.viral-loops.com/api`` (:attr:`base_url`,
  what ``VIRAL_LOOPS_API_URL`` holds): participant add / get / update / data / referrals / referrer /
  rank / order, convert, flag, and the section-3 ``/v2/campaign/participant/redeem``;
- ``/v2/...`` stands for ``https://api.viral-loops.com/v2`` (:attr:`rewards_base_url`, what
  ``VIRAL_LOOPS_REWARDS_API_URL`` holds): pending rewards and redeem reward, and nothing else. The
  ``/api`` host does not answer the reward paths (404), nor the rewards host the participant ones.

Where the document is silent the sandbox takes the least convenient plausible reading; a setting
(:class:`Readings`, constructor argument ``readings``, control ``POST /_sandbox/readings`` with any of
its fields in camelCase, ``GET /_sandbox/readings``) switches to the others. The choices, each marked
[reading]:

- [reading] GET participant's answer body is not documented. ``participantAnswer``: ``"bare"``
  (default) answers ``{"status": "success", "data": {firstName, referralCode, referralCount}}``: no
  ``email``, no id, no referrer, rank, share URL or flag; ``"data"`` answers participant/data's
  documented fields plus ``referralCode``; ``"full"`` adds ``_id``, ``lastName``, ``shareUrl``,
  ``rank``, ``createdAt``, ``referrer`` (``{email, referralCode}``) and ``flagged``. Add participant
  (no answer documented either) answers the same as GET participant.
- [reading] No error body is documented (only status codes and their meaning). ``errorBody``:
  ``"opaque"`` (default) answers ``{"success": false, "code": <status>}``, no text at all;
  ``"message"`` answers ``{"status": "error", "message": ...}`` with the document's own wording
  ("Participant not found", "Already converted", "The newEmail is already used by another
  participant", "This email is already in the system (duplicate submission)", "Referrer not found",
  "No order found", "Missing required parameters", "Missing or invalid parameters", "Forbidden").
  The 429 (undocumented too) and the 403 follow the same setting.
- [reading] The document asks for emails "normalized (lowercase, no whitespace)". ``emailMatch``:
  ``"exact"`` (default) stores and finds an email exactly as sent, so ``Ada@Example.com`` is not
  ``ada@example.com``; ``"folded"`` matches them case-insensitively. An email with whitespace is a 400
  either way.
- [reading] Convert's sample answer is shown once. ``convertAnswer``: ``"sample"`` (default) answers
  it (``email``, ``converted``, ``referrer``, ``rewardTriggered``); ``"status"`` answers
  ``{"status": "success"}`` only, saying nothing of what was credited.
- [reading] Pending rewards of an email that is not a participant. ``unknownRewards``: ``"empty"``
  (default: "if no rewards are pending for the provided email, the response will be an empty array")
  or ``"404"``.
- [reading] "If your campaign does not use a leaderboard template, the rank may not be available".
  ``leaderboard``: ``true`` (default) answers ``{"rank": n}`` (a flagged participant, excluded from the
  leaderboard, has ``null``); ``false`` answers rank with a 400.
- [reading] Convert of a participant nobody referred ("this endpoint will work only for the emails of
  participants who have already been referred") is a 400 "Missing or invalid parameters"; a
  ``campaignId`` that is not the sandbox's is the same 400 ("Ensure both email and campaignId are
  present and correct").
- [reading] Add participant takes the documented ``campaignId``, ``email``, ``firstName``,
  ``referrer`` (a referral code; an unknown one is a 400) and ``customFields``; any other field (such
  as ``lastName``) is ignored, as a provider ignores what it does not know. Adding an email already
  there is 409 "This email is already in the system (duplicate submission)" (the rank section's
  troubleshooting).
- Update participant (section 4) takes the union of its table and its sample: ``apiToken``,
  ``campaignId`` and ``email`` (required: the 400 says "make sure email and campaignId are provided"),
  ``newEmail`` (one another participant has is the documented 409 "The newEmail is already used by
  another participant"; the referrals and orders of the participant follow it), ``firstName``,
  ``referrer`` (a referral code of another participant, else a 400) and ``customFields`` (an object,
  else a 400); an unknown ``email`` is the documented 404.
- [reading] The update's introduction says it changes a "last name" but no field of it is named.
  ``updateLastName``: ``"ignored"`` (default: neither the table nor the sample has one, so a
  ``lastName`` sent is dropped, as any unknown field) or ``"kept"`` (``lastName`` changes it).
- [reading] Whether an update's ``customFields`` replaces or merges is not written.
  ``customFieldsUpdate``: ``"replace"`` (default: the object sent becomes the whole custom data) or
  ``"merge"`` (its keys are merged into it).
- [reading] The update's sample answer carries only ``firstName`` and ``customFields``, what the sample
  request changed. ``updateAnswer``: ``"changed"`` (default) answers those of the two the request
  sent, nothing else (``{}`` for a change of email alone); ``"whole"`` answers the participant as GET
  participant does (under ``participantAnswer``).
- [reading] The secret token is accepted in the ``x-api-token`` header, the ``apiToken`` body field or
  the ``apiToken`` query parameter; the reward endpoints also accept ``x-campaign-id`` alone, as
  documented. A missing or wrong token is 403 (the rank section's troubleshooting).
- Redeem reward: an unknown reward (or one of another milestone) is 404, one already redeemed 409
  (neither is documented; the bodies follow ``errorBody``). The section-3 redeem takes the oldest
  pending reward of the milestone.
- Flag is served on ``/api/v3`` (the overview) and on ``/api/v2`` (the section's sample request).

Seeding: :meth:`seed_participant`, :meth:`convert`, :meth:`grant_reward`, :meth:`seed_order` in
Python, and over HTTP ``POST /_sandbox/participants`` (``email``, ``firstName``, ``lastName``,
``referrer`` as a code or an email, ``customFields``, ``converted``, ``flagged``),
``POST /_sandbox/conversions`` (``email``), ``POST /_sandbox/rewards`` (``email``, optional
``milestoneId``, ``reward``), ``POST /_sandbox/orders`` (``email``, ``orderId``, ``orderAmount``,
``orderCurrency``, optional ``referralCode``) and ``GET /_sandbox/participants`` (every participant's
whole state, more than any answer shows).
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic.alias_generators import to_camel, to_snake
from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from local.sandbox.base import Sandbox, SandboxRate, json_response

DEFAULT_CAMPAIGN_ID = "cl2ad12345a1ab601234"
SHARE_URL = "https://sandbox.viral-loops.local/?referralCode={code}"
_CODE_ALPHABET = string.ascii_lowercase + string.digits
_P = "/campaign/participant"
#: The path prefixes of the two hosts (see the module docstring).
APP_PREFIX = "/api"
REWARDS_PREFIX = "/v2"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _valid_email(email: Any) -> bool:
    if not isinstance(email, str) or any(c.isspace() for c in email) or email.count("@") != 1:
        return False
    local, domain = email.split("@")
    return bool(local) and "." in domain.strip(".")


@dataclass(frozen=True)
class Readings:
    """The sandbox's reading of each place the document is silent (module docstring). The defaults are
    the least convenient plausible ones; :meth:`convenient` and :data:`READINGS` name the others."""

    participant_answer: Literal["bare", "data", "full"] = "bare"
    error_body: Literal["opaque", "message"] = "opaque"
    email_match: Literal["exact", "folded"] = "exact"
    convert_answer: Literal["sample", "status"] = "sample"
    unknown_rewards: Literal["empty", "404"] = "empty"
    leaderboard: bool = True
    update_answer: Literal["changed", "whole"] = "changed"
    update_last_name: Literal["ignored", "kept"] = "ignored"
    custom_fields_update: Literal["replace", "merge"] = "replace"

    def to_wire(self) -> dict[str, Any]:
        return {to_camel(name): value for name, value in asdict(self).items()}

    def updated(self, changes: dict[str, Any]) -> Readings:
        """These readings with ``changes`` (camelCase or snake_case names); ValueError on an unknown one."""
        known = {f.name: f for f in fields(self)}
        given = {to_snake(name): value for name, value in changes.items()}
        unknown = sorted(set(given) - set(known))
        if unknown:
            raise ValueError(f"unknown readings: {', '.join(unknown)}")
        return replace(self, **given)


#: Every reading at least once: the clients' tests run under each of these.
READINGS: dict[str, Readings] = {
    "least-convenient": Readings(),
    "participant-data": Readings(
        participant_answer="data",
        error_body="message",
        email_match="folded",
        convert_answer="status",
        unknown_rewards="404",
        leaderboard=False,
        update_last_name="kept",
        custom_fields_update="merge",
    ),
    "full": Readings(
        participant_answer="full",
        error_body="message",
        email_match="folded",
        unknown_rewards="404",
        update_answer="whole",
        update_last_name="kept",
    ),
}

# The document's own wording of each error, used when ``errorBody`` is "message".
_WORDING = {
    400: "Missing required parameters",
    403: "Forbidden",
    404: "Participant not found",
    409: "Conflict",
    429: "Too many requests",
}


def success(data: Any, status: int = 200) -> Response:
    return json_response({"status": "success", "data": data}, status)


class SandboxError(Exception):
    """Raised inside the sandbox's helpers; becomes the provider's error answer."""

    def __init__(self, status: int, message: str | None = None):
        super().__init__(message or _WORDING.get(status, "Error"))
        self.status = status
        self.message = message or _WORDING.get(status, "Error")


@dataclass
class RewardRecord:
    reward_id: str
    milestone_id: str
    milestone: int
    reward: str
    referrals_required: int
    type: str = "gift_card"
    redeemed: bool = False
    created_at: str = field(default_factory=_now)

    def pending_view(self) -> dict[str, Any]:
        return {
            "rewardId": self.reward_id,
            "milestoneId": self.milestone_id,
            "status": "pending",
            "createdAt": self.created_at,
            "type": self.type,
            "referralsRequired": self.referrals_required,
        }

    def data_view(self) -> dict[str, Any]:
        return {"milestone": self.milestone, "reward": self.reward, "isRedeemed": self.redeemed}


@dataclass
class ParticipantRecord:
    id: str
    seq: int
    email: str
    referral_code: str
    first_name: str | None = None
    last_name: str | None = None
    custom_fields: dict[str, Any] = field(default_factory=dict)
    referrer: str | None = None  # the referrer's email key
    converted: bool = False
    flagged: bool = False
    flag_reason: str | None = None
    created_at: str = field(default_factory=_now)
    rewards: list[RewardRecord] = field(default_factory=list)


class ViralLoopsSandbox(Sandbox):
    """Viral Loops' participant and reward endpoints, stateful, for one campaign, on its two hosts."""

    name = "viral_loops"
    # The two hosts' prefixes are in the rules themselves: the base URLs are below.
    prefix = ""

    def __init__(
        self,
        *,
        api_key: str = "viral-loops-sandbox-key",
        campaign_id: str = DEFAULT_CAMPAIGN_ID,
        reward_every: int = 1,
        rate: SandboxRate | None = None,
        readings: Readings | None = None,
    ):
        self.campaign_id = campaign_id
        self.reward_every = max(1, reward_every)
        self.readings = readings or Readings()
        super().__init__(api_key=api_key, rate=rate)

    @property
    def base_url(self) -> str:
        """``VIRAL_LOOPS_API_URL``: the app host, up to ``/api`` (the client adds ``/v2/...``, ``/v3/...``)."""
        return super().base_url + APP_PREFIX

    @property
    def rewards_base_url(self) -> str:
        """``VIRAL_LOOPS_REWARDS_API_URL``: the rewards host, up to its ``/v2``."""
        return super().base_url + REWARDS_PREFIX

    def rules(self) -> list[Rule]:
        app = APP_PREFIX
        return [
            Rule(f"{app}/v2{_P}", endpoint="post_participant", methods=["POST"]),
            Rule(f"{app}/v2{_P}", endpoint="get_participant", methods=["GET"]),
            Rule(f"{app}/v2{_P}", endpoint="put_participant", methods=["PUT"]),
            Rule(f"{app}/v2{_P}/redeem", endpoint="post_redeem", methods=["POST"]),
            Rule(f"{app}/v2{_P}/data", endpoint="get_data", methods=["GET"]),
            Rule(f"{app}/v2{_P}/referrals", endpoint="get_referrals", methods=["GET"]),
            Rule(f"{app}/v2{_P}/convert", endpoint="post_convert", methods=["POST"]),
            Rule(f"{app}/v3{_P}/flag", endpoint="post_flag", methods=["POST"]),
            Rule(f"{app}/v2{_P}/flag", endpoint="post_flag", methods=["POST"]),
            Rule(f"{app}/v2{_P}/order", endpoint="get_order", methods=["GET"]),
            Rule(f"{app}/v2{_P}/referrer", endpoint="get_referrer_v2", methods=["GET"]),
            Rule(f"{app}/v3{_P}/referrer", endpoint="get_referrer_v3", methods=["GET"]),
            Rule(f"{app}/v2{_P}/rank", endpoint="get_rank", methods=["GET"]),
            # The rewards host: https://api.viral-loops.com/v2/campaign/participant/rewards/...
            Rule(f"{REWARDS_PREFIX}{_P}/rewards/pending", endpoint="get_pending_rewards", methods=["GET"]),
            Rule(f"{REWARDS_PREFIX}{_P}/rewards/redeem", endpoint="post_redeem_reward", methods=["POST"]),
        ]

    def reset_state(self) -> None:
        self.participants: dict[str, ParticipantRecord] = {}
        self.orders: list[dict[str, Any]] = []
        self._seq = 0

    def set_readings(self, readings: Readings) -> None:
        with self.lock:
            self.readings = readings

    # -- the provider's answers to auth, errors and rate limits -----------------------------------

    def error(self, status: int, message: str | None = None) -> Response:
        """An error answer, in the body the ``errorBody`` reading gives."""
        if self.readings.error_body == "opaque":
            return json_response({"success": False, "code": status}, status)
        return json_response({"status": "error", "message": message or _WORDING.get(status, "Error")}, status)

    def authenticate(self, request: Request) -> Response | None:
        body = request.get_json(silent=True)
        given = [
            request.headers.get("x-api-token"),
            request.args.get("apiToken"),
            body.get("apiToken") if isinstance(body, dict) else None,
        ]
        if self.api_key in given:
            return None
        offered = [token for token in given if token is not None]
        if not offered and "/rewards/" in request.path and request.headers.get("x-campaign-id"):
            return None  # the reward endpoints accept the campaign id instead; the handler checks it
        return self.error(403, "Forbidden")

    def rate_limited(self, retry_after: float) -> Response:
        response = self.error(429, "Too many requests")
        response.headers["Retry-After"] = str(max(1, round(retry_after)))
        return response

    def _key(self, email: str) -> str:
        """How the campaign keys an email: as given, or folded (the ``emailMatch`` reading)."""
        return email.lower() if self.readings.email_match == "folded" else email

    # -- Python API: seeding and state ------------------------------------------------------------

    def seed_participant(
        self,
        email: str,
        *,
        first_name: str | None = None,
        last_name: str | None = None,
        referrer: str | None = None,
        custom_fields: dict[str, Any] | None = None,
        converted: bool = False,
        flagged: bool = False,
    ) -> dict[str, Any]:
        """Create a participant directly; ``referrer`` is a referral code or an email. Returns its state."""
        with self.lock:
            referrer_key = None
            if referrer:
                found = self.participants.get(self._key(referrer)) or self._by_code(referrer)
                if found is None:
                    raise ValueError(f"no participant with referral code or email '{referrer}'")
                referrer_key = self._key(found.email)
            record = self._create(email, first_name, last_name, referrer_key, custom_fields or {})
            record.flagged = flagged
            if converted:
                self.convert(email)
            return self._state_view(record)

    def convert(self, email: str) -> dict[str, Any]:
        """Convert a referred participant, crediting the referrer; the convert endpoint's sample data."""
        with self.lock:
            record = self._participant(email)
            if record.referrer is None:
                raise SandboxError(400, "Missing or invalid parameters")
            if record.converted:
                raise SandboxError(409, "Already converted")
            record.converted = True
            referrer = self.participants[record.referrer]
            successful = self._referral_count(referrer)
            triggered = successful % self.reward_every == 0
            if triggered:
                self._add_reward(referrer, referrals_required=successful)
            return {"email": record.email, "converted": True, "referrer": referrer.email, "rewardTriggered": triggered}

    def grant_reward(self, email: str, *, milestone_id: str | None = None, reward: str | None = None) -> dict[str, Any]:
        """Give a participant a pending reward directly; returns it as the pending rewards endpoint lists it."""
        with self.lock:
            record = self._participant(email)
            added = self._add_reward(
                record, referrals_required=self._referral_count(record), milestone_id=milestone_id, reward=reward
            )
            return added.pending_view()

    def seed_order(
        self,
        email: str,
        order_id: str,
        amount: str = "45.00",
        currency: str = "USD",
        *,
        referral_code: str | None = None,
    ) -> dict[str, Any]:
        """Record an order of a participant (``referralCode`` defaults to their referrer's code)."""
        with self.lock:
            record = self._participant(email)
            if referral_code is None and record.referrer is not None:
                referral_code = self.participants[record.referrer].referral_code
            order = {
                "email": record.email,
                "referralCode": referral_code,
                "orderId": order_id,
                "orderAmount": amount,
                "orderCurrency": currency,
                "campaignId": self.campaign_id,
            }
            self.orders.append(order)
            return order

    def participant(self, email: str) -> dict[str, Any]:
        """A participant's whole state, for tests: more than any of the provider's answers shows."""
        with self.lock:
            return self._state_view(self._participant(email))

    def rank_of(self, email: str) -> int | None:
        with self.lock:
            return self._rank(self._participant(email))

    # -- handlers ---------------------------------------------------------------------------------

    def post_participant(self, request: Request) -> Response:
        return self._handle(request, self._add, required=("campaignId", "email"))

    def get_participant(self, request: Request) -> Response:
        return self._handle(request, lambda p: success(self._participant_view(self._participant(p["email"]))))

    def put_participant(self, request: Request) -> Response:
        return self._handle(request, self._update, required=("campaignId", "email"))

    def post_redeem(self, request: Request) -> Response:
        return self._handle(request, self._redeem_milestone, required=("campaignId", "email", "milestoneId"))

    def get_data(self, request: Request) -> Response:
        return self._handle(request, lambda p: success(self._data_view(self._participant(p["email"]))))

    def get_referrals(self, request: Request) -> Response:
        return self._handle(request, lambda p: success(self._referrals(self._participant(p["email"]))))

    def post_convert(self, request: Request) -> Response:
        return self._handle(request, self._convert, required=("campaignId", "email"))

    def post_flag(self, request: Request) -> Response:
        return self._handle(request, self._flag, required=("campaignId", "email", "reason"))

    def get_order(self, request: Request) -> Response:
        return self._handle(request, self._order)

    def get_referrer_v2(self, request: Request) -> Response:
        return self._handle(request, self._referrer_v2)

    def get_referrer_v3(self, request: Request) -> Response:
        return self._handle(request, self._referrer_v3, required=("email",))

    def get_rank(self, request: Request) -> Response:
        return self._handle(request, self._rank_answer)

    def get_pending_rewards(self, request: Request) -> Response:
        return self._handle(request, self._pending_rewards, required=("email",), campaign_header=True)

    def post_redeem_reward(self, request: Request) -> Response:
        return self._handle(
            request, self._redeem_reward, required=("email", "milestoneId", "rewardId"), campaign_header=True
        )

    # -- handler plumbing -------------------------------------------------------------------------

    def _handle(
        self,
        request: Request,
        action: Callable[[dict[str, Any]], Response],
        *,
        required: tuple[str, ...] = ("campaignId", "email"),
        campaign_header: bool = False,
    ) -> Response:
        """Parse the query (GET) or JSON body, check required fields and the campaign, run ``action``."""
        try:
            params = _request_params(request)
            _check_fields(params, required)
            campaign = params.get("campaignId") or (request.headers.get("x-campaign-id") if campaign_header else None)
            if campaign is not None and campaign != self.campaign_id:
                raise SandboxError(400, "Missing or invalid parameters")
            return action(params)
        except SandboxError as exc:
            return self.error(exc.status, exc.message)

    def _add(self, params: dict[str, Any]) -> Response:
        email = params["email"]
        if self._key(email) in self.participants:
            raise SandboxError(409, "This email is already in the system (duplicate submission)")
        referrer_key = None
        if params.get("referrer"):
            referrer = self._by_code(str(params["referrer"]))
            if referrer is None:
                raise SandboxError(400, "Missing or invalid parameters")
            referrer_key = self._key(referrer.email)
        custom = params.get("customFields") or {}
        if not isinstance(custom, dict):
            raise SandboxError(400, "Missing or invalid parameters")
        # The add section documents firstName only: a lastName sent here is not kept.
        record = self._create(email, params.get("firstName"), None, referrer_key, custom)
        return success(self._participant_view(record))

    def _update(self, params: dict[str, Any]) -> Response:
        record = self._participant(params["email"])
        new_email = self._new_email(record, params.get("newEmail"))
        custom = params.get("customFields")
        if custom is not None and not isinstance(custom, dict):
            raise SandboxError(400, "Missing or invalid parameters")
        if params.get("referrer"):
            record.referrer = self._key(self._new_referrer(record, str(params["referrer"])).email)
        self._update_details(record, params)
        if new_email is not None:
            self._rename(record, new_email)
        if self.readings.update_answer == "whole":
            return success(self._participant_view(record))
        # The sample answer: of the participant's first name and custom fields, the ones the request changed.
        changed = {"firstName": record.first_name, "customFields": dict(record.custom_fields)}
        return success({name: value for name, value in changed.items() if name in params})

    def _update_details(self, record: ParticipantRecord, params: dict[str, Any]) -> None:
        """An update's names and ``customFields``, as the readings take them (the last name, replace or merge)."""
        record.first_name = params.get("firstName", record.first_name)
        if self.readings.update_last_name == "kept":
            record.last_name = params.get("lastName", record.last_name)
        custom = params.get("customFields")
        if custom is None:
            return
        if self.readings.custom_fields_update == "replace":
            record.custom_fields = dict(custom)
        else:
            record.custom_fields.update(custom)

    def _new_email(self, record: ParticipantRecord, new_email: str | None) -> str | None:
        """The ``newEmail`` an update moves the participant to; None when it names the same email."""
        if new_email is None or self._key(new_email) == self._key(record.email):
            return None
        if not _valid_email(new_email):
            raise SandboxError(400, "Missing or invalid parameters")
        if self._key(new_email) in self.participants:
            raise SandboxError(409, "The newEmail is already used by another participant")
        return new_email

    def _new_referrer(self, record: ParticipantRecord, code: str) -> ParticipantRecord:
        """The participant whose referral code an update names as the referrer: another participant."""
        referrer = self._by_code(code)
        if referrer is None or referrer is record:
            raise SandboxError(400, "Missing or invalid parameters")
        return referrer

    def _convert(self, params: dict[str, Any]) -> Response:
        data = self.convert(params["email"])
        if self.readings.convert_answer == "status":
            return json_response({"status": "success"})
        return success(data)

    def _flag(self, params: dict[str, Any]) -> Response:
        record = self._participant(params["email"])
        record.flagged = True
        record.flag_reason = str(params["reason"])
        return json_response({"status": "success", "message": "Participant flagged successfully"})

    def _order(self, params: dict[str, Any]) -> Response:
        record = self._participant(params["email"])
        code = params.get("referralCode")
        for order in reversed(self.orders):
            if self._key(order["email"]) == self._key(record.email) and (code is None or order["referralCode"] == code):
                return success(order)
        raise SandboxError(404, "No order found")

    def _referrer_v2(self, params: dict[str, Any]) -> Response:
        referrer = self._referrer_of(self._participant(params["email"]))
        name = " ".join(part for part in (referrer.first_name, referrer.last_name) if part) or None
        return success(
            {"referrer": {"name": name, "referralCode": referrer.referral_code, "campaignId": self.campaign_id}}
        )

    def _referrer_v3(self, params: dict[str, Any]) -> Response:
        record = self._participant(params["email"])
        if record.referrer is None:
            return json_response({"status": 200, "data": {}})
        referrer = self.participants[record.referrer]
        data = {
            "_id": referrer.id,
            "campaignId": self.campaign_id,
            "firstName": referrer.first_name,
            "lastName": referrer.last_name,
            "referralCode": referrer.referral_code,
            "referralsCount": self._referral_count(referrer),
            "referredUsers": self._data_view(referrer)["referredUsers"],
        }
        return json_response({"status": 200, "data": data})

    def _rank_answer(self, params: dict[str, Any]) -> Response:
        record = self._participant(params["email"])
        if not self.readings.leaderboard:
            raise SandboxError(400, "Missing or invalid parameters")
        return success({"rank": self._rank(record)})

    def _pending_rewards(self, params: dict[str, Any]) -> Response:
        record = self.participants.get(self._key(params["email"]))
        if record is None:
            if self.readings.unknown_rewards == "404":
                raise SandboxError(404, "Participant not found")
            return json_response({"data": []})
        return json_response({"data": [r.pending_view() for r in record.rewards if not r.redeemed]})

    def _redeem_reward(self, params: dict[str, Any]) -> Response:
        record = self._participant(params["email"])
        reward = next(
            (
                r
                for r in record.rewards
                if r.reward_id == params["rewardId"] and r.milestone_id == str(params["milestoneId"])
            ),
            None,
        )
        if reward is None:
            raise SandboxError(404, "Reward not found")
        if reward.redeemed:
            raise SandboxError(409, "Reward already redeemed")
        reward.redeemed = True
        return json_response({"status": "success", "message": "Reward successfully marked as redeemed"})

    def _redeem_milestone(self, params: dict[str, Any]) -> Response:
        record = self._participant(params["email"])
        milestone = str(params["milestoneId"])
        of_milestone = [r for r in record.rewards if milestone in (r.milestone_id, str(r.milestone))]
        if not of_milestone:
            raise SandboxError(404, "Reward not found")
        pending = [r for r in of_milestone if not r.redeemed]
        if not pending:
            raise SandboxError(409, "Reward already redeemed")
        pending[0].redeemed = True
        data = {"email": record.email, "milestoneId": pending[0].milestone_id, "rewardId": pending[0].reward_id}
        return success({**data, "isRedeemed": True})

    # -- state helpers ----------------------------------------------------------------------------

    def _create(
        self,
        email: str,
        first_name: str | None,
        last_name: str | None,
        referrer_key: str | None,
        custom_fields: dict[str, Any],
    ) -> ParticipantRecord:
        if self._key(email) in self.participants:
            raise SandboxError(409, "This email is already in the system (duplicate submission)")
        self._seq += 1
        record = ParticipantRecord(
            id=secrets.token_hex(12),
            seq=self._seq,
            email=email,
            referral_code=self._new_code(),
            first_name=first_name,
            last_name=last_name,
            custom_fields=dict(custom_fields),
            referrer=referrer_key,
        )
        self.participants[self._key(email)] = record
        return record

    def _new_code(self) -> str:
        while True:
            code = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(7))
            if self._by_code(code) is None:
                return code

    def _rename(self, record: ParticipantRecord, new_email: str) -> None:
        old = self._key(record.email)
        del self.participants[old]
        record.email = new_email
        self.participants[self._key(new_email)] = record
        for other in self.participants.values():
            if other.referrer == old:
                other.referrer = self._key(new_email)
        for order in self.orders:
            if self._key(order["email"]) == old:
                order["email"] = record.email

    def _participant(self, email: str) -> ParticipantRecord:
        record = self.participants.get(self._key(email))
        if record is None:
            raise SandboxError(404, "Participant not found")
        return record

    def _by_code(self, code: str) -> ParticipantRecord | None:
        return next((p for p in self.participants.values() if p.referral_code == code), None)

    def _referrer_of(self, record: ParticipantRecord) -> ParticipantRecord:
        if record.referrer is None:
            raise SandboxError(404, "Referrer not found")
        return self.participants[record.referrer]

    def _referred(self, record: ParticipantRecord) -> list[ParticipantRecord]:
        key = self._key(record.email)
        return sorted((p for p in self.participants.values() if p.referrer == key), key=lambda p: p.seq)

    def _referral_count(self, record: ParticipantRecord) -> int:
        return sum(1 for p in self._referred(record) if p.converted)

    def _rank(self, record: ParticipantRecord) -> int | None:
        if record.flagged:
            return None
        board = sorted(
            (p for p in self.participants.values() if not p.flagged),
            key=lambda p: (-self._referral_count(p), p.seq),
        )
        return board.index(record) + 1

    def _add_reward(
        self,
        record: ParticipantRecord,
        *,
        referrals_required: int,
        milestone_id: str | None = None,
        reward: str | None = None,
    ) -> RewardRecord:
        added = RewardRecord(
            reward_id="cl" + "".join(secrets.choice(_CODE_ALPHABET) for _ in range(23)),
            milestone_id=milestone_id or f"milestone_{referrals_required}_referrals",
            milestone=len(record.rewards) + 1,
            reward=reward or f"Reward for {referrals_required} referrals",
            referrals_required=referrals_required,
        )
        record.rewards.append(added)
        return added

    # -- views ------------------------------------------------------------------------------------

    def _status(self, record: ParticipantRecord) -> str:
        return "converted" if record.converted else "joined"

    def _data_view(self, record: ParticipantRecord) -> dict[str, Any]:
        """GET participant/data's documented shape."""
        return {
            "email": record.email,
            "firstName": record.first_name,
            "referralCount": self._referral_count(record),
            "rewards": [r.data_view() for r in record.rewards],
            "customFields": dict(record.custom_fields),
            "referredUsers": [{"email": p.email, "status": self._status(p)} for p in self._referred(record)],
        }

    def _full_view(self, record: ParticipantRecord) -> dict[str, Any]:
        referrer = self.participants.get(record.referrer) if record.referrer else None
        return {
            "_id": record.id,
            **self._data_view(record),
            "lastName": record.last_name,
            "referralCode": record.referral_code,
            "shareUrl": SHARE_URL.format(code=record.referral_code),
            "rank": self._rank(record),
            "createdAt": record.created_at,
            "referrer": None if referrer is None else {"email": referrer.email, "referralCode": referrer.referral_code},
            "flagged": record.flagged,
        }

    def _participant_view(self, record: ParticipantRecord) -> dict[str, Any]:
        """GET participant's answer (undocumented), as the ``participantAnswer`` reading has it."""
        reading = self.readings.participant_answer
        if reading == "full":
            return self._full_view(record)
        if reading == "data":
            return {**self._data_view(record), "referralCode": record.referral_code}
        return {
            "firstName": record.first_name,
            "referralCode": record.referral_code,
            "referralCount": self._referral_count(record),
        }

    def _state_view(self, record: ParticipantRecord) -> dict[str, Any]:
        """Everything the sandbox knows of a participant (for tests and the control routes)."""
        return {**self._full_view(record), "flagReason": record.flag_reason}

    def _referrals(self, record: ParticipantRecord) -> list[dict[str, Any]]:
        return [
            {"email": p.email, "status": self._status(p), "createdAt": p.created_at} for p in self._referred(record)
        ]

    # -- control routes ---------------------------------------------------------------------------

    def control(self, request: Request, action: str, payload: Any) -> Response:
        body = payload if isinstance(payload, dict) else {}
        if action == "readings":
            return self._control_readings(request, body)
        if request.method == "GET" and action == "participants":
            with self.lock:
                ordered = sorted(self.participants.values(), key=lambda p: p.seq)
                return json_response([self._state_view(p) for p in ordered])
        seed = self._seeders().get(action)
        if request.method != "POST" or seed is None:
            return super().control(request, action, payload)
        return self._control_seed(seed, body)

    def _control_seed(self, seed: Callable[[dict[str, Any]], dict[str, Any]], body: dict[str, Any]) -> Response:
        """Run a seeding control route: 201 with what it created, 400 (or the provider's error) if it fails."""
        if not isinstance(body.get("email"), str):
            return json_response({"error": "'email' is required"}, 400)
        try:
            created = seed(body)
        except SandboxError as exc:
            return self.error(exc.status, exc.message)
        except ValueError as exc:
            return json_response({"error": str(exc)}, 400)
        return json_response(created, 201)

    def _control_readings(self, request: Request, body: dict[str, Any]) -> Response:
        """``GET`` the readings, or ``POST`` changes to them; either answers them as they now are."""
        if request.method == "POST":
            try:
                self.set_readings(self.readings.updated(body))
            except (TypeError, ValueError) as exc:
                return json_response({"error": str(exc)}, 400)
        return json_response(self.readings.to_wire())

    def _seeders(self) -> dict[str, Callable[[dict[str, Any]], dict[str, Any]]]:
        """What each ``POST /_sandbox/<action>`` seeds, from a body that names an ``email``."""
        return {
            "participants": self._seed_participant_body,
            "conversions": lambda body: self.convert(body["email"]),
            "rewards": self._seed_reward_body,
            "orders": self._seed_order_body,
        }

    def _seed_participant_body(self, body: dict[str, Any]) -> dict[str, Any]:
        return self.seed_participant(
            body["email"],
            first_name=body.get("firstName"),
            last_name=body.get("lastName"),
            referrer=body.get("referrer"),
            custom_fields=body.get("customFields"),
            converted=bool(body.get("converted", False)),
            flagged=bool(body.get("flagged", False)),
        )

    def _seed_reward_body(self, body: dict[str, Any]) -> dict[str, Any]:
        return self.grant_reward(body["email"], milestone_id=body.get("milestoneId"), reward=body.get("reward"))

    def _seed_order_body(self, body: dict[str, Any]) -> dict[str, Any]:
        return self.seed_order(
            body["email"],
            str(body.get("orderId") or secrets.token_hex(5)),
            str(body.get("orderAmount", "45.00")),
            str(body.get("orderCurrency", "USD")),
            referral_code=body.get("referralCode"),
        )


def _request_params(request: Request) -> dict[str, Any]:
    """The query of a GET, else the JSON body, which must be an object."""
    if request.method == "GET":
        return dict(request.args)
    params = request.get_json(silent=True)
    if not isinstance(params, dict):
        raise SandboxError(400, "Missing or invalid parameters")
    return params


def _check_fields(params: dict[str, Any], required: tuple[str, ...]) -> None:
    """Every required field present, it and ``newEmail`` strings, ``email`` an email; else a 400."""
    if any(params.get(name) in (None, "") for name in required):
        raise SandboxError(400, "Missing required parameters")
    if any(name in params and not isinstance(params[name], str) for name in (*required, "newEmail")):
        raise SandboxError(400, "Missing or invalid parameters")
    if "email" in params and not _valid_email(params["email"]):
        raise SandboxError(400, "Missing or invalid parameters")
