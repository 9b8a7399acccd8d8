"""A stateful fake of Loops' contact and event API (``/api/v1``), faithful to its reference document
(002_076c8fc76db9de72.txt) and to the facts known of Loops beyond it (the project's reference index).

What the document and those facts say, and the sandbox does:

- ``POST /contacts/create``, ``PUT /contacts/update`` (an upsert: a missing contact is created),
  ``GET /contacts/find?email=...`` (always an array: empty, or one contact), ``POST /contacts/delete``
  (exactly one of ``email`` or ``userId``), ``POST /events/send`` (``email`` and ``eventName`` both
  required; a missing contact is created). Create answers 409 for an email already in the audience.
- Contacts are keyed by email (case-insensitive). Every top-level field other than ``email`` and
  ``mailingLists`` is a contact property (``firstName``, ``lastName``, ``userId`` and custom ones such
  as ``favoriteColor``), on create, update and events alike: a top-level field of ``events/send`` is
  written onto the contact.
- ``events/send`` takes ``eventProperties``: the event's own data (values: string, number, boolean or
  date, a date being an ISO 8601 string), recorded with the event and never written onto the contact.
- ``mailingLists`` (``{"<listId>": true|false}``) on update (and create, and events) subscribes or
  unsubscribes the contact; it is not a contact property.
- ``Idempotency-Key`` on events, at most 100 characters: a key seen on an accepted event within 24
  hours is refused with 409 and the event is not recorded again; a rejected event does not use up its key.
- The limit is 10 requests per second per team (:data:`LOOPS_RATE`; off unless given, so tests and
  the local run do not wait for it); a 429 carries ``x-ratelimit-limit`` and ``x-ratelimit-remaining:
  0`` and no ``Retry-After``.
- ``GET /api-key`` (what Loops' SDK calls to test a key) answers ``{"success": true, "teamName": ...}``.

Where the document is silent, the sandbox takes the least convenient plausible reading by default;
a setting (constructor argument, or ``POST /_sandbox/settings`` with the camelCase names; ``GET``
reads them) switches to the others. Every such choice:

- *Answers of create and update* (not shown): ``{"success": true}`` with no contact id. Setting
  ``contact_ids`` (``contactIds``): ``True`` adds ``"id"``.
- *The contact a find answers* (not shown): ``id``, ``email`` and the properties that were set, nothing
  more. Setting ``find_fields`` (``findFields``): ``"standard"`` adds Loops' standard fields with their
  defaults (``firstName``, ``lastName``, ``userId`` null, ``source`` "API", ``subscribed`` true,
  ``userGroup`` "") and the contact's ``mailingLists``.
- *Error bodies* (none documented): ``{"success": false, "message": ...}`` with a message that names no
  field (``Bad request.``, ``Not found.``, ``Conflict.``, ``Unauthorized.``). Setting ``error_messages``
  (``errorMessages``): ``"descriptive"`` gives messages naming the field (``Email is required.``,
  ``eventName is required.``, ``Contact with this email already exists.``, ``Idempotency key has
  already been used``...).
- *Statuses of the undocumented errors*: 400 for a missing or invalid field or body, 401 for a
  missing or wrong key (any setting).
- *Deleting an unknown contact* (not shown): ``{"success": true, "message": "Contact deleted."}``, as if
  there had been one, so the answer never tells whether anyone was deleted. Setting ``unknown_delete``
  (``unknownDelete``): ``"not_found"`` answers 404 instead.
- *A userId held by another contact* is refused with 409; a ``null`` contact property clears it; a
  nested value (object, array) as a contact property or event property is 400; an ``eventProperties``
  or ``mailingLists`` of ``null`` is the same as none (Loops' SDK sends them so); ``mailingLists`` on
  create is accepted as on update (the SDK sends it on create).
- *Find by userId* (in Loops' SDK, not in the document) is not served: find needs ``email`` (400).

The rate limit is off unless given.

Control routes beside the base ones: ``GET /_sandbox/contacts`` (as stored, with their mailing lists)
and ``GET /_sandbox/events`` (oldest first), ``POST /_sandbox/contacts`` (``{"email": ...,
"firstName": ..., ...}``) to seed a contact, ``GET``/``POST /_sandbox/settings``.
"""

from __future__ import annotations

import re
import secrets
import string
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from .base import Sandbox, SandboxRate, json_response

