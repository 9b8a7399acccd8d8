"""Loops (the contact store): the client of its contact and event endpoints, and the normalizers.

Follows the provider's API reference and the facts known of it beyond that page (the current
``events/send`` reference with ``eventProperties`` and ``mailingLists``, rate-limit headers,
idempotency keys, the 409 of create). Where they are silent or ambiguous, these are the choices made:

- **Base URL and auth.** Every call goes to the one configured base URL (``LOOPS_API_URL``, default
  ``https://app.loops.so/api/v1``) with ``Authorization: Bearer <key>``; the key is never put in a URL.
  The document gives no error body: any 401/403 is :class:`~hub.domain.errors.ProviderAuthFailed`, whatever
  it says. :meth:`LoopsClient.get_api_key` (``GET /api-key``, which Loops' SDK calls to test a key;
  the page above does not list it) is the key check.
- **Contact properties.** Loops keeps custom contact properties as top-level fields beside ``email``,
  ``firstName``, ``lastName`` and ``userId``. The client takes them as a ``properties`` mapping merged
  into the body; the typed arguments win over a property of the same name. Typed arguments left
  None are not sent; a None *inside* ``properties`` is sent as ``null`` (the SDK's types allow it), the
  way to clear a property. A property value must be a string, number, boolean or null: anything else
  is a :class:`~hub.domain.errors.ValidationError` naming the property, raised before sending.
- **Mailing lists.** ``mailing_lists`` (``{"<listId>": true|false}``) goes as ``mailingLists`` on
  ``contacts/update`` (and create, and events), subscribing or unsubscribing; it is sent only when
  given, never as ``null``.
- **Create vs update.** ``contacts/create`` answers 409 for an email already in the audience (a
  documented fact); ``contacts/update`` is an upsert keyed by email (it creates a missing contact), so
  the hub syncs with update. Neither answer is documented: the client returns the parsed JSON as is
  and reads no field of it (a contact id, where there is one, is informational).
- **Find** is by email only (the only lookup the document shows) and always answers an array: empty,
  or one contact. The contact's fields are not documented: the normalizer needs ``email`` alone.
- **Delete** takes exactly one of email or ``userId``; the client refuses both or neither before
  sending. An unknown contact is undocumented: any 404 of delete is ``CONTACT_NOT_FOUND``.
- **Events.** ``events/send`` takes ``email`` and ``eventName`` (both required). The event's own data
  goes in ``eventProperties`` (values: string, number, boolean or date, a date sent as ISO 8601), which
  emails triggered by the event can show and which are not written onto the contact; a None there is
  left out (Loops takes no null event property). Any other top-level field is a contact property that
  Loops writes onto the contact (``contact_properties``). A property or event property that is not one
  of those types is refused before sending, naming it.
- **Idempotency.** The ``Idempotency-Key`` header (at most 100 characters; a longer one is a
  ValidationError raised before sending) makes Loops refuse a second event with the same key within 24
  hours. The refusal's body is undocumented, so any 409 of ``events/send`` (the only 409 that call can
  meet, the hub sending no ``userId`` with events) is read as "sent already": :meth:`LoopsClient.send_event`
  returns ``{"success": true, "duplicate": true}``. When the caller gives no key, the client makes one
  per call, so that its own retries (after a timeout or a 5xx, when the first attempt may have landed)
  never send the event twice.
- **Rate limit** (10 requests per second per team): a 429 carries ``x-ratelimit-limit`` and
  ``x-ratelimit-remaining`` but no ``Retry-After``, so :mod:`hub.providers.http` waits it out with its
  exponential backoff.

Errors, mapped by :func:`map_error` on status (the document gives no error code or message, so none is
relied on):

- 400 -> ValidationError; ``details`` name a field only when Loops' message names exactly one of the
  fields the client sends (its reason is Loops' message), else carry the message alone;
- 404 -> :class:`~hub.domain.errors.ContactNotFound` (``CONTACT_NOT_FOUND``) (only delete looks a contact up);
- 409 -> :class:`~hub.domain.errors.EmailTaken` (create of an existing contact, the documented 409), or a
  :class:`~hub.domain.errors.Conflict` on ``userId`` when the message names ``userId`` and not the email; on
  ``events/send`` a duplicate event (success, see above);
- anything else -> :func:`hub.providers.http.default_error` (401/403 ProviderAuthFailed, 5xx ProviderError...).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from hub.domain.errors import Conflict, ContactNotFound, EmailTaken, HubError, ValidationError
from hub.domain.models import Contact, Event, Provider
from hub.providers.fields import as_str, compact
from hub.providers.http import ProviderHttp, ProviderResponse, RetryPolicy, default_error
from hub.providers.ratelimit.local import RateLimiter
from hub.settings.config import base_url as configured_base_url

PROVIDER_NAME = "Loops"

MAX_IDEMPOTENCY_KEY_LENGTH = 100
CONTACT_FIELDS = ("id", "email", "firstName", "lastName", "userId")
#: The fields the client sends by name; a 400 naming exactly one of them is about that field.
_SENT_FIELDS = ("email", "eventName", "userId", "firstName", "lastName", "eventProperties", "mailingLists")


class DuplicateEvent(Conflict):
    """Loops refused an event whose ``Idempotency-Key`` it saw within 24 hours: it was sent already."""

    code = "DUPLICATE_EVENT"


def _refuse(field: str, reason: str) -> ValidationError:
    return ValidationError(
        f"{PROVIDER_NAME} takes no such value: {field} {reason}", details=[{"field": field, "reason": reason}]
    )


def _contact_properties(properties: Mapping[str, Any] | None) -> dict[str, Any]:
    """Contact properties as Loops stores them: strings, numbers, booleans, or null to clear one."""
    checked: dict[str, Any] = {}
    for name, value in (properties or {}).items():
        if value is not None and not isinstance(value, str | int | float | bool):
            raise _refuse(name, "must be a string, number, boolean or null")
        checked[name] = value
    return checked


def _event_properties(properties: Mapping[str, Any] | None) -> dict[str, Any]:
    """An event's own properties: string, number, boolean or date (sent as ISO 8601); Nones left out."""
    checked: dict[str, Any] = {}
    for name, value in (properties or {}).items():
        if value is None:
            continue
        if isinstance(value, datetime | date):
            value = value.isoformat()
        elif not isinstance(value, str | int | float | bool):
            raise _refuse(f"eventProperties.{name}", "must be a string, number, boolean or date")
        checked[name] = value
    return checked


