"""A stateful Viral Loops on loopback, faithful to the reference document (000_e1d784b703245127.txt).

One campaign (``campaign_id``) with participants, referral links by referral code, conversions that
credit the referrer, ranks, rewards that become pending every ``reward_every`` successful referrals,
redemption, flags and orders. Where the document is silent the sandbox answers as follows (the
client's module docstring holds the matching choices):

- Every answer is ``{"status": "success", "data": ...}`` or ``{"status": "error", "message": ...}``,
  except where a section shows otherwise (flag and reward redeem: ``message`` without ``data``; pending
  rewards: ``{"data": [...]}``; v3 referrer: ``{"status": 200, "data": ...}``).
- The secret token is accepted in the ``x-api-token`` header, the ``apiToken`` body field or the
  ``apiToken`` query parameter; the reward endpoints also accept ``x-campaign-id`` alone, as
  documented. A missing or wrong token is 403 ``{"status": "error", "message": "Forbidden: ..."}`` (the
  document's troubleshooting: "403 Forbidden: Check if your API key/token is missing or incorrect").
- ``campaignId`` is required in the query (GET) or body (POST/PUT) where a section lists it (400 when
  missing); another id than the sandbox's is 404 "Campaign not found".
- GET participant (shape undocumented) answers participant/data's fields plus ``_id``,
  ``referralCode``, ``shareUrl``, ``rank``, ``createdAt``, ``referrer`` (``{email, referralCode}`` or
  null), ``flagged`` and ``lastName``; add and update participant answer the same.
- ``referralCount`` counts successful (converted) referrals; rank orders participants that are not
  flagged by that count, then by sign-up order; a flagged participant has rank null.
- Add participant with an email already there: 409 "This email is already in the system (duplicate
  submission)"; with an unknown referral code: 400. Convert of a participant who was not referred: 400
  "Participant was not referred ..."; already converted: 409 "Participant already converted".
- Redeem reward: an unknown reward (or one of another milestone) is 404 "Reward not found"; one
  already redeemed is 409 "Reward already redeemed". The section-3 redeem takes the oldest pending
  reward of the milestone, with the same errors.
- Pending rewards of an unknown email: 404 "Participant not found" (like every other endpoint).
- The 429 (undocumented) is ``{"status": "error", "message": "Too many requests"}`` with Retry-After.
- Flag is served on ``/v3`` (the overview) and on ``/v2`` (the section's sample request).

Seeding: :meth:`seed_participant`, :meth:`convert`, :meth:`grant_reward`, :meth:`seed_order` in
Python, and over HTTP ``POST /_sandbox/participants`` (``email``, ``firstName``, ``lastName``,
``referrer`` as a code or an email, ``customFields``, ``converted``, ``flagged``),
``POST /_sandbox/conversions`` (``email``), ``POST /_sandbox/rewards`` (``email``, optional
``milestoneId``, ``reward``), ``POST /_sandbox/orders`` (``email``, ``orderId``, ``orderAmount``,
``orderCurrency``, optional ``referralCode``) and ``GET /_sandbox/participants``.
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from local.sandbox.base import Sandbox, SandboxRate, json_response

DEFAULT_CAMPAIGN_ID = "cl2ad12345a1ab601234"
SHARE_URL = "https://sandbox.viral-loops.local/?referralCode={code}"
_CODE_ALPHABET = string.ascii_lowercase + string.digits
_P = "/campaign/participant"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _key(email: str) -> str:
    return email.strip().lower()


def _valid_email(email: Any) -> bool:
    if not isinstance(email, str) or email != email.strip() or email.count("@") != 1:
        return False
    local, domain = email.split("@")
    return bool(local) and "." in domain.strip(".")


def error(status: int, message: str) -> Response:
    """Viral Loops' error body."""
    return json_response({"status": "error", "message": message}, status)


def success(data: Any, status: int = 200) -> Response:
    return json_response({"status": "success", "data": data}, status)


