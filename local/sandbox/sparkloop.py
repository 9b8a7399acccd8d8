"""A stateful SparkLoop on loopback, faithful to the reference document (003_f0a4db237b32ce57.txt).

One campaign (``campaign_id``) of subscribers: create, list (paged, newest first, by type), get by
UUID or email, delete, update status. Referral linkage is by ``referrer_code``: a subscriber created
with the ``ref_code`` of another is that one's referral, and SparkLoop counts a referral on
subscription, so the referrer's ``referrals_count`` goes up at once. SparkLoop's API has no rewards,
conversions, flags or leaderboard, so neither has the sandbox. Where the document is silent the
sandbox answers as follows (the client's module docstring holds the matching choices):

- Every route needs ``X-Api-Key`` (also where the document marks it "optional"); a missing or wrong key
  is 401 ``{"error": "Invalid API key"}``.
- The 429 is ``{"error": "Rate limit exceeded"}`` with no ``Retry-After`` (the document shows no 429
  at all, so a client cannot count on one); setting ``retry_after`` (constructor argument, or ``POST
  /_sandbox/settings`` ``{"retryAfter": true}``; ``GET`` reads it) adds ``Retry-After`` seconds. The
  documented limit is :data:`DOCUMENTED_RATE` (about 60 per rolling 60 s), off unless given as
  ``rate`` (tests and the local run would otherwise wait for it).
- The host: the document writes ``api.sparkloop.com`` for "Get a subscriber by UUID" and
  ``api.sparkloop.app`` everywhere else; the sandbox serves every route on its one base URL.
- Get by email and the list share one path (``GET .../subscribers``): with an ``email`` query
  parameter it is get by email (``{"subscriber": ...}``), else the list. An ``email`` of no subscriber
  is the documented 404 ``Subscriber with email ... not found!``.
- An unknown campaign UUID answers 404 ``Campaign <uuid> not found!`` on every route, before anything
  else is looked at.
- Create: email missing or empty -> "You have to provide at least an email"; malformed -> "Email is
  invalid"; already there (case-insensitive) -> "Email has already been taken"; all 400. A
  ``referrer_code`` nobody holds is kept as given and credits nobody (the document lists no error for
  it). ``created_at`` in the past is accepted; one that is not ISO 8601 is 400 "Created at is invalid".
  ``ref_code`` is the first name plus four hex digits (``drago785f``) or eight hex digits without a
  name (``c784ef4f``), as in the examples; ``origin`` is ``api``.
- ``referrals_count`` counts the subscribers (of any status) whose ``referrer_code`` is the
  subscriber's ``ref_code``; deleting a referral takes it out of the count.
- List: ``type`` other than all/referrals/advocates -> 400 "Invalid type!"; ``per_page`` above 200 is
  200, one that is not a positive integer is the default 50; ``page`` that is not a positive integer is
  1; a page past the end is empty (200, no error). ``total_pages`` is ``ceil(total_subscribers /
  per_page)`` (0 when there are none). Order: ``created_at`` descending, later sign-ups first on equal
  timestamps.
- The document shows ``meta`` of an unfiltered list only. With a ``type``, ``total_subscribers`` (and
  so ``total_pages``) count every subscriber of the campaign by default, not only that type (setting
  ``type_totals="all"``); ``type_totals="typed"`` (constructor argument, or ``POST
  /_sandbox/settings`` ``{"typeTotals": "typed"}``) counts that type only.
- Update: the subscriber is looked up before the body; a body without ``status`` is "You have to
  update at least 1 field."; another status is "Invalid status!". The status is kept (see
  :meth:`SparkLoopSandbox.status_of`) but not shown, as in the documented answer.
- Delete: 200 ``{"message": "Successfully deleted subscriber <uuid>"}``; the subscriber is gone (get by
  UUID or email, and a second delete, are the documented 404s ``Subscriber <uuid> not found!``); its
  referrals keep their ``referrer_code``. 400 "Failed to delete subscriber <uuid>" for subscribers
  marked with :meth:`SparkLoopSandbox.fail_deletes_of` (the only way the documented failure can be
  produced).

Seeding: :meth:`SparkLoopSandbox.seed_subscriber` in Python, and over HTTP ``POST /_sandbox/subscribers``
(alias ``/_sandbox/participants``: ``email``, ``name``, ``referrer`` as a ref code or an email,
``createdAt``, ``origin``, ``status``, ``ipAddress``, ``userAgent``, ``utmSource``, ``utmCampaign``),
``GET /_sandbox/subscribers`` (every subscriber, oldest first, with its ``status``),
``POST /_sandbox/failing-deletes`` (``uuid``) and ``GET``/``POST /_sandbox/settings`` (``retryAfter``,
``typeTotals``).
"""

