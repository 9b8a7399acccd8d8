"""Loops (the contact store): the client of its contact and event endpoints, and the normalizers.

Follows the provider's API reference and the facts known of it beyond that page (rate-limit
headers, idempotency keys, the 409 of create). Where they are silent or ambiguous, these are the
choices made:

- **Base URL and auth.** Every call goes to the one configured base URL (``LOOPS_API_URL``, default
  ``https://app.loops.so/api/v1``) with ``Authorization: Bearer <key>``; the key is never put in a URL.
  A missing or wrong key answers 401 ``{"success": false, "message": "Invalid API key"}``, which
  becomes :class:`~hub.errors.ProviderAuthFailed`. :meth:`LoopsClient.get_api_key` (``GET
  /api-key``, answering ``{"success": true, "teamName": "..."}``) is Loops' own key check.
- **Contact fields.** Loops keeps custom contact properties as top-level fields beside ``email``,
  ``firstName``, ``lastName`` and ``userId``. The client takes them as a ``properties`` mapping merged
  into the body; the typed arguments win over a property of the same name. Typed arguments left
  None are not sent; a None *inside* ``properties`` is sent as ``null``, which Loops reads as "clear
  this property".
- **Create vs update.** ``contacts/create`` answers 409 for an email (or ``userId``) already in the
  audience; ``contacts/update`` is an upsert keyed by email (it creates a missing contact), so the hub
  syncs with update.
- **Find** is by email only (the only lookup the document shows) and always answers an array: empty,
  or one contact.
- **Delete** takes exactly one of email or ``userId``; the client refuses both or neither before
  sending (:class:`~hub.errors.ValidationError`).
- **Events and idempotency.** ``events/send`` takes ``email`` and ``eventName`` (both required);
  every other field is a contact property set on the contact (which is created if missing). The
  ``Idempotency-Key`` header (at most 100 characters; a longer one is a ValidationError raised before
  sending) makes Loops refuse a second event with the same key within 24 hours, answering 409
  ``Idempotency key has already been used``. The client reads that 409 as success, the event having
  been sent already: :meth:`LoopsClient.send_event` returns ``{"success": true, "duplicate": true}``.
  When the caller gives no key, the client makes one per call, so that its own retries (after a
  timeout or a 5xx, when the first attempt may have landed) never send the event twice.
- **Rate limit** (10 requests per second per team): a 429 carries ``x-ratelimit-limit`` and
  ``x-ratelimit-remaining: 0`` but no ``Retry-After``, so :mod:`hub.http` waits it out with its
  exponential backoff.

Errors (``{"success": false, "message": "..."}``), mapped by :func:`map_error`:

- 400 (missing email or eventName, invalid email, invalid body or property) -> ValidationError, with
  the field in ``details`` when the message names one;
- 404 (delete of an unknown contact) -> :class:`~hub.errors.NotFound` with code ``CONTACT_NOT_FOUND``;
- 409 ``Idempotency key has already been used`` -> a duplicate event (success, see above);
- 409 naming ``userId`` -> :class:`~hub.errors.Conflict` (another contact holds that userId);
- any other 409 (create of an existing contact) -> :class:`~hub.errors.EmailTaken`;
- anything else -> :func:`hub.http.default_error` (401/403 ProviderAuthFailed, 5xx ProviderError...).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from typing import Any

from hub.config import base_url as configured_base_url
from hub.errors import Conflict, EmailTaken, HubError, NotFound, ValidationError
from hub.http import ProviderHttp, ProviderResponse, RetryPolicy, default_error
from hub.models import Contact, Event, Provider
from hub.throttle import RateLimiter

from .fields import as_str, compact

PROVIDER_NAME = "Loops"

MAX_IDEMPOTENCY_KEY_LENGTH = 100
CONTACT_FIELDS = ("id", "email", "firstName", "lastName", "userId")
EVENT_FIELDS = ("email", "eventName")
_PROPERTY = re.compile(r"property '([^']+)'")


class DuplicateEvent(Conflict):
    """Loops refused an event whose ``Idempotency-Key`` it saw within 24 hours: it was sent already."""

    code = "DUPLICATE_EVENT"


def _merged(properties: Mapping[str, Any] | None, typed: dict[str, Any]) -> dict[str, Any]:
    """Custom properties as top-level fields, with the typed fields (already without Nones) on top."""
    return {**dict(properties or {}), **typed}


class LoopsClient:
    """One method per endpoint of Loops' contact and event API; each returns the parsed JSON answer."""

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str | None = None,
        limiter: RateLimiter | None = None,
        policy: RetryPolicy | None = None,
    ):
        self.http = ProviderHttp(
            PROVIDER_NAME,
            base_url or configured_base_url(Provider.LOOPS),
            headers={"Authorization": f"Bearer {api_key}"},
            error_mapper=map_error,
            secrets=(api_key,),
            limiter=limiter,
            policy=policy,
        )

    def create_contact(
        self,
        email: str,
        *,
        first_name: str | None = None,
        last_name: str | None = None,
        user_id: str | None = None,
        properties: Mapping[str, Any] | None = None,
    ) -> Any:
        """POST /contacts/create: add a contact; :class:`EmailTaken` if the email (or userId) is in use.

        Answers ``{"success": true, "id": "<contact id>"}``.
        """
        typed = compact(email=email, firstName=first_name, lastName=last_name, userId=user_id)
        return self.http.request("POST", "/contacts/create", json=_merged(properties, typed))

    def update_contact(
        self,
        email: str,
        *,
        first_name: str | None = None,
        last_name: str | None = None,
        user_id: str | None = None,
        properties: Mapping[str, Any] | None = None,
    ) -> Any:
        """PUT /contacts/update: update the contact with this email, creating it if there is none.

        Answers ``{"success": true, "id": "<contact id>"}``.
        """
        typed = compact(email=email, firstName=first_name, lastName=last_name, userId=user_id)
        return self.http.request("PUT", "/contacts/update", json=_merged(properties, typed))

    def find_contact(self, email: str) -> Any:
        """GET /contacts/find?email=...: a list holding the contact with this email, or an empty list."""
        return self.http.request("GET", "/contacts/find", params={"email": email})

    def delete_contact(self, email: str | None = None, *, user_id: str | None = None) -> Any:
        """POST /contacts/delete: remove a contact by email or by userId (exactly one of them).

        Answers ``{"success": true, "message": "Contact deleted."}``; an unknown contact is
        :class:`NotFound` (code ``CONTACT_NOT_FOUND``).
        """
        if (email is None) == (user_id is None):
            raise ValidationError(
                "deleting a Loops contact takes exactly one of email or userId",
                details=[{"field": "email", "reason": "give either email or userId"}],
            )
        return self.http.request("POST", "/contacts/delete", json=compact(email=email, userId=user_id))

    def send_event(
        self,
        email: str,
        event_name: str,
        *,
        properties: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> Any:
        """POST /events/send: fire ``event_name`` for the contact, setting ``properties`` on it.

        ``idempotency_key`` (at most 100 characters) goes in the ``Idempotency-Key`` header; without
        one the client makes one for this call, so its retries are deduplicated. Answers
        ``{"success": true}``, or ``{"success": true, "duplicate": true}`` when Loops had already
        received an event with that key.
        """
        if idempotency_key is None:
            idempotency_key = uuid.uuid4().hex
        elif not idempotency_key or len(idempotency_key) > MAX_IDEMPOTENCY_KEY_LENGTH:
            raise ValidationError(
                f"a Loops idempotency key has 1 to {MAX_IDEMPOTENCY_KEY_LENGTH} characters",
                details=[{"field": "idempotencyKey", "reason": f"has {len(idempotency_key)} characters"}],
            )
        body = _merged(properties, compact(email=email, eventName=event_name))
        try:
            return self.http.request("POST", "/events/send", json=body, headers={"Idempotency-Key": idempotency_key})
        except DuplicateEvent:
            return {"success": True, "duplicate": True}

    def get_api_key(self) -> Any:
        """GET /api-key: check the key; answers ``{"success": true, "teamName": "..."}``."""
        return self.http.request("GET", "/api-key")


# -- errors ---------------------------------------------------------------------------------------


def map_error(response: ProviderResponse) -> HubError:
    """Loops' documented errors as domain errors (the table is in the module docstring)."""
    status, message = response.status, response.message
    lowered = message.lower()
    text = f"{PROVIDER_NAME}: {message}"
    if status == 400:
        return ValidationError(f"{PROVIDER_NAME} rejected the request: {message}", details=_details(lowered, message))
    if status == 404:
        return NotFound(text, code="CONTACT_NOT_FOUND")
    if status == 409:
        if "idempotency" in lowered:
            return DuplicateEvent(text)
        if "userid" in lowered and "email" not in lowered:
            return Conflict(text, details=[{"field": "userId", "reason": message}])
        return EmailTaken(text, details=[{"field": "email", "reason": message}])
    return default_error(PROVIDER_NAME, response)


def _details(lowered: str, message: str) -> list[dict[str, Any]]:
    """The field a 400 is about, when its message names one."""
    named = _PROPERTY.search(message)
    if named:
        return [{"field": named.group(1), "reason": message}]
    for field in ("eventName", "userId", "email"):
        if field.lower() in lowered:
            return [{"field": field, "reason": message}]
    return []


# -- normalizers ----------------------------------------------------------------------------------


def normalize_contact(payload: dict[str, Any]) -> Contact:
    """A Loops contact (a find result, or a create/update body) as the hub's :class:`Contact`.

    ``id``, ``email``, ``firstName``, ``lastName`` and ``userId`` map onto the typed fields; every
    other field (Loops' ``source``, ``subscribed``, ``userGroup`` and the custom properties alike)
    goes into ``properties``. ``providerData`` is the payload as is.
    """
    if not isinstance(payload, dict):
        raise ValueError("a Loops contact must be a JSON object")
    return Contact(
        id=as_str(payload.get("id")),
        email=str(payload["email"]),
        first_name=as_str(payload.get("firstName")),
        last_name=as_str(payload.get("lastName")),
        user_id=as_str(payload.get("userId")),
        properties={key: value for key, value in payload.items() if key not in CONTACT_FIELDS},
        provider_data=payload,
    )


def normalize_contacts(payload: Any) -> list[Contact]:
    """A find answer (always an array: empty, or one contact) as a list of contacts."""
    if not isinstance(payload, list):
        raise ValueError("a Loops find answer must be a JSON array")
    return [normalize_contact(item) for item in payload if isinstance(item, dict)]


def normalize_event(payload: dict[str, Any]) -> Event:
    """An events/send body as the hub's :class:`Event`: ``eventName`` is the name, every field other
    than ``email`` and ``eventName`` a contact property the event sets."""
    if not isinstance(payload, dict):
        raise ValueError("a Loops event must be a JSON object")
    return Event(
        name=str(payload["eventName"]),
        email=str(payload["email"]),
        properties={key: value for key, value in payload.items() if key not in EVENT_FIELDS},
    )