class SandboxError(Exception):
    """Raised inside the sandbox's helpers; becomes the provider's error answer."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


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
    """Viral Loops' participant and reward endpoints, stateful, for one campaign."""

    name = "viral_loops"
    prefix = "/api"

    def __init__(
        self,
        *,
        api_key: str = "viral-loops-sandbox-key",
        campaign_id: str = DEFAULT_CAMPAIGN_ID,
        reward_every: int = 1,
        rate: SandboxRate | None = None,
    ):
        self.campaign_id = campaign_id
        self.reward_every = max(1, reward_every)
        super().__init__(api_key=api_key, rate=rate)

    def rules(self) -> list[Rule]:
        return [
            Rule(f"/v2{_P}", endpoint="post_participant", methods=["POST"]),
            Rule(f"/v2{_P}", endpoint="get_participant", methods=["GET"]),
            Rule(f"/v2{_P}", endpoint="put_participant", methods=["PUT"]),
            Rule(f"/v2{_P}/redeem", endpoint="post_redeem", methods=["POST"]),
            Rule(f"/v2{_P}/data", endpoint="get_data", methods=["GET"]),
            Rule(f"/v2{_P}/referrals", endpoint="get_referrals", methods=["GET"]),
            Rule(f"/v2{_P}/convert", endpoint="post_convert", methods=["POST"]),
            Rule(f"/v3{_P}/flag", endpoint="post_flag", methods=["POST"]),
            Rule(f"/v2{_P}/flag", endpoint="post_flag", methods=["POST"]),
            Rule(f"/v2{_P}/order", endpoint="get_order", methods=["GET"]),
            Rule(f"/v2{_P}/referrer", endpoint="get_referrer_v2", methods=["GET"]),
            Rule(f"/v3{_P}/referrer", endpoint="get_referrer_v3", methods=["GET"]),
            Rule(f"/v2{_P}/rank", endpoint="get_rank", methods=["GET"]),
            Rule(f"/v2{_P}/rewards/pending", endpoint="get_pending_rewards", methods=["GET"]),
            Rule(f"/v2{_P}/rewards/redeem", endpoint="post_redeem_reward", methods=["POST"]),
        ]

    def reset_state(self) -> None:
        self.participants: dict[str, ParticipantRecord] = {}
        self.orders: list[dict[str, Any]] = []
        self._seq = 0

    # -- the provider's answers to auth and rate limits -------------------------------------------

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
        return error(403, "Forbidden: missing or invalid API token")

    def rate_limited(self, retry_after: float) -> Response:
        response = error(429, "Too many requests")
        response.headers["Retry-After"] = str(max(1, round(retry_after)))
        return response

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
        """Create a participant directly; ``referrer`` is a referral code or an email. Returns its view."""
        with self.lock:
            referrer_key = None
            if referrer:
                found = self.participants.get(_key(referrer)) or self._by_code(referrer)
                if found is None:
                    raise ValueError(f"no participant with referral code or email '{referrer}'")
                referrer_key = _key(found.email)
            record = self._create(email, first_name, last_name, referrer_key, custom_fields or {})
            record.flagged = flagged
            if converted:
                self.convert(email)
            return self._participant_view(record)

    def convert(self, email: str) -> dict[str, Any]:
        """Convert a referred participant, crediting the referrer; the convert endpoint's data."""
        with self.lock:
            record = self._participant(email)
            if record.referrer is None:
                raise SandboxError(400, "Participant was not referred: only referred participants can be converted")
            if record.converted:
                raise SandboxError(409, "Participant already converted")
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
        """A participant as GET participant answers it."""
        with self.lock:
            return self._participant_view(self._participant(email))

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
        return self._handle(request, lambda p: success(self.convert(p["email"])), required=("campaignId", "email"))

    def post_flag(self, request: Request) -> Response:
        return self._handle(request, self._flag, required=("campaignId", "email", "reason"))

    def get_order(self, request: Request) -> Response:
        return self._handle(request, self._order)

    def get_referrer_v2(self, request: Request) -> Response:
        return self._handle(request, self._referrer_v2)

    def get_referrer_v3(self, request: Request) -> Response:
        return self._handle(request, self._referrer_v3, required=("email",))

    def get_rank(self, request: Request) -> Response:
        return self._handle(request, lambda p: success({"rank": self._rank(self._participant(p["email"]))}))

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
        if request.method == "GET":
            params: Any = dict(request.args)
        else:
            params = request.get_json(silent=True)
            if not isinstance(params, dict):
                return error(400, "Invalid JSON body")
        missing = [name for name in required if params.get(name) in (None, "")]
        if missing:
            return error(400, f"Missing required parameters: {', '.join(missing)}")
        malformed = [name for name in (*required, "newEmail") if name in params and not isinstance(params[name], str)]
        if malformed:
            return error(400, f"Invalid parameters: {', '.join(malformed)} must be strings")
        campaign = params.get("campaignId") or (request.headers.get("x-campaign-id") if campaign_header else None)
        if campaign is not None and campaign != self.campaign_id:
            return error(404, "Campaign not found")
        try:
            return action(params)
        except SandboxError as exc:
            return error(exc.status, exc.message)

    def _add(self, params: dict[str, Any]) -> Response:
        email = params["email"]
        if not _valid_email(email):
            raise SandboxError(400, "Invalid email address")
        if _key(email) in self.participants:
            raise SandboxError(409, "This email is already in the system (duplicate submission)")
        referrer_key = None
        if params.get("referrer"):
            referrer = self._by_code(str(params["referrer"]))
            if referrer is None:
                raise SandboxError(400, f"Invalid referrer: no participant has referral code '{params['referrer']}'")
            referrer_key = _key(referrer.email)
        fields = params.get("customFields") or {}
        if not isinstance(fields, dict):
            raise SandboxError(400, "customFields must be an object")
        record = self._create(email, params.get("firstName"), params.get("lastName"), referrer_key, fields)
        return success(self._participant_view(record))

    def _update(self, params: dict[str, Any]) -> Response:
        record = self._participant(params["email"])
        new_email = params.get("newEmail")
        if new_email is not None and _key(new_email) != _key(record.email):
            if not _valid_email(new_email):
                raise SandboxError(400, "Invalid newEmail address")
            if _key(new_email) in self.participants:
                raise SandboxError(409, "Email conflict: the newEmail is already used by another participant")
        if params.get("referrer"):
            referrer = self._by_code(str(params["referrer"]))
            if referrer is None:
                raise SandboxError(400, f"Invalid referrer: no participant has referral code '{params['referrer']}'")
            if referrer is record:
                raise SandboxError(400, "Invalid referrer: a participant cannot refer themselves")
            record.referrer = _key(referrer.email)
        if isinstance(params.get("customFields"), dict):
            record.custom_fields.update(params["customFields"])
        record.first_name = params.get("firstName", record.first_name)
        record.last_name = params.get("lastName", record.last_name)
        if new_email is not None and _key(new_email) != _key(record.email):
            self._rename(record, new_email)
        return success(self._participant_view(record))

    def _flag(self, params: dict[str, Any]) -> Response:
        record = self._participant(params["email"])
        record.flagged = True
        record.flag_reason = str(params["reason"])
        return json_response({"status": "success", "message": "Participant flagged successfully"})

    def _order(self, params: dict[str, Any]) -> Response:
        record = self._participant(params["email"])
        code = params.get("referralCode")
        for order in reversed(self.orders):
            if _key(order["email"]) == _key(record.email) and (code is None or order["referralCode"] == code):
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

    def _pending_rewards(self, params: dict[str, Any]) -> Response:
        record = self._participant(params["email"])
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
            raise SandboxError(404, "Reward not found for this milestone")
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
        if _key(email) in self.participants:
            raise SandboxError(409, "This email is already in the system (duplicate submission)")
        self._seq += 1
        record = ParticipantRecord(
            id=secrets.token_hex(12),
            seq=self._seq,
            email=email.strip(),
            referral_code=self._new_code(),
            first_name=first_name,
            last_name=last_name,
            custom_fields=dict(custom_fields),
            referrer=referrer_key,
        )
        self.participants[_key(email)] = record
        return record

    def _new_code(self) -> str:
        while True:
            code = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(7))
            if self._by_code(code) is None:
                return code

    def _rename(self, record: ParticipantRecord, new_email: str) -> None:
        old = _key(record.email)
        del self.participants[old]
        record.email = new_email.strip()
        self.participants[_key(new_email)] = record
        for other in self.participants.values():
            if other.referrer == old:
                other.referrer = _key(new_email)
        for order in self.orders:
            if _key(order["email"]) == old:
                order["email"] = record.email

    def _participant(self, email: str) -> ParticipantRecord:
        record = self.participants.get(_key(email))
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
        key = _key(record.email)
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
        """GET participant/data's shape."""
        return {
            "email": record.email,
            "firstName": record.first_name,
            "referralCount": self._referral_count(record),
            "rewards": [r.data_view() for r in record.rewards],
            "customFields": dict(record.custom_fields),
            "referredUsers": [{"email": p.email, "status": self._status(p)} for p in self._referred(record)],
        }

    def _participant_view(self, record: ParticipantRecord) -> dict[str, Any]:
        """GET participant's shape (undocumented): participant/data's plus the participant's own fields."""
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

    def _referrals(self, record: ParticipantRecord) -> list[dict[str, Any]]:
        return [
            {"email": p.email, "status": self._status(p), "createdAt": p.created_at} for p in self._referred(record)
        ]

    # -- control routes ---------------------------------------------------------------------------

    def control(self, request: Request, action: str, payload: Any) -> Response:
        body = payload if isinstance(payload, dict) else {}
        if request.method == "GET" and action == "participants":
            with self.lock:
                ordered = sorted(self.participants.values(), key=lambda p: p.seq)
                return json_response([self._participant_view(p) for p in ordered])
        if request.method != "POST" or action not in ("participants", "conversions", "rewards", "orders"):
            return super().control(request, action, payload)
        if not isinstance(body.get("email"), str):
            return json_response({"error": "'email' is required"}, 400)
        try:
            if action == "participants":
                created = self.seed_participant(
                    body["email"],
                    first_name=body.get("firstName"),
                    last_name=body.get("lastName"),
                    referrer=body.get("referrer"),
                    custom_fields=body.get("customFields"),
                    converted=bool(body.get("converted", False)),
                    flagged=bool(body.get("flagged", False)),
                )
            elif action == "conversions":
                created = self.convert(body["email"])
            elif action == "rewards":
                created = self.grant_reward(
                    body["email"], milestone_id=body.get("milestoneId"), reward=body.get("reward")
                )
            else:
                created = self.seed_order(
                    body["email"],
                    str(body.get("orderId") or secrets.token_hex(5)),
                    str(body.get("orderAmount", "45.00")),
                    str(body.get("orderCurrency", "USD")),
                    referral_code=body.get("referralCode"),
                )
        except SandboxError as exc:
            return error(exc.status, exc.message)
        except ValueError as exc:
            return json_response({"error": str(exc)}, 400)
        return json_response(created, 201)