LOOPS_RATE = SandboxRate(requests=10, per_seconds=1.0)
IDEMPOTENCY_WINDOW_SECONDS = 24 * 60 * 60
MAX_IDEMPOTENCY_KEY_LENGTH = 100
FIND_FIELDS = ("set", "standard")
ERROR_MESSAGES = ("terse", "descriptive")
UNKNOWN_DELETE = ("success", "not_found")

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_ID_ALPHABET = string.ascii_lowercase + string.digits
_STANDARD_DEFAULTS: dict[str, Any] = {
    "firstName": None,
    "lastName": None,
    "userId": None,
    "source": "API",
    "subscribed": True,
    "userGroup": "",
}
_NOT_PROPERTIES = ("id", "email", "mailingLists")
# The terse message of each status: what a client that has not seen Loops' texts must cope with.
_TERSE = {400: "Bad request.", 401: "Unauthorized.", 404: "Not found.", 409: "Conflict."}


class SandboxError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class EventRecord:
    """One event Loops accepted."""

    name: str
    email: str
    event_properties: dict[str, Any]
    contact_properties: dict[str, Any]
    idempotency_key: str | None
    at: float
    mailing_lists: dict[str, bool] = field(default_factory=dict)

    def view(self) -> dict[str, Any]:
        return {
            "eventName": self.name,
            "email": self.email,
            "eventProperties": self.event_properties,
            "contactProperties": self.contact_properties,
            "mailingLists": self.mailing_lists,
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
        contact_ids: bool = False,
        find_fields: str = "set",
        error_messages: str = "terse",
        unknown_delete: str = "success",
    ):
        self.team_name = team_name
        self.unknown_delete = unknown_delete
        self.contact_ids = contact_ids
        self.find_fields = find_fields
        self.error_messages = error_messages
        self._check_settings()
        # Seconds since the epoch; tests move it to age idempotency keys past their 24 hours.
        self.clock: Callable[[], float] = time.time
        super().__init__(api_key=api_key, rate=rate)

    def _check_settings(self) -> None:
        if self.find_fields not in FIND_FIELDS:
            raise ValueError(f"find_fields must be one of {', '.join(FIND_FIELDS)}")
        if self.error_messages not in ERROR_MESSAGES:
            raise ValueError(f"error_messages must be one of {', '.join(ERROR_MESSAGES)}")
        if self.unknown_delete not in UNKNOWN_DELETE:
            raise ValueError(f"unknown_delete must be one of {', '.join(UNKNOWN_DELETE)}")

    def settings(self) -> dict[str, Any]:
        """The settings for what the document leaves open, camelCase as the control route takes them."""
        return {
            "contactIds": self.contact_ids,
            "findFields": self.find_fields,
            "errorMessages": self.error_messages,
            "unknownDelete": self.unknown_delete,
        }

    def configure(self, **settings: Any) -> None:
        """Change settings (``contact_ids``, ``find_fields``, ``error_messages``, ``unknown_delete``);
        others are a TypeError."""
        unknown = set(settings) - {"contact_ids", "find_fields", "error_messages", "unknown_delete"}
        if unknown:
            raise TypeError(f"unknown Loops sandbox settings: {', '.join(sorted(unknown))}")
        with self.lock:
            previous = self.settings()
            for name, value in settings.items():
                setattr(self, name, value)
            try:
                self._check_settings()
            except ValueError:
                self.contact_ids = previous["contactIds"]
                self.find_fields = previous["findFields"]
                self.error_messages = previous["errorMessages"]
                self.unknown_delete = previous["unknownDelete"]
                raise

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
        self.contacts: dict[str, dict[str, Any]] = {}  # by lowercased email: id, email and the set properties
        self.mailing_lists: dict[str, dict[str, bool]] = {}  # by lowercased email: list id -> subscribed
        self.events: list[EventRecord] = []
        self.idempotency_keys: dict[str, float] = {}  # key -> when its event was accepted

    # -- the provider's answers to auth and rate limits -------------------------------------------

    def error(self, status: int, descriptive: str) -> Response:
        """Loops' error body, with the message the ``error_messages`` setting picks."""
        message = descriptive if self.error_messages == "descriptive" else _TERSE.get(status, "Error.")
        return json_response({"success": False, "message": message}, status)

    def authenticate(self, request: Request) -> Response | None:
        scheme, _, token = (request.headers.get("Authorization") or "").partition(" ")
        if scheme.lower() == "bearer" and token.strip() == self.api_key:
            return None
        return self.error(401, "Invalid API key")

    def rate_limited(self, retry_after: float) -> Response:
        limit = self.rate.requests if self.rate is not None else LOOPS_RATE.requests
        response = json_response({"success": False, "message": "Rate limit exceeded"}, 429)
        response.headers["x-ratelimit-limit"] = str(limit)
        response.headers["x-ratelimit-remaining"] = "0"
        return response

    # -- Python API: seeding and state ------------------------------------------------------------

    def seed_contact(self, email: str, **fields: Any) -> dict[str, Any]:
        """Create (or update) a contact directly, with camelCase fields; returns it as find answers."""
        with self.lock:
            return self._view(self._upsert({"email": email, **fields}))

    def contact(self, email: str) -> dict[str, Any] | None:
        """The contact with this email as find answers it (under the current settings), or None."""
        with self.lock:
            found = self.contacts.get(email.strip().lower())
            return None if found is None else self._view(found)

    def stored(self, email: str) -> dict[str, Any] | None:
        """The contact with this email as stored: id, email and the properties that were set."""
        with self.lock:
            found = self.contacts.get(email.strip().lower())
            return None if found is None else dict(found)

    def lists_of(self, email: str) -> dict[str, bool]:
        """The contact's mailing lists (list id -> subscribed), empty for an unknown contact."""
        with self.lock:
            return dict(self.mailing_lists.get(email.strip().lower(), {}))

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
            return self.error(exc.status, exc.message)
        return json_response(self._saved(contact))

    def contacts_update(self, request: Request) -> Response:
        try:
            contact = self._upsert(self._json(request))
        except SandboxError as exc:
            return self.error(exc.status, exc.message)
        return json_response(self._saved(contact))

    def contacts_find(self, request: Request) -> Response:
        try:
            email = self._email(request.args.get("email"))
        except SandboxError as exc:
            return self.error(exc.status, exc.message)
        found = self.contacts.get(email.lower())
        return json_response([] if found is None else [self._view(found)])

    def contacts_delete(self, request: Request) -> Response:
        try:
            body = self._json(request)
            email, user_id = body.get("email"), body.get("userId")
            if (email is None) == (user_id is None):
                raise SandboxError(400, "Provide exactly one of email or userId.")
            key = self._email(email).lower() if email is not None else self._key_of_user(str(user_id))
            if (key is None or key not in self.contacts) and self.unknown_delete == "not_found":
                raise SandboxError(404, "Contact not found.")
        except SandboxError as exc:
            return self.error(exc.status, exc.message)
        if key is None or key not in self.contacts:
            return json_response({"success": True, "message": "Contact deleted."})
        del self.contacts[key]
        self.mailing_lists.pop(key, None)
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
            event_properties = self._event_properties(body.get("eventProperties"))
            contact_properties = {k: v for k, v in body.items() if k not in ("email", "eventName", "eventProperties")}
            self._upsert({**contact_properties, "email": email})
        except SandboxError as exc:
            return self.error(exc.status, exc.message)
        lists = contact_properties.pop("mailingLists", None) or {}
        now = self.clock()
        self.events.append(EventRecord(name, email, event_properties, contact_properties, key, now, dict(lists)))
        if key is not None:
            self.idempotency_keys[key] = now
        return json_response({"success": True})

    def get_api_key(self, request: Request) -> Response:
        return json_response({"success": True, "teamName": self.team_name})

    # -- state helpers ----------------------------------------------------------------------------

    def _saved(self, contact: dict[str, Any]) -> dict[str, Any]:
        return {"success": True, "id": contact["id"]} if self.contact_ids else {"success": True}

    def _view(self, contact: dict[str, Any]) -> dict[str, Any]:
        """A contact as find answers it under the ``find_fields`` setting."""
        if self.find_fields == "set":
            return dict(contact)
        lists = self.mailing_lists.get(contact["email"].lower(), {})
        return {"id": contact["id"], "email": contact["email"], **_STANDARD_DEFAULTS, **contact, "mailingLists": lists}

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

    def _event_properties(self, value: Any) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise SandboxError(400, "eventProperties must be an object.")
        for name, item in value.items():
            # A date is an ISO 8601 string in JSON, so strings, numbers and booleans cover the four types.
            if not name or not isinstance(item, str | int | float | bool):
                raise SandboxError(400, f"Invalid value for event property '{name}'.")
        return dict(value)

    def _mailing_lists(self, value: Any) -> dict[str, bool]:
        if value is None:
            return {}
        if not isinstance(value, dict) or not all(
            isinstance(list_id, str) and list_id and isinstance(flag, bool) for list_id, flag in value.items()
        ):
            raise SandboxError(400, "mailingLists must map list ids to true or false.")
        return dict(value)

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
        lists = self._mailing_lists(fields.get("mailingLists"))
        changes = {name: value for name, value in fields.items() if name not in _NOT_PROPERTIES}
        _check_properties(changes)
        self._check_user_id(changes.get("userId"), key)
        contact = self.contacts.get(key)
        if contact is None:
            contact = {"id": self._new_id(), "email": email}
            self.contacts[key] = contact
        _set_properties(contact, changes)
        if lists:
            self.mailing_lists.setdefault(key, {}).update(lists)
        return contact

    def _check_user_id(self, user_id: Any, key: str) -> None:
        """A ``userId`` may be held by one contact only: 409 when another contact than ``key`` has it."""
        if user_id is None:
            return
        holder = self._key_of_user(str(user_id))
        if holder is not None and holder != key:
            raise SandboxError(409, "Contact with this userId already exists.")

    def _new_id(self) -> str:
        """A cuid-like id, as Loops' contact ids look (``cll6b3i8901a9jx0oyktl2m4u``)."""
        taken = {c["id"] for c in self.contacts.values()}
        while True:
            candidate = "c" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(24))
            if candidate not in taken:
                return candidate

    # -- control routes ---------------------------------------------------------------------------

    def control(self, request: Request, action: str, payload: Any) -> Response:
        route = self._provider_control_routes().get((action, request.method))
        if route is None:
            return super().control(request, action, payload)
        return route(payload)

    def _provider_control_routes(self) -> dict[tuple[str, str], Callable[[Any], Response]]:
        """Loops' own control routes, by action and method; each takes the JSON payload."""
        return {
            ("contacts", "GET"): self._control_contacts,
            ("contacts", "POST"): self._control_seed_contact,
            ("events", "GET"): self._control_events,
            ("settings", "GET"): lambda payload: json_response(self.settings()),
            ("settings", "POST"): self._control_configure,
        }

    def _control_contacts(self, payload: Any) -> Response:
        with self.lock:
            return json_response(
                [{**c, "mailingLists": self.mailing_lists.get(k, {})} for k, c in self.contacts.items()]
            )

    def _control_events(self, payload: Any) -> Response:
        with self.lock:
            return json_response([event.view() for event in self.events])

    def _control_seed_contact(self, payload: Any) -> Response:
        if not isinstance(payload, dict):
            return json_response({"error": "a JSON object with 'email' is required"}, 400)
        try:
            created = self.seed_contact(**payload)
        except SandboxError as exc:
            return self.error(exc.status, exc.message)
        except TypeError:
            return json_response({"error": "'email' is required"}, 400)
        return json_response(created, 201)

    def _control_configure(self, payload: Any) -> Response:
        names = {
            "contactIds": "contact_ids",
            "findFields": "find_fields",
            "errorMessages": "error_messages",
            "unknownDelete": "unknown_delete",
        }
        if not isinstance(payload, dict) or set(payload) - set(names):
            return json_response({"error": f"settings are an object of {', '.join(names)}"}, 400)
        try:
            self.configure(**{names[key]: value for key, value in payload.items()})
        except ValueError as exc:
            return json_response({"error": str(exc)}, 400)
        return json_response(self.settings())


def _check_properties(changes: dict[str, Any]) -> None:
    """Contact properties are named and flat (string, number, boolean or null); ``subscribed`` a boolean."""
    for name, value in changes.items():
        if not name or (value is not None and not isinstance(value, str | int | float | bool)):
            raise SandboxError(400, f"Invalid value for contact property '{name}'.")
    if changes.get("subscribed") is not None and not isinstance(changes["subscribed"], bool):
        raise SandboxError(400, "Invalid value for contact property 'subscribed'.")


def _set_properties(contact: dict[str, Any], changes: dict[str, Any]) -> None:
    """Write the properties onto the contact: a null clears one, a ``userId`` is kept as a string."""
    for name, value in changes.items():
        if value is None:
            contact.pop(name, None)
        else:
            contact[name] = str(value) if name == "userId" else value
