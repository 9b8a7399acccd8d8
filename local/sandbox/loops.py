"""A stateful fake of Loops' contact and event API (``/api/v1``), faithful to its reference document.

Contacts are keyed by email (case-insensitive) and a ``userId`` belongs to one contact at most.
Custom properties are top-level fields of a contact, as in Loops; a ``null`` clears one. Events are
recorded (name, email, properties, idempotency key) and their extra fields set on the contact,
which is created if missing. An ``Idempotency-Key`` (at most 100 characters) seen on a successful
event within 24 hours answers 409 and the event is not recorded again; a rejected event does not
use up its key.

Answers: ``{"success": true, "id": ...}`` (create, update), ``{"success": true, "message":
"Contact deleted."}`` (delete), ``{"success": true}`` (events), an array (find), ``{"success": true,
"teamName": ...}`` (``GET /api-key``); errors are ``{"success": false, "message": ...}``: 400 for a
missing or invalid field or body, 404 for deleting an unknown contact, 409 for an existing contact
on create (or a userId held by another contact), 401 ``Invalid API key`` for a missing or wrong key.
A 429 carries ``x-ratelimit-limit`` and ``x-ratelimit-remaining: 0`` and no ``Retry-After``.

The rate limit is off unless given; :data:`LOOPS_RATE` is Loops' documented 10 per second per team.

Control routes beside the base ones: ``GET /_sandbox/contacts`` and ``GET /_sandbox/events`` (oldest
first), ``POST /_sandbox/contacts`` (``{"email": ..., "firstName": ..., ...}``) to seed a contact.
"""

from __future__ import annotations

import re
import secrets
import string
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from .base import Sandbox, SandboxRate, json_response

LOOPS_RATE = SandboxRate(requests=10, per_seconds=1.0)
IDEMPOTENCY_WINDOW_SECONDS = 24 * 60 * 60
MAX_IDEMPOTENCY_KEY_LENGTH = 100

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_ID_ALPHABET = string.ascii_lowercase + string.digits
_STANDARD_DEFAULTS: dict[str, Any] = {"source": "API", "subscribed": True, "userGroup": ""}
_STANDARD_FIELDS = ("firstName", "lastName", "userId", *_STANDARD_DEFAULTS)
_READ_ONLY = ("id", "email")


class SandboxError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def error(status: int, message: str) -> Response:
    return json_response({"success": False, "message": message}, status)


@dataclass
class EventRecord:
    """One event Loops accepted."""

    name: str
    email: str
    properties: dict[str, Any]
    idempotency_key: str | None
    at: float

    def view(self) -> dict[str, Any]:
        return {
            "eventName": self.name,
            "email": self.email,
            "properties": self.properties,
            "idempotencyKey": self.idempotency_key,
            "at": self.at,
        }


