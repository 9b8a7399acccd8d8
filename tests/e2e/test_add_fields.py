"""The fields the hub hands to a provider, or refuses, through the spawned local run.

Adding a participant: a field the campaign's provider has no place for is answered 422 naming the
field and the provider, before any provider call, through the API and in a bulk ``addParticipant``
row alike; the fields SparkLoop has a place for reach it as sent. Which fields each provider places is
read from its program's ``add_fields`` at collection, so the tests follow the programs.

Syncing a contact: ``mailingLists`` reaches Loops' ``contacts/update``, and an event's properties
reach ``events/send`` as ``eventProperties``, through the API and in a bulk ``syncContact`` row.
"""

from __future__ import annotations

import time
import uuid

import pytest

from hub.domain.requests import AddParticipantRequest
from hub.providers.growsurf.program import GrowSurfProgram
from hub.providers.program import PROVIDER_NAMES
from hub.providers.sparkloop.program import SparkLoopProgram
from hub.providers.viral_loops.program import ViralLoopsProgram

from .conftest import Hub

PROGRAMS = {
    "demo-growsurf": ("growsurf", GrowSurfProgram),
    "demo-viral-loops": ("viral_loops", ViralLoopsProgram),
    "demo-sparkloop": ("sparkloop", SparkLoopProgram),
}

# A valid value of every optional add-participant field, by its camelCase name.
VALUES = {
    "firstName": "Ada",
    "lastName": "Lovelace",
    "referrer": "somecode1",
    "metadata": {"plan": "pro"},
    "ipAddress": "203.0.113.7",
    "userAgent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0",
    "utmSource": "newsletter",
    "utmCampaign": "spring-launch",
    "signedUpAt": "2021-03-22T19:20:30+01:00",
}


def optional_fields() -> list[str]:
    """The request model's optional fields, camelCase: what ``AddParticipantRequest.given`` can name."""
    return [info.alias or name for name, info in AddParticipantRequest.model_fields.items() if name != "email"]


def unplaced() -> list[tuple[str, str]]:
    """(campaign, field) for each optional field the campaign's provider has no place for."""
    return [
        (campaign, field)
        for campaign, (_, program) in PROGRAMS.items()
        for field in optional_fields()
        if field not in program.add_fields
    ]


def email(name: str = "user") -> str:
    return f"{name}-{uuid.uuid4().hex[:10]}@example.com"


