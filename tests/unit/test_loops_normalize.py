"""Loops normalizers against the example payloads of the reference document.

The document's copies show the address as ``[email protected]`` (a web page's obfuscation); its own
find example (``?email=adam%40loops.so``) gives the address, used here.
"""

from __future__ import annotations

import copy

import pytest

from hub.domain.models import Contact, Event
from hub.providers.loops.client import normalize_contact, normalize_contacts, normalize_event

# Contacts > Add (and Update): the documented body.
ADD_CONTACT = {
    "email": "adam@loops.so",
    "firstName": "Adam",
    "lastName": "Kaczmarek",
    "favoriteColor": "blue",
    "userGroup": "Founders",
    "source": "Signup form Service",
}

# Contacts > Find answers an array with a single contact: the documented contact, as stored.
FIND_ANSWER = [
    {
        "id": "cll6b3i8901a9jx0oyktl2m4u",
        **ADD_CONTACT,
        "subscribed": True,
        "userId": "someUserId",
    }
]

# Events > Send: the two documented bodies (the second with contact properties at the top level).
SEND_EVENT = {"email": "adam@loops.so", "eventName": "conversion"}
SEND_EVENT_WITH_PROPERTIES = {"email": "adam@loops.so", "eventName": "conversion", "plan": "pro", "price": 99}
# Events > Send in Loops' current reference: the event's own data in eventProperties, and mailing lists.
SEND_EVENT_WITH_EVENT_PROPERTIES = {
    "email": "adam@loops.so",
    "eventName": "conversion",
    "plan": "pro",
    "eventProperties": {"rewardId": "r-1", "amount": 20, "firstTime": True, "at": "2026-03-14T10:34:56Z"},
    "mailingLists": {"cm06f5v0e45nf0ml5754o9cix": True},
}


def test_the_documented_contact_maps_its_known_fields():
    # Given the documented Add body
    # When it is normalized
    contact = normalize_contact(ADD_CONTACT)
    # Then the standard fields are typed, and no id or userId is made up
    assert isinstance(contact, Contact)
    assert (contact.email, contact.first_name, contact.last_name) == ("adam@loops.so", "Adam", "Kaczmarek")
    assert (contact.id, contact.user_id) == (None, None)


def test_every_other_field_of_the_documented_contact_is_a_property():
    # Given the documented Add body
    # When it is normalized
    contact = normalize_contact(ADD_CONTACT)
    # Then the custom and the non-typed standard fields are properties
    assert contact.properties == {"favoriteColor": "blue", "userGroup": "Founders", "source": "Signup form Service"}


def test_provider_data_is_the_payload_untouched():
    # Given a find result
    payload = FIND_ANSWER[0]
    before = copy.deepcopy(payload)
    # When it is normalized
    contact = normalize_contact(payload)
    # Then providerData is the payload as is, and the payload was not changed
    assert contact.provider_data == before
    assert payload == before


def test_a_find_answer_gives_one_contact_with_id_and_user_id():
    # Given the documented find answer: an array with a single contact
    # When it is normalized
    contacts = normalize_contacts(FIND_ANSWER)
    # Then it is one contact with its id, userId and properties
    (contact,) = contacts
    assert (contact.id, contact.user_id, contact.email) == ("cll6b3i8901a9jx0oyktl2m4u", "someUserId", "adam@loops.so")
    assert contact.properties["subscribed"] is True
    assert "id" not in contact.properties
    assert "userId" not in contact.properties


def test_an_empty_find_answer_gives_no_contacts():
    # Given the documented answer for an unknown email
    # When it is normalized
    # Then there are no contacts
    assert normalize_contacts([]) == []


def test_a_contact_in_wire_shape_is_camel_case():
    # Given a normalized find result
    contact = normalize_contact(FIND_ANSWER[0])
    # When it is put on the wire
    wire = contact.to_wire()
    # Then its fields are camelCase
    assert (wire["firstName"], wire["userId"], wire["providerData"]["id"]) == ("Adam", "someUserId", contact.id)


def test_the_documented_event_normalizes_with_no_properties():
    # Given the documented event body
    # When it is normalized
    event = normalize_event(SEND_EVENT)
    # Then it names the event and the contact
    assert event == Event(name="conversion", email="adam@loops.so", properties={})


def test_the_contact_properties_of_an_event_are_not_the_event_s_own():
    # Given the documented event with contact properties at the top level
    # When it is normalized
    event = normalize_event(SEND_EVENT_WITH_PROPERTIES)
    # Then they are not among the event's properties (Loops writes them onto the contact)
    assert event.properties == {}


def test_the_event_properties_of_an_event_are_its_properties():
    # Given an event with eventProperties, a contact property and mailing lists
    # When it is normalized
    event = normalize_event(SEND_EVENT_WITH_EVENT_PROPERTIES)
    # Then its properties are exactly its eventProperties
    assert event.properties == SEND_EVENT_WITH_EVENT_PROPERTIES["eventProperties"]


@pytest.mark.parametrize("payload", [["not", "an", "object"], "text"])
def test_a_contact_that_is_not_an_object_is_refused(payload):
    # Given a payload that is not a JSON object
    # When it is normalized
    # Then it is refused
    with pytest.raises(ValueError, match="JSON object"):
        normalize_contact(payload)