def _mailing_lists(mailing_lists: Mapping[str, bool] | None) -> dict[str, bool] | None:
    """``{listId: true|false}``, or None when no list is named (then ``mailingLists`` is not sent)."""
    if not mailing_lists:
        return None
    for list_id, subscribed in mailing_lists.items():
        if not isinstance(list_id, str) or not list_id or not isinstance(subscribed, bool):
            raise _refuse(f"mailingLists.{list_id}", "must map a list id to true or false")
    return dict(mailing_lists)


def _contact_body(
    properties: Mapping[str, Any] | None, mailing_lists: Mapping[str, bool] | None, **typed: Any
) -> dict[str, Any]:
    """Custom properties as top-level fields, the typed fields (Nones left out) on top, then the lists."""
    return {
        **_contact_properties(properties),
        **compact(**typed),
        **compact(mailingLists=_mailing_lists(mailing_lists)),
    }


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
        mailing_lists: Mapping[str, bool] | None = None,
    ) -> Any:
        """POST /contacts/create: add a contact; :class:`EmailTaken` if the email is in the audience."""
        body = _contact_body(
            properties, mailing_lists, email=email, firstName=first_name, lastName=last_name, userId=user_id
        )
        return self.http.request("POST", "/contacts/create", json=body)

    def update_contact(
        self,
        email: str,
        *,
        first_name: str | None = None,
        last_name: str | None = None,
        user_id: str | None = None,
        properties: Mapping[str, Any] | None = None,
        mailing_lists: Mapping[str, bool] | None = None,
    ) -> Any:
        """PUT /contacts/update: update the contact with this email, creating it if there is none.

        ``properties`` are contact properties (top-level fields); ``mailing_lists`` subscribes
        (``true``) or unsubscribes (``false``) the contact, by list id.
        """
        body = _contact_body(
            properties, mailing_lists, email=email, firstName=first_name, lastName=last_name, userId=user_id
        )
        return self.http.request("PUT", "/contacts/update", json=body)

    def find_contact(self, email: str) -> Any:
        """GET /contacts/find?email=...: a list holding the contact with this email, or an empty list."""
        return self.http.request("GET", "/contacts/find", params={"email": email})

    def delete_contact(self, email: str | None = None, *, user_id: str | None = None) -> Any:
        """POST /contacts/delete: remove a contact by email or by userId (exactly one of them).

        An unknown contact is :class:`ContactNotFound`.
        """
        if (email is None) == (user_id is None):
            raise ValidationError(
                "deleting a Loops contact takes exactly one of email or userId",
                details=[{"field": "email", "reason": "give either email or userId"}],
            )
        # Not idempotent: sent again once applied, it may meet a 404 for the contact it deleted.
        return self.http.request(
            "POST", "/contacts/delete", json=compact(email=email, userId=user_id), idempotent=False
        )

    def send_event(
        self,
        email: str,
        event_name: str,
        *,
        event_properties: Mapping[str, Any] | None = None,
        contact_properties: Mapping[str, Any] | None = None,
        mailing_lists: Mapping[str, bool] | None = None,
        idempotency_key: str | None = None,
    ) -> Any:
        """POST /events/send: fire ``event_name`` for the contact (created if missing).

        ``event_properties`` are the event's own data (``eventProperties``, which its emails can show;
        not written onto the contact); ``contact_properties`` go at the top level and Loops writes them
        onto the contact; ``mailing_lists`` subscribes or unsubscribes. ``idempotency_key`` (at most 100
        characters) goes in the ``Idempotency-Key`` header; without one the client makes one for this
        call, so its retries are deduplicated. Answers Loops' JSON, or ``{"success": true,
        "duplicate": true}`` when Loops had already received an event with that key.
        """
        if not event_name or not event_name.strip():
            raise _refuse("eventName", "is required")
        if idempotency_key is None:
            idempotency_key = uuid.uuid4().hex
        elif not idempotency_key or len(idempotency_key) > MAX_IDEMPOTENCY_KEY_LENGTH:
            raise ValidationError(
                f"a Loops idempotency key has 1 to {MAX_IDEMPOTENCY_KEY_LENGTH} characters",
                details=[{"field": "idempotencyKey", "reason": f"has {len(idempotency_key)} characters"}],
            )
        body = {
            **_contact_properties(contact_properties),
            **compact(
                email=email,
                eventName=event_name,
                eventProperties=_event_properties(event_properties) or None,
                mailingLists=_mailing_lists(mailing_lists),
            ),
        }
        try:
            return self.http.request("POST", "/events/send", json=body, headers={"Idempotency-Key": idempotency_key})
        except Conflict:
            # The hub sends no userId with events, so a 409 here can only be the key seen before.
            return {"success": True, "duplicate": True}

    def get_api_key(self) -> Any:
        """GET /api-key: check the key (Loops' SDK's key test); answers Loops' JSON."""
        return self.http.request("GET", "/api-key")