def wait_for(hub: Hub, job_id: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = hub.get(f"/imports/{job_id}").json()
        if job["status"] in ("completed", "completedWithErrors"):
            return job
        time.sleep(0.3)
    raise AssertionError(f"the import did not finish: {job}")


def test_every_optional_field_has_a_test_value():
    # Given the request model's optional fields
    # When they are compared with the values these tests send
    # Then every one of them has a value, so no field escapes the tests below
    assert set(optional_fields()) == set(VALUES)


# -- add participant: refusal ---------------------------------------------------------------------


@pytest.mark.parametrize(("campaign", "field"), unplaced())
def test_a_field_without_a_place_is_refused_with_422_naming_field_and_provider(hub, sandboxes, campaign, field):
    # Given a participant carrying a field the campaign's provider has no place for
    provider_key, program = PROGRAMS[campaign]
    provider = PROVIDER_NAMES[program.provider]
    # When it is added through the API
    response = hub.post(f"/campaigns/{campaign}/participants", {"email": email(), field: VALUES[field]})
    # Then the hub answers 422 naming the field and the provider
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert provider in error["message"] and field in error["message"]
    assert error["details"] == [{"field": field, "reason": f"{provider} has no place for this field"}]
    # And the provider received no call at all
    assert sandboxes.all[provider_key].received == []


@pytest.mark.parametrize("campaign", [c for c in PROGRAMS if any(c == u for u, _ in unplaced())])
def test_every_field_without_a_place_is_named_at_once(hub, sandboxes, campaign):
    # Given a participant carrying every field the provider has no place for
    provider_key = PROGRAMS[campaign][0]
    fields = [field for c, field in unplaced() if c == campaign]
    # When it is added
    response = hub.post(f"/campaigns/{campaign}/participants", {"email": email(), **{f: VALUES[f] for f in fields}})
    # Then the 422 names each of them, and the provider received nothing
    assert response.status_code == 422, response.text
    assert [d["field"] for d in response.json()["error"]["details"]] == fields
    assert sandboxes.all[provider_key].received == []


@pytest.mark.parametrize(("campaign", "field"), unplaced())
def test_a_bulk_row_with_a_field_without_a_place_fails_with_that_reason(hub, sandboxes, campaign, field):
    # Given an addParticipant import of one row carrying a field the provider has no place for
    provider_key, program = PROGRAMS[campaign]
    provider = PROVIDER_NAMES[program.provider]
    row = {"email": email("bulk"), field: VALUES[field]}
    # When it is imported and the job finishes
    answer = hub.post("/imports", {"campaign": campaign, "operation": "addParticipant", "rows": [row]})
    assert answer.status_code == 202, answer.text
    job = wait_for(hub, answer.json()["jobId"])
    # Then the row failed, naming the field and the provider, and never succeeded without the field
    assert (job["succeeded"], job["failed"]) == (0, 1), job
    (failure,) = job["failures"]
    assert failure["error"]["code"] == "VALIDATION_ERROR"
    assert {"field": field, "reason": f"{provider} has no place for this field"} in failure["error"]["details"]
    # And the provider received no call for it
    assert sandboxes.all[provider_key].received == []


# -- add participant: SparkLoop's own fields ------------------------------------------------------


def test_sparkloop_receives_user_agent_utm_fields_and_a_past_created_at_as_sent(hub, sandboxes):
    # Given a sign-up from the past with its browser and campaign tags
    address = email("drago")
    body = {
        "email": address,
        "userAgent": VALUES["userAgent"],
        "utmSource": VALUES["utmSource"],
        "utmCampaign": VALUES["utmCampaign"],
        "signedUpAt": VALUES["signedUpAt"],
    }
    # When it is added to the SparkLoop campaign
    response = hub.post("/campaigns/demo-sparkloop/participants", body)
    # Then SparkLoop received each under its own name, the time in the document's format
    assert response.status_code == 201, response.text
    (received,) = sandboxes.sparkloop.requests_to("/subscribers", "POST")
    assert received.json == {
        "email": address,
        "user_agent": VALUES["userAgent"],
        "utm_source": VALUES["utmSource"],
        "utm_campaign": VALUES["utmCampaign"],
        "created_at": "2021-03-22T19:20:30+01:00",
    }
    # And the user got the participant SparkLoop stored, signed up at that past instant
    participant = response.json()
    assert participant["createdAt"].startswith("2021-03-22T18:20:30")
    assert participant["providerData"]["user_agent"] == VALUES["userAgent"]
    assert (participant["providerData"]["utm_source"], participant["providerData"]["utm_campaign"]) == (
        VALUES["utmSource"],
        VALUES["utmCampaign"],
    )


def test_sparkloop_refuses_metadata_it_has_no_place_for(hub, sandboxes):
    # Given SparkLoop's program, which has no place for custom data
    assert "metadata" not in SparkLoopProgram.add_fields
    # When a participant with metadata is added
    response = hub.post("/campaigns/demo-sparkloop/participants", {"email": email(), "metadata": {"plan": "pro"}})
    # Then it is refused, naming metadata and SparkLoop, and SparkLoop received nothing
    assert response.status_code == 422, response.text
    assert response.json()["error"]["details"] == [
        {"field": "metadata", "reason": "SparkLoop has no place for this field"}
    ]
    assert sandboxes.sparkloop.received == []


# -- contact sync: mailing lists and event properties ---------------------------------------------


def test_contact_sync_sends_mailing_lists_to_contacts_update(hub, sandboxes):
    # Given a contact to subscribe to one list and unsubscribe from another
    address = email("lists")
    body = {"email": address, "properties": {"plan": "pro"}, "mailingLists": {"list-news": True, "list-old": False}}
    # When it is synced
    response = hub.post("/contacts/sync", body)
    # Then Loops' contacts/update received the lists beside the contact properties
    assert response.status_code == 200, response.text
    (update,) = sandboxes.loops.requests_to("/contacts/update", "PUT")
    assert update.json == {"email": address, "plan": "pro", "mailingLists": {"list-news": True, "list-old": False}}
    assert sandboxes.loops.lists_of(address) == {"list-news": True, "list-old": False}
    # And the user was told which lists were sent
    assert response.json()["mailingLists"] == {"list-news": True, "list-old": False}


def test_contact_sync_sends_the_event_s_properties_as_event_properties(hub, sandboxes):
    # Given a contact with a property and an event with its own data
    address = email("event")
    body = {
        "email": address,
        "properties": {"plan": "pro"},
        "event": {"name": "rewardEarned", "properties": {"rewardId": "r-1", "couponCode": "THANKS-20"}},
    }
    # When it is synced
    response = hub.post("/contacts/sync", body)
    # Then events/send received the event's data as eventProperties and nothing at the top level
    assert response.status_code == 200, response.text
    (sent,) = sandboxes.loops.requests_to("/events/send", "POST")
    assert sent.json == {
        "email": address,
        "eventName": "rewardEarned",
        "eventProperties": {"rewardId": "r-1", "couponCode": "THANKS-20"},
    }
    # And the contact carries its property but not the event's data
    stored = sandboxes.loops.stored(address)
    assert stored is not None and stored["plan"] == "pro"
    assert not {"rewardId", "couponCode"} & set(stored)
    assert response.json()["eventSent"] == "rewardEarned"


def test_a_bulk_sync_contact_row_sends_mailing_lists_and_event_properties(hub, sandboxes):
    # Given a syncContact import of one row with lists and an event
    address = email("bulk-sync")
    row = {
        "email": address,
        "mailingLists": {"list-news": True},
        "event": {"name": "imported", "properties": {"batch": 7}},
    }
    # When it is imported and the job finishes
    answer = hub.post("/imports", {"operation": "syncContact", "rows": [row]})
    assert answer.status_code == 202, answer.text
    job = wait_for(hub, answer.json()["jobId"])
    # Then the row succeeded, contacts/update got the lists and events/send the event's eventProperties
    assert (job["succeeded"], job["failed"]) == (1, 0), job
    (update,) = [r for r in sandboxes.loops.requests_to("/contacts/update", "PUT") if r.status == 200]
    assert update.json["mailingLists"] == {"list-news": True}
    sends = [r.json for r in sandboxes.loops.requests_to("/events/send", "POST") if r.status == 200]
    assert sends == [{"email": address, "eventName": "imported", "eventProperties": {"batch": 7}}]
