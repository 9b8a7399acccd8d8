"""The contact store (Loops): upserting contacts, sending events, copying referral stats onto contacts."""

from __future__ import annotations

import hashlib
import threading
from typing import Any

from hub.domain.errors import ConfigurationError
from hub.domain.models import Participant, Provider
from hub.domain.requests import ContactSyncRequest
from hub.providers.loops.client import LoopsClient
from hub.providers.program import limiter_for, program_for, retry_policy
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
