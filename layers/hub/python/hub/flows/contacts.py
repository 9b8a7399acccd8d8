"""The contact store (Loops): upserting, reading and deleting contacts, sending events, copying referral
stats onto contacts, and erasing a person from a campaign and from Loops in one call."""

from __future__ import annotations

import hashlib
import threading
from functools import partial
from typing import Any

from hub.domain.errors import (
    ConfigurationError,
    ContactNotFound,
    HubError,
    ParticipantNotFound,
    ProviderError,
)
from hub.domain.models import Contact, ContactDeletion, Deletion, Participant, Provider
from hub.domain.requests import ContactSyncRequest
from hub.providers.http import found, reconcile_write
from hub.providers.loops.client import LoopsClient, normalize_contacts
from hub.providers.program import PROVIDER_NAMES, ReferralProgram, limiter_for, program_for, retry_policy
from hub.settings.config import load_config, resolve_key

_clients: dict[str, LoopsClient] = {}
_lock = threading.Lock()


def loops_client() -> LoopsClient:
    """The Loops client of the configured contact store, rebuilt when its key changes."""
    config = load_config()
    if config.contacts is None:
        raise ConfigurationError("no contact store is configured: add a [contacts] section to the configuration")
    key = resolve_key(config.contacts.key)
    with _lock:
        if key not in _clients:
            _clients.clear()
            _clients[key] = LoopsClient(key, limiter=limiter_for(Provider.LOOPS, config), policy=retry_policy())
        return _clients[key]


def referral_properties(participant: Participant) -> dict[str, Any]:
    """The referral stats a contact carries, as Loops contact properties."""
    referrer = participant.referrer
    return {
        "referralCampaign": participant.campaign,
        "referralCode": participant.referral_code,
        "referralShareUrl": participant.share_url,
        "referralCount": participant.referral_count,
        "referralRank": participant.rank,
        "referredByEmail": referrer.email if referrer else None,
        "referredByCode": referrer.referral_code if referrer else None,
    }


def sync_contact(request: ContactSyncRequest, *, idempotency_key: str | None = None) -> dict[str, Any]:
    """Upsert the contact (with the campaign's referral stats when ``campaign`` is given) and its
    mailing lists, then send the optional event.

    ``properties`` (and the referral stats) are contact properties, written onto the contact by
    ``contacts/update``; ``mailingLists`` goes there too. The event's own ``properties`` go to Loops
    as ``eventProperties`` only: emails the event triggers can show them, and they are not written
    onto the contact (a top-level field of ``events/send`` would be, each event overwriting the last).
    The event carries an idempotency key so a retried sync never sends it twice."""
    properties = dict(request.properties)
    if request.campaign is not None:
        participant = program_for(request.campaign).get_participant(request.email)
        properties.update(referral_properties(participant))
        first_name = request.first_name or participant.first_name
        last_name = request.last_name or participant.last_name
    else:
        first_name, last_name = request.first_name, request.last_name
    properties = {key: value for key, value in properties.items() if value is not None}
    client = loops_client()
    answer = client.update_contact(
        request.email,
        first_name=first_name,
        last_name=last_name,
        user_id=request.user_id,
        properties=properties,
        mailing_lists=request.mailing_lists,
    )
    result: dict[str, Any] = {
        "email": request.email,
        # Loops' document shows no answer body: an id is passed on when Loops gives one.
        "contactId": answer.get("id") if isinstance(answer, dict) else None,
        "properties": properties,
        "mailingLists": dict(request.mailing_lists),
        "eventSent": None,
    }
    if request.event is not None:
        client.send_event(
            request.email,
            request.event.name,
            event_properties=dict(request.event.properties),
            # Loops takes keys of at most 100 characters; a digest of the caller's key fits any key.
            idempotency_key=hashlib.sha256(f"syncContact:{idempotency_key}".encode()).hexdigest()
            if idempotency_key
            else None,
        )
        result["eventSent"] = request.event.name
    return result


def get_contact(email: str) -> Contact:
    """The Loops contact with this email; :class:`ContactNotFound` when Loops has none."""
    answer = loops_client().find_contact(email)
    try:
        contacts = normalize_contacts(answer)
    except (ValueError, KeyError, TypeError):
        raise ProviderError("Loops answered a contact lookup with a body the hub cannot read") from None
    if not contacts:
        raise ContactNotFound(
            f"Loops has no contact {email}", details=[{"field": "email", "reason": "no such contact"}]
        )
    return contacts[0]


def delete_contact(email: str) -> ContactDeletion:
    """Delete the Loops contact with this email; :class:`ContactNotFound` when Loops has none.

    The contact is found first: Loops' document shows no answer of a delete, and one that answers
    success for an unknown contact too would have the hub claim a deletion that never was. A delete
    whose answer was lost is read back the same way (no contact: deleted), not sent again blindly."""
    get_contact(email)
    reconcile_write(partial(loops_client().delete_contact, email), partial(_no_contact, email))
    return ContactDeletion(email=email, deleted=True)


def _no_contact(email: str) -> bool:
    """Whether Loops has no contact ``email`` now."""
    return not found(partial(get_contact, email))


def erase(program: ReferralProgram, email: str, *, contact: bool) -> Deletion:
    """Remove the participant ``email`` from the program's campaign and, with ``contact``, its Loops
    contact: the answer says what this call deleted where.

    Without ``contact``, an unknown participant is :class:`ParticipantNotFound`. With it, the erasure
    finishes what an earlier, interrupted one began: a participant already gone is ``deleted: false``
    beside the contact's own answer, and only nothing to delete anywhere is a 404. Should Loops fail
    after the participant was deleted, the error says so and that sending the same call again
    finishes the erasure."""
    if contact:
        loops_client()  # no contact store configured: refused before anything is deleted
    try:
        program.delete_participant(email)
        deleted = True
    except ParticipantNotFound:
        if not contact:
            raise
        deleted = False
    if not contact:
        return Deletion(campaign=program.campaign, email=email, deleted=True, contact_deleted=None)
    try:
        contact_deleted = delete_contact(email).deleted
    except ContactNotFound:
        contact_deleted = False
    except HubError as exc:
        if deleted:
            raise _half_done(exc, PROVIDER_NAMES[program.provider]) from None
        raise
    if not deleted and not contact_deleted:
        raise ParticipantNotFound(
            f"nothing to delete: no participant {email} in campaign {program.campaign}, and no Loops contact",
            details=[{"field": "email", "reason": "no such participant or contact"}],
        )
    return Deletion(campaign=program.campaign, email=email, deleted=deleted, contact_deleted=contact_deleted)


def _half_done(exc: HubError, provider: str) -> HubError:
    """Loops' error after the participant was deleted, saying so: the same error (its class, status and
    any wait it asks for), its message and details telling what was done and how to finish."""
    exc.message = (
        f"the participant was deleted at {provider}, but its Loops contact was not: {exc.message}."
        " Send the same request again to delete the contact"
    )
    exc.args = (exc.message,)
    exc.details = [
        {"field": "email", "reason": f"deleted at {provider}"},
        {"field": "contact", "reason": "not deleted in Loops"},
    ]
    return exc