# -- errors ---------------------------------------------------------------------------------------


def map_error(response: ProviderResponse) -> HubError:
    """Loops' errors as domain errors, by status alone (the table is in the module docstring)."""
    status, message = response.status, response.message
    text = f"{PROVIDER_NAME}: {message}"
    if status == 400:
        return ValidationError(f"{PROVIDER_NAME} rejected the request: {message}", details=_details(message))
    if status == 404:
        return ContactNotFound(text)
    if status == 409:
        named = _named_fields(message)
        if named == ["userId"]:
            return Conflict(text, details=[{"field": "userId", "reason": message}])
        return EmailTaken(text, details=[{"field": "email", "reason": message}])
    return default_error(PROVIDER_NAME, response)


def _named_fields(message: str) -> list[str]:
    """The fields the client sends that ``message`` names, as whole words, case-insensitively."""
    return [field for field in _SENT_FIELDS if re.search(rf"\b{field}\b", message, re.IGNORECASE)]


def _details(message: str) -> list[dict[str, Any]]:
    """The field a 400 is about when its message names exactly one, else Loops' message alone."""
    named = _named_fields(message)
    if len(named) == 1:
        return [{"field": named[0], "reason": message}]
    return [{"reason": message}]


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
    """An events/send body as the hub's :class:`Event`: ``eventName`` is the name and
    ``eventProperties`` its properties. The top-level fields other than ``email``, ``eventName``,
    ``eventProperties`` and ``mailingLists`` are contact properties Loops writes onto the contact, not
    the event's own, so they are not among its properties."""
    if not isinstance(payload, dict):
        raise ValueError("a Loops event must be a JSON object")
    own = payload.get("eventProperties")
    return Event(
        name=str(payload["eventName"]),
        email=str(payload["email"]),
        properties=dict(own) if isinstance(own, dict) else {},
    )