class LoopsSandbox(Sandbox):
    """Loops' contacts and events, stateful, for one team."""

    name = "loops"
    prefix = "/api/v1"

    def __init__(
        self,
        *,
        api_key: str = "loops-sandbox-key",
        team_name: str = "Referral Hub Sandbox",
        rate: SandboxRate | None = None,
    ):
        self.team_name = team_name
        # Seconds since the epoch; tests move it to age idempotency keys past their 24 hours.
        self.clock: Callable[[], float] = time.time
        super().__init__(api_key=api_key, rate=rate)

    def rules(self) -> list[Rule]:
        return [
            Rule("/contacts/create", endpoint="contacts_create", methods=["POST"]),
            Rule("/contacts/update", endpoint="contacts_update", methods=["PUT"]),
            Rule("/contacts/find", endpoint="contacts_find", methods=["GET"]),
            Rule("/contacts/delete", endpoint="contacts_delete", methods=["POST"]),
            Rule("/events/send", endpoint="events_send", methods=["POST"]),
            Rule("/api-key", endpoint="get_api_key", methods=["GET"]),
        ]

    def reset_state(self) -> None:
        self.contacts: dict[str, dict[str, Any]] = {}  # by lowercased email, each as find answers it
        self.events: list[EventRecord] = []
        self.idempotency_keys: dict[str, float] = {}  # key -> when its event was accepted

    # -- the provider's answers to auth and rate limits -------------------------------------------

    def authenticate(self, request: Request) -> Response | None:
        scheme, _, token = (request.headers.get("Authorization") or "").partition(" ")
        if scheme.lower() == "bearer" and token.strip() == self.api_key:
            return None
        return error(401, "Invalid API key")

    def rate_limited(self, retry_after: float) -> Response:
        limit = self.rate.requests if self.rate is not None else LOOPS_RATE.requests
        response = error(429, "Rate limit exceeded")
        response.headers["x-ratelimit-limit"] = str(limit)
        response.headers["x-ratelimit-remaining"] = "0"
        return response

    # -- Python API: seeding and state ------------------------------------------------------------

    def seed_contact(self, email: str, **fields: Any) -> dict[str, Any]:
        """Create (or update) a contact directly, with camelCase fields; returns it as find answers."""
        with self.lock:
            return dict(self._upsert({"email": email, **fields}))

    def contact(self, email: str) -> dict[str, Any] | None:
        """The contact with this email as find answers it, or None."""
        with self.lock:
            found = self.contacts.get(email.strip().lower())
            return None if found is None else dict(found)

    def events_named(self, name: str) -> list[EventRecord]:
        with self.lock:
            return [event for event in self.events if event.name == name]

    # -- handlers ---------------------------------------------------------------------------------

    def contacts_create(self, request: Request) -> Response:
        try:
            body = self._json(request)
            email = self._email(body.get("email"))
            if email.lower() in self.contacts:
                raise SandboxError(409, "Contact with this email already exists.")
            contact = self._upsert(body)
        except SandboxError as exc:
            return error(exc.status, exc.message)
        return json_response({"success": True, "id": contact["id"]})

    def contacts_update(self, request: Request) -> Response:
        try:
            contact = self._upsert(self._json(request))
        except SandboxError as exc:
            return error(exc.status, exc.message)
        return json_response({"success": True, "id": contact["id"]})

    def contacts_find(self, request: Request) -> Response:
        try:
            email = self._email(request.args.get("email"))
        except SandboxError as exc:
            return error(exc.status, exc.message)
        found = self.contacts.get(email.lower())
        return json_response([] if found is None else [found])

    def contacts_delete(self, request: Request) -> Response:
        try:
            body = self._json(request)
            email, user_id = body.get("email"), body.get("userId")
            if (email is None) == (user_id is None):
                raise SandboxError(400, "Provide exactly one of email or userId.")
            key = self._email(email).lower() if email is not None else self._key_of_user(str(user_id))
            if key is None or key not in self.contacts:
                raise SandboxError(404, "Contact not found.")
        except SandboxError as exc:
            return error(exc.status, exc.message)
        del self.contacts[key]
        return json_response({"success": True, "message": "Contact deleted."})

    def events_send(self, request: Request) -> Response:
        key = request.headers.get("Idempotency-Key")
        try:
            self._check_idempotency_key(key)
            body = self._json(request)
            email = self._email(body.get("email"))
            name = body.get("eventName")
            if not isinstance(name, str) or not name.strip():
                raise SandboxError(400, "eventName is required.")
            properties = {k: v for k, v in body.items() if k not in ("email", "eventName")}
            self._upsert({**properties, "email": email})
        except SandboxError as exc:
            return error(exc.status, exc.message)
        now = self.clock()
        self.events.append(EventRecord(name, email, properties, key, now))
        if key is not None:
            self.idempotency_keys[key] = now
        return json_response({"success": True})

    def get_api_key(self, request: Request) -> Response:
        return json_response({"success": True, "teamName": self.team_name})

    # -- state helpers ----------------------------------------------------------------------------

    def _json(self, request: Request) -> dict[str, Any]:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            raise SandboxError(400, "Invalid request body.")
        return body

    def _email(self, value: Any) -> str:
        if value is None or (isinstance(value, str) and not value.strip()):
            raise SandboxError(400, "Email is required.")
        if not isinstance(value, str) or not _EMAIL.match(value.strip()):
            raise SandboxError(400, "Invalid email address.")
        return value.strip()

    def _check_idempotency_key(self, key: str | None) -> None:
        if key is None:
            return
        if not key or len(key) > MAX_IDEMPOTENCY_KEY_LENGTH:
            raise SandboxError(400, f"Idempotency key must be 1 to {MAX_IDEMPOTENCY_KEY_LENGTH} characters.")
        now = self.clock()
        for seen, at in list(self.idempotency_keys.items()):
            if now - at >= IDEMPOTENCY_WINDOW_SECONDS:
                del self.idempotency_keys[seen]
        if key in self.idempotency_keys:
            raise SandboxError(409, "Idempotency key has already been used")

    def _key_of_user(self, user_id: str) -> str | None:
        return next((key for key, c in self.contacts.items() if c.get("userId") == user_id), None)

    def _upsert(self, fields: dict[str, Any]) -> dict[str, Any]:
        """Create or update the contact with ``fields["email"]``, after validating every field."""
        email = self._email(fields.get("email"))
        key = email.lower()
        changes = {name: value for name, value in fields.items() if name not in _READ_ONLY}
        for name, value in changes.items():
            if not name or (value is not None and not isinstance(value, str | int | float | bool)):
                raise SandboxError(400, f"Invalid value for contact property '{name}'.")
        if changes.get("subscribed") is not None and not isinstance(changes["subscribed"], bool):
            raise SandboxError(400, "Invalid value for contact property 'subscribed'.")
        user_id = changes.get("userId")
        if user_id is not None:
            holder = self._key_of_user(str(user_id))
            if holder is not None and holder != key:
                raise SandboxError(409, "Contact with this userId already exists.")
        contact = self.contacts.get(key)
        if contact is None:
            contact = {"id": self._new_id(), "email": email, "firstName": None, "lastName": None, "userId": None}
            contact.update(_STANDARD_DEFAULTS)
            self.contacts[key] = contact
        for name, value in changes.items():
            if value is None and name not in _STANDARD_FIELDS:
                contact.pop(name, None)
            else:
                contact[name] = str(value) if name == "userId" and value is not None else value
        return contact

    def _new_id(self) -> str:
        """A cuid-like id, as Loops' contact ids look (``cll6b3i8901a9jx0oyktl2m4u``)."""
        taken = {c["id"] for c in self.contacts.values()}
        while True:
            candidate = "c" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(24))
            if candidate not in taken:
                return candidate

    # -- control routes ---------------------------------------------------------------------------

    def control(self, request: Request, action: str, payload: Any) -> Response:
        if action == "contacts" and request.method == "GET":
            with self.lock:
                return json_response([dict(c) for c in self.contacts.values()])
        if action == "events" and request.method == "GET":
            with self.lock:
                return json_response([event.view() for event in self.events])
        if action == "contacts" and request.method == "POST":
            if not isinstance(payload, dict):
                return json_response({"error": "a JSON object with 'email' is required"}, 400)
            try:
                created = self.seed_contact(**payload)
            except SandboxError as exc:
                return error(exc.status, exc.message)
            except TypeError:
                return json_response({"error": "'email' is required"}, 400)
            return json_response(created, 201)
        return super().control(request, action, payload)