from __future__ import annotations

import math
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from local.sandbox.base import Sandbox, SandboxRate, json_response

DEFAULT_CAMPAIGN_ID = "MF9a78983d1c"
DOCUMENTED_RATE = SandboxRate(requests=60, per_seconds=60)
DEFAULT_PER_PAGE = 50
MAX_PER_PAGE = 200
TYPES = ("all", "referrals", "advocates")
#: What ``meta`` counts on a list of one ``type``: every subscriber (``all``) or that type (``typed``).
TYPE_TOTALS = ("all", "typed")
STATUSES = ("unsubscribed", "confirmed")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
_SUBSCRIBER = "/campaigns/<campaign_uuid>/subscribers"


def _format_time(moment: datetime) -> str:
    """SparkLoop's timestamps: UTC with milliseconds, ``2021-03-24T11:55:02.113Z``."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _parse_time(value: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _key(email: str) -> str:
    return email.strip().lower()


def error(status: int, message: str) -> Response:
    """SparkLoop's error body."""
    return json_response({"error": message}, status)


class SandboxError(Exception):
    """Raised inside the sandbox's helpers; becomes the provider's error answer."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class SubscriberRecord:
    uuid: str
    seq: int
    email: str
    ref_code: str
    created_at: datetime
    name: str | None = None
    referrer_code: str | None = None
    ip_address: str | None = None
    user_agent: str | None = None
    origin: str = "api"
    utm_source: str | None = None
    utm_campaign: str | None = None
    status: str = "confirmed"
    fail_delete: bool = False


class SparkLoopSandbox(Sandbox):
    """SparkLoop's subscriber endpoints, stateful, for one campaign."""

    name = "sparkloop"
    prefix = "/v1"

    def __init__(
        self,
        *,
        api_key: str = "sparkloop-sandbox-key",
        campaign_id: str = DEFAULT_CAMPAIGN_ID,
        rate: SandboxRate | None = None,
        retry_after: bool = False,
        type_totals: str = "all",
    ):
        if type_totals not in TYPE_TOTALS:
            raise ValueError(f"type_totals must be one of {', '.join(TYPE_TOTALS)}")
        self.campaign_id = campaign_id
        self.retry_after = retry_after
        self.type_totals = type_totals
        super().__init__(api_key=api_key, rate=rate)

    def settings(self) -> dict[str, Any]:
        """The settings for what the document leaves open, camelCase as the control route takes them."""
        return {"retryAfter": self.retry_after, "typeTotals": self.type_totals}

    def rules(self) -> list[Rule]:
        return [
            Rule(_SUBSCRIBER, endpoint="post_subscribers", methods=["POST"]),
            Rule(_SUBSCRIBER, endpoint="get_subscribers", methods=["GET"]),
            Rule(f"{_SUBSCRIBER}/<uuid>", endpoint="get_subscriber", methods=["GET"]),
            Rule(f"{_SUBSCRIBER}/<uuid>", endpoint="delete_subscriber", methods=["DELETE"]),
            Rule(f"{_SUBSCRIBER}/<uuid>", endpoint="put_subscriber", methods=["PUT"]),
        ]

    def reset_state(self) -> None:
        self.subscribers: dict[str, SubscriberRecord] = {}  # by uuid
        self._seq = 0

    # -- the provider's answers to auth and rate limits -------------------------------------------

    def authenticate(self, request: Request) -> Response | None:
        if request.headers.get("X-Api-Key") == self.api_key:
            return None
        return error(401, "Invalid API key")

    def rate_limited(self, retry_after: float) -> Response:
        response = error(429, "Rate limit exceeded")
        if self.retry_after:
            response.headers["Retry-After"] = str(max(1, math.ceil(retry_after)))
        return response

    # -- Python API: seeding and state ------------------------------------------------------------

    def seed_subscriber(
        self,
        email: str,
        *,
        name: str | None = None,
        referrer: str | None = None,
        created_at: str | datetime | None = None,
        origin: str = "signup",
        status: str = "confirmed",
        ip_address: str | None = None,
        user_agent: str | None = None,
        utm_source: str | None = None,
        utm_campaign: str | None = None,
    ) -> dict[str, Any]:
        """Create a subscriber directly; ``referrer`` is a ref code or an email. Returns its API view."""
        with self.lock:
            referrer_code = None
            if referrer:
                found = self._by_email(referrer) or self._by_code(referrer)
                if found is None:
                    raise ValueError(f"no subscriber with ref code or email '{referrer}'")
                referrer_code = found.ref_code
            if status not in STATUSES:
                raise ValueError(f"status must be one of {', '.join(STATUSES)}")
            moment = _parse_time(created_at) if isinstance(created_at, str) else created_at
            if created_at is not None and moment is None:
                raise ValueError("createdAt is not ISO 8601")
            record = self._create(
                {
                    "email": email,
                    "name": name,
                    "referrer_code": referrer_code,
                    "ip_address": ip_address,
                    "user_agent": user_agent,
                    "utm_source": utm_source,
                    "utm_campaign": utm_campaign,
                },
                created_at=moment,
                origin=origin,
            )
            record.status = status
            return self._view(record)

    def subscriber(self, uuid_or_email: str) -> dict[str, Any]:
        """A subscriber as the API answers it, by UUID or email."""
        with self.lock:
            record = self.subscribers.get(uuid_or_email) or self._by_email(uuid_or_email)
            if record is None:
                raise KeyError(uuid_or_email)
            return self._view(record)

    def status_of(self, uuid: str) -> str:
        """The subscriber's status (``confirmed`` or ``unsubscribed``), which the API does not show."""
        with self.lock:
            return self.subscribers[uuid].status

    def fail_deletes_of(self, uuid: str) -> None:
        """Make deleting this subscriber answer the documented 400 "Failed to delete subscriber ..."."""
        with self.lock:
            self.subscribers[uuid].fail_delete = True

    # -- handlers ---------------------------------------------------------------------------------

    def post_subscribers(self, request: Request, campaign_uuid: str) -> Response:
        if campaign_uuid != self.campaign_id:
            return self._campaign_not_found(campaign_uuid)
        try:
            record = self._create(self._params(request))
        except SandboxError as exc:
            return error(exc.status, exc.message)
        return json_response({"subscriber": self._view(record)})

    def get_subscribers(self, request: Request, campaign_uuid: str) -> Response:
        if campaign_uuid != self.campaign_id:
            return self._campaign_not_found(campaign_uuid)
        if "email" in request.args:
            email = request.args["email"]
            record = self._by_email(email)
            if record is None:
                return error(404, f"Subscriber with email {email} not found!")
            return json_response({"subscriber": self._view(record)})
        kind = request.args.get("type") or "all"
        if kind not in TYPES:
            return error(400, "Invalid type!")
        per_page = min(MAX_PER_PAGE, _positive(request.args.get("per_page"), DEFAULT_PER_PAGE))
        page = _positive(request.args.get("page"), 1)
        selected = [record for record in self._newest_first() if self._is_of_type(record, kind)]
        start = (page - 1) * per_page
        counted = len(selected) if self.type_totals == "typed" else len(self.subscribers)
        meta = {
            "per_page": per_page,
            "page": page,
            "total_pages": math.ceil(counted / per_page),
            "total_subscribers": counted,
        }
        return json_response({"subscribers": [self._view(r) for r in selected[start : start + per_page]], "meta": meta})

    def get_subscriber(self, request: Request, campaign_uuid: str, uuid: str) -> Response:
        return self._with_subscriber(campaign_uuid, uuid, lambda record: {"subscriber": self._view(record)})

    def delete_subscriber(self, request: Request, campaign_uuid: str, uuid: str) -> Response:
        return self._with_subscriber(campaign_uuid, uuid, self._delete)

    def put_subscriber(self, request: Request, campaign_uuid: str, uuid: str) -> Response:
        params = self._params(request)
        return self._with_subscriber(campaign_uuid, uuid, lambda record: self._update(record, params))

    # -- handler plumbing -------------------------------------------------------------------------

    def _campaign_not_found(self, campaign_uuid: str) -> Response:
        return error(404, f"Campaign {campaign_uuid} not found!")

    def _params(self, request: Request) -> dict[str, Any]:
        """The JSON body, or the form fields of a form-encoded one; empty when there is neither."""
        body = request.get_json(silent=True)
        if isinstance(body, dict):
            return body
        return dict(request.form)

    def _with_subscriber(self, campaign_uuid: str, uuid: str, action: Any) -> Response:
        if campaign_uuid != self.campaign_id:
            return self._campaign_not_found(campaign_uuid)
        record = self.subscribers.get(uuid)
        if record is None:
            return error(404, f"Subscriber {uuid} not found!")
        try:
            return json_response(action(record))
        except SandboxError as exc:
            return error(exc.status, exc.message)

    def _delete(self, record: SubscriberRecord) -> dict[str, Any]:
        if record.fail_delete:
            raise SandboxError(400, f"Failed to delete subscriber {record.uuid}")
        del self.subscribers[record.uuid]
        return {"message": f"Successfully deleted subscriber {record.uuid}"}

    def _update(self, record: SubscriberRecord, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("status") in (None, ""):
            raise SandboxError(400, "You have to update at least 1 field.")
        if params["status"] not in STATUSES:
            raise SandboxError(400, "Invalid status!")
        record.status = params["status"]
        return {"subscriber": self._view(record)}

    # -- state helpers ----------------------------------------------------------------------------

    def _create(
        self, params: dict[str, Any], *, created_at: datetime | None = None, origin: str = "api"
    ) -> SubscriberRecord:
        email = self._new_email(params.get("email"))
        created_at = _created_at(params, created_at)
        name = _text(params.get("name"))
        self._seq += 1
        record = SubscriberRecord(
            uuid=self._new_uuid(),
            seq=self._seq,
            email=email,
            ref_code=self._new_code(name),
            created_at=created_at or datetime.now(UTC),
            name=name,
            referrer_code=_text(params.get("referrer_code")),
            ip_address=_text(params.get("ip_address")),
            user_agent=_text(params.get("user_agent")),
            origin=origin,
            utm_source=_text(params.get("utm_source")),
            utm_campaign=_text(params.get("utm_campaign")),
        )
        self.subscribers[record.uuid] = record
        return record

    def _new_email(self, email: Any) -> str:
        """A new subscriber's email, stripped: given, well formed and nobody's yet (else the documented 400s)."""
        if email is None or (isinstance(email, str) and not email.strip()):
            raise SandboxError(400, "You have to provide at least an email")
        if not isinstance(email, str) or not _EMAIL.match(email.strip()):
            raise SandboxError(400, "Email is invalid")
        if self._by_email(email) is not None:
            raise SandboxError(400, "Email has already been taken")
        return email.strip()

    def _new_uuid(self) -> str:
        while True:
            uuid = f"sub_{secrets.token_hex(5)}"
            if uuid not in self.subscribers:
                return uuid

    def _new_code(self, name: str | None) -> str:
        stem = re.sub(r"[^a-z0-9]", "", (name or "").split(" ")[0].lower())[:12]
        while True:
            code = f"{stem}{secrets.token_hex(2)}" if stem else secrets.token_hex(4)
            if self._by_code(code) is None:
                return code

    def _by_email(self, email: str) -> SubscriberRecord | None:
        key = _key(email)
        return next((r for r in self.subscribers.values() if _key(r.email) == key), None)

    def _by_code(self, code: str) -> SubscriberRecord | None:
        return next((r for r in self.subscribers.values() if r.ref_code == code), None)

    def _referrals_count(self, record: SubscriberRecord) -> int:
        return sum(1 for r in self.subscribers.values() if r.referrer_code == record.ref_code)

    def _is_of_type(self, record: SubscriberRecord, kind: str) -> bool:
        if kind == "referrals":
            return record.referrer_code is not None
        if kind == "advocates":
            return self._referrals_count(record) > 0
        return True

    def _newest_first(self) -> list[SubscriberRecord]:
        return sorted(self.subscribers.values(), key=lambda r: (r.created_at, r.seq), reverse=True)

    # -- views ------------------------------------------------------------------------------------

    def _view(self, record: SubscriberRecord) -> dict[str, Any]:
        """A subscriber exactly as the document shows it (no status)."""
        return {
            "uuid": record.uuid,
            "email": record.email,
            "name": record.name,
            "ref_code": record.ref_code,
            "referrer_code": record.referrer_code,
            "referrals_count": self._referrals_count(record),
            "ip_address": record.ip_address,
            "user_agent": record.user_agent,
            "origin": record.origin,
            "utm_source": record.utm_source,
            "utm_campaign": record.utm_campaign,
            "created_at": _format_time(record.created_at),
        }

    # -- control routes ---------------------------------------------------------------------------

    def control(self, request: Request, action: str, payload: Any) -> Response:
        body = payload if isinstance(payload, dict) else {}
        route = self._provider_control_routes().get((action, request.method))
        if route is None:
            return super().control(request, action, payload)
        return route(body)

    def _provider_control_routes(self) -> dict[tuple[str, str], Callable[[dict[str, Any]], Response]]:
        """SparkLoop's own control routes, by action and method; each takes the JSON body (or ``{}``)."""
        return {
            ("subscribers", "GET"): self._control_subscribers,
            ("participants", "GET"): self._control_subscribers,
            ("subscribers", "POST"): self._control_seed_subscriber,
            ("participants", "POST"): self._control_seed_subscriber,
            ("settings", "GET"): lambda body: json_response(self.settings()),
            ("settings", "POST"): self._control_configure,
            ("failing-deletes", "POST"): self._control_failing_deletes,
        }

    def _control_subscribers(self, body: dict[str, Any]) -> Response:
        with self.lock:
            ordered = sorted(self.subscribers.values(), key=lambda r: r.seq)
            return json_response([{**self._view(r), "status": r.status} for r in ordered])

    def _control_seed_subscriber(self, body: dict[str, Any]) -> Response:
        if not isinstance(body.get("email"), str):
            return json_response({"error": "'email' is required"}, 400)
        try:
            created = self.seed_subscriber(
                body["email"],
                name=body.get("name"),
                referrer=body.get("referrer"),
                created_at=body.get("createdAt"),
                origin=str(body.get("origin", "signup")),
                status=str(body.get("status", "confirmed")),
                ip_address=body.get("ipAddress"),
                user_agent=body.get("userAgent"),
                utm_source=body.get("utmSource"),
                utm_campaign=body.get("utmCampaign"),
            )
        except SandboxError as exc:
            return error(exc.status, exc.message)
        except ValueError as exc:
            return json_response({"error": str(exc)}, 400)
        return json_response(created, 201)

    def _control_configure(self, body: dict[str, Any]) -> Response:
        if (
            set(body) - {"retryAfter", "typeTotals"}
            or not isinstance(body.get("retryAfter", False), bool)
            or body.get("typeTotals", "all") not in TYPE_TOTALS
        ):
            return json_response(
                {"error": "settings are an object of retryAfter (true or false) and typeTotals ('all' or 'typed')"},
                400,
            )
        with self.lock:
            self.retry_after = body.get("retryAfter", self.retry_after)
            self.type_totals = body.get("typeTotals", self.type_totals)
        return json_response(self.settings())

    def _control_failing_deletes(self, body: dict[str, Any]) -> Response:
        with self.lock:
            if body.get("uuid") not in self.subscribers:
                return json_response({"error": "'uuid' must name a subscriber"}, 400)
            self.fail_deletes_of(str(body["uuid"]))
            return json_response({"uuid": body["uuid"], "failDelete": True})


def _positive(value: str | None, default: int) -> int:
    """A query parameter as a positive integer, else ``default``."""
    try:
        number = int(value) if value is not None else default
    except ValueError:
        return default
    return number if number > 0 else default


def _text(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return str(value)


def _created_at(params: dict[str, Any], given: datetime | None) -> datetime | None:
    """The creation time: ``given`` (seeding), else the body's ISO 8601 ``created_at`` (400 if it is not)."""
    if given is not None or params.get("created_at") in (None, ""):
        return given
    parsed = _parse_time(str(params["created_at"]))
    if parsed is None:
        raise SandboxError(400, "Created at is invalid")
    return parsed
