"""The participant lifecycle over HTTP on the local run, against the sandbox providers: campaigns, the
participant list, update, delete and erasure, contacts, reward approval and removal, campaign referrals,
and their bulk operations. Each test asserts what the user got back and what the provider received."""

from __future__ import annotations

import csv
import io
import uuid

import pytest

from local.run import Sandboxes

from .conftest import Hub
from .test_imports import wait_for

GROWSURF, VIRAL_LOOPS, SPARKLOOP = "demo-growsurf", "demo-viral-loops", "demo-sparkloop"
PROVIDER_OF = {GROWSURF: "growsurf", VIRAL_LOOPS: "viral_loops", SPARKLOOP: "sparkloop"}


@pytest.fixture(autouse=True)
def _loops_default_delete(sandboxes: Sandboxes):
    """Each test starts from the Loops sandbox's default reading of a delete, and leaves it so."""
    sandboxes.loops.configure(unknown_delete="success")
    yield
    sandboxes.loops.configure(unknown_delete="success")


def email(tag: str = "user") -> str:
    return f"{tag}-{uuid.uuid4().hex[:10]}@example.com"


def add(hub: Hub, campaign: str, address: str, **fields) -> dict:
    response = hub.post(f"/campaigns/{campaign}/participants", {"email": address, **fields})
    assert response.status_code in (200, 201), response.text
    return response.json()


def delete(hub: Hub, path: str, **kwargs):
    return hub.request("DELETE", path, **kwargs)


def patch(hub: Hub, path: str, body, **kwargs):
    return hub.request("PATCH", path, json=body, **kwargs)


def calls(sandboxes: Sandboxes) -> int:
    return sum(len(sandbox.received) for sandbox in sandboxes.all.values())


def error_of(response) -> dict:
    return response.json()["error"]


# -- campaigns --------------------------------------------------------------------------------------


def test_the_campaigns_are_listed_with_what_each_provider_supports_without_calling_a_provider(hub, sandboxes):
    # When the configured campaigns are listed
    response = hub.get("/campaigns")
    # Then each demo campaign is there with its provider and what it supports
    assert response.status_code == 200, response.text
    by_name = {item["name"]: item for item in response.json()["items"]}
    assert {name: by_name[name]["provider"] for name in PROVIDER_OF} == PROVIDER_OF
    assert {"getCampaign", "updateParticipant", "deleteParticipant", "removeReward"} <= set(
        by_name[GROWSURF]["operations"]
    )
    assert "deleteParticipant" not in by_name[VIRAL_LOOPS]["operations"]
    assert "updateParticipant" in by_name[VIRAL_LOOPS]["operations"]
    assert "deleteParticipant" in by_name[SPARKLOOP]["operations"]
    assert "updateParticipant" not in by_name[SPARKLOOP]["operations"]
    # And no provider was asked
    assert calls(sandboxes) == 0


def test_a_growsurf_campaign_is_described_with_its_reward_catalog(hub, sandboxes):
    # When the GrowSurf campaign is read
    response = hub.get(f"/campaigns/{GROWSURF}")
    # Then it is GrowSurf's campaign, with its catalog normalized
    assert response.status_code == 200, response.text
    body = response.json()
    (received,) = sandboxes.growsurf.requests_to(f"/campaign/{sandboxes.growsurf.campaign_id}", "GET")
    assert received.method == "GET"
    assert body["campaign"] == GROWSURF and body["provider"] == "growsurf"
    assert body["providerData"]["id"] == sandboxes.growsurf.campaign_id
    assert body["name"] == body["providerData"]["name"]
    assert [reward["id"] for reward in body["rewards"]] == [r["id"] for r in body["providerData"]["rewards"]]
    assert all({"id", "description", "type", "conversionsRequired"} <= set(reward) for reward in body["rewards"])


@pytest.mark.parametrize("campaign", [VIRAL_LOOPS, SPARKLOOP])
def test_a_campaign_whose_provider_has_no_campaign_endpoint_answers_501(hub, sandboxes, campaign):
    response = hub.get(f"/campaigns/{campaign}")
    assert response.status_code == 501, response.text
    assert error_of(response)["code"] == "UNSUPPORTED_OPERATION"
    assert "getCampaign" in error_of(response)["message"]
    assert calls(sandboxes) == 0


def test_an_unknown_campaign_answers_404(hub):
    response = hub.get("/campaigns/no-such-campaign")
    assert response.status_code == 404
    assert error_of(response)["code"] == "CAMPAIGN_NOT_FOUND"


# -- the participant list ---------------------------------------------------------------------------


@pytest.mark.parametrize("campaign", [GROWSURF, SPARKLOOP])
def test_the_participant_list_pages_through_every_participant_once(hub, campaign):
    # Given five participants
    added = {email("listed") for _ in range(5)}
    for address in added:
        add(hub, campaign, address)
    # When the list is read two at a time, following nextCursor
    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        response = hub.get(f"/campaigns/{campaign}/participants", params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["items"]) <= 2
        seen += [item["email"] for item in page["items"]]
        pages += 1
        cursor = page["nextCursor"]
        if cursor is None:
            break
    # Then every participant came once, normalized
    assert added <= set(seen)
    assert len(seen) == len(set(seen))
    assert pages >= 3


@pytest.mark.parametrize(
    ("params", "field"),
    [({"limit": 0}, "limit"), ({"limit": 101}, "limit"), ({"limit": "x"}, "limit"), ({"cursor": "\u0001"}, "cursor")],
)
def test_a_bad_page_request_names_the_parameter(hub, sandboxes, params, field):
    response = hub.get(f"/campaigns/{GROWSURF}/participants", params=params)
    assert response.status_code == 422, response.text
    assert [detail["field"] for detail in error_of(response)["details"]] == [field]
    assert calls(sandboxes) == 0


def test_a_sparkloop_cursor_that_is_no_page_number_is_refused_before_any_call(hub, sandboxes):
    response = hub.get(f"/campaigns/{SPARKLOOP}/participants", params={"cursor": "not-a-page"})
    assert response.status_code == 422, response.text
    assert error_of(response)["details"][0]["field"] == "cursor"
    assert sandboxes.sparkloop.received == []


def test_viral_loops_has_no_participant_list(hub, sandboxes):
    response = hub.get(f"/campaigns/{VIRAL_LOOPS}/participants")
    assert response.status_code == 501, response.text
    assert "listCampaignParticipants" in error_of(response)["message"]
    assert calls(sandboxes) == 0


# -- update -----------------------------------------------------------------------------------------


def test_a_growsurf_participant_gets_new_names_metadata_and_email(hub, sandboxes):
    # Given a participant
    old, new = email("old"), email("new")
    add(hub, GROWSURF, old, firstName="Ada", metadata={"plan": "free"})
    # When its names, metadata and email are changed
    response = patch(
        hub,
        f"/campaigns/{GROWSURF}/participants/{old}",
        {"firstName": "Grace", "email": new, "metadata": {"plan": "pro"}},
    )
    # Then the answer is the participant as it is now
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["email"], body["firstName"]) == (new, "Grace")
    # And GrowSurf received one update of that participant with the new values
    (received,) = [r for r in sandboxes.growsurf.requests_to(f"/participant/{old}", "POST")]
    assert received.json["email"] == new and received.json["firstName"] == "Grace"
    assert received.json["metadata"]["plan"] == "pro"
    assert sandboxes.growsurf.participant(new)["firstName"] == "Grace"
    # And the old address is no one now
    assert hub.get(f"/campaigns/{GROWSURF}/participants/{old}").status_code == 404


def test_a_viral_loops_participant_gets_a_new_first_name(hub, sandboxes):
    address = email()
    add(hub, VIRAL_LOOPS, address, firstName="Ada")
    response = patch(hub, f"/campaigns/{VIRAL_LOOPS}/participants/{address}", {"firstName": "Grace"})
    assert response.status_code == 200, response.text
    assert response.json()["firstName"] == "Grace"
    (received,) = sandboxes.viral_loops.requests_to("/v2/campaign/participant", "PUT")
    assert received.json["firstName"] == "Grace"
    assert sandboxes.viral_loops.participant(address)["firstName"] == "Grace"


def test_an_update_sparkloop_cannot_make_answers_501_without_a_call(hub, sandboxes):
    address = email()
    add(hub, SPARKLOOP, address)
    sandboxes.sparkloop.received.clear()
    response = patch(hub, f"/campaigns/{SPARKLOOP}/participants/{address}", {"firstName": "Grace"})
    assert response.status_code == 501, response.text
    assert "updateParticipant" in error_of(response)["message"]
    assert sandboxes.sparkloop.received == []


@pytest.mark.parametrize(
    ("body", "field"), [({}, "body"), ({"email": "not-an-email"}, "email"), ({"nick": "x"}, "nick")]
)
def test_a_bad_update_names_what_is_wrong(hub, sandboxes, body, field):
    address = email()
    response = patch(hub, f"/campaigns/{GROWSURF}/participants/{address}", body)
    assert response.status_code == 422, response.text
    assert field in {detail["field"] for detail in error_of(response)["details"]}
    assert sandboxes.growsurf.requests_to(f"/participant/{address}", "POST") == []


def test_updating_an_unknown_participant_answers_404(hub):
    response = patch(hub, f"/campaigns/{GROWSURF}/participants/{email('nobody')}", {"firstName": "X"})
    assert response.status_code == 404, response.text
    assert error_of(response)["code"] == "PARTICIPANT_NOT_FOUND"


def test_an_update_replayed_with_its_key_reaches_growsurf_once(hub, sandboxes):
    address = email()
    add(hub, GROWSURF, address)
    headers = {"Idempotency-Key": uuid.uuid4().hex}
    first = patch(hub, f"/campaigns/{GROWSURF}/participants/{address}", {"lastName": "Hopper"}, headers=headers)
    again = patch(hub, f"/campaigns/{GROWSURF}/participants/{address}", {"lastName": "Hopper"}, headers=headers)
    assert first.status_code == again.status_code == 200
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.json() == first.json()
    assert len(sandboxes.growsurf.requests_to(f"/participant/{address}", "POST")) == 1


# -- delete and erasure -----------------------------------------------------------------------------


@pytest.mark.parametrize("campaign", [GROWSURF, SPARKLOOP])
def test_a_deleted_participant_is_gone_and_a_second_delete_is_404(hub, sandboxes, campaign):
    # Given a participant
    address = email()
    add(hub, campaign, address)
    # When it is deleted
    response = delete(hub, f"/campaigns/{campaign}/participants/{address}")
    # Then the answer says it was deleted at the provider, and nothing was asked of Loops
    assert response.status_code == 200, response.text
    assert response.json() == {"campaign": campaign, "email": address, "deleted": True, "contactDeleted": None}
    assert sandboxes.loops.received == []
    box = sandboxes.all[PROVIDER_OF[campaign]]
    with pytest.raises(KeyError):
        (box.participant if campaign == GROWSURF else box.subscriber)(address)
    deletes = len([r for r in box.received if r.method == "DELETE"])
    assert deletes == 1
    # And a second delete is 404, with no second delete at the provider
    again = delete(hub, f"/campaigns/{campaign}/participants/{address}")
    assert again.status_code == 404, again.text
    assert error_of(again)["code"] == "PARTICIPANT_NOT_FOUND"
    assert len([r for r in box.received if r.method == "DELETE"]) == deletes + (1 if campaign == GROWSURF else 0)


def test_viral_loops_has_no_delete(hub, sandboxes):
    response = delete(hub, f"/campaigns/{VIRAL_LOOPS}/participants/{email()}")
    assert response.status_code == 501, response.text
    assert sandboxes.viral_loops.received == []


@pytest.mark.parametrize("unknown_delete", ["success", "not_found"])
def test_an_erasure_deletes_the_participant_and_the_loops_contact(hub, sandboxes, unknown_delete):
    # Given a participant who is also a Loops contact, at a Loops of either reading of a delete
    sandboxes.loops.configure(unknown_delete=unknown_delete)
    address = email("erased")
    add(hub, GROWSURF, address)
    sandboxes.loops.seed_contact(address, firstName="Ada")
    # When the person is erased
    response = delete(hub, f"/campaigns/{GROWSURF}/participants/{address}", params={"contact": "true"})
    # Then both are gone, and the answer says so
    assert response.status_code == 200, response.text
    assert response.json() == {"campaign": GROWSURF, "email": address, "deleted": True, "contactDeleted": True}
    assert sandboxes.loops.contact(address) is None
    with pytest.raises(KeyError):
        sandboxes.growsurf.participant(address)
    (deleted,) = sandboxes.loops.requests_to("/contacts/delete", "POST")
    assert deleted.json == {"email": address}


@pytest.mark.parametrize("unknown_delete", ["success", "not_found"])
def test_an_erasure_of_someone_without_a_contact_says_so_and_deletes_nothing_in_loops(hub, sandboxes, unknown_delete):
    sandboxes.loops.configure(unknown_delete=unknown_delete)
    address = email()
    add(hub, GROWSURF, address)
    response = delete(hub, f"/campaigns/{GROWSURF}/participants/{address}", params={"contact": "true"})
    assert response.status_code == 200, response.text
    assert response.json()["deleted"] is True
    assert response.json()["contactDeleted"] is False
    assert sandboxes.loops.requests_to("/contacts/delete", "POST") == []


def test_an_erasure_loops_failed_says_what_was_done_and_a_retry_finishes_it(hub, sandboxes):
    # Given a participant and its contact, and a Loops that fails its next deletes
    address = email()
    add(hub, GROWSURF, address)
    sandboxes.loops.seed_contact(address)
    sandboxes.loops.inject(500, times=10, path="/contacts/delete")
    # When the person is erased
    response = delete(hub, f"/campaigns/{GROWSURF}/participants/{address}", params={"contact": "true"})
    # Then the error says the participant was deleted and the contact was not
    assert response.status_code == 502, response.text
    error = error_of(response)
    assert "deleted at GrowSurf" in error["message"] and "again" in error["message"]
    assert {detail["field"] for detail in error["details"]} == {"email", "contact"}
    assert sandboxes.loops.contact(address) is not None
    # And the same call again, Loops back, finishes the erasure and says what it did
    sandboxes.loops.faults.clear()
    again = delete(hub, f"/campaigns/{GROWSURF}/participants/{address}", params={"contact": "true"})
    assert again.status_code == 200, again.text
    assert again.json() == {"campaign": GROWSURF, "email": address, "deleted": False, "contactDeleted": True}
    assert sandboxes.loops.contact(address) is None
    # And once nothing is left anywhere, it is a 404
    last = delete(hub, f"/campaigns/{GROWSURF}/participants/{address}", params={"contact": "true"})
    assert last.status_code == 404, last.text


def test_a_contact_flag_that_is_not_true_or_false_is_refused(hub, sandboxes):
    response = delete(hub, f"/campaigns/{GROWSURF}/participants/{email()}", params={"contact": "yes"})
    assert response.status_code == 422, response.text
    assert error_of(response)["details"][0]["field"] == "contact"
    assert calls(sandboxes) == 0


# -- contacts ---------------------------------------------------------------------------------------


def test_a_contact_is_read_deleted_and_then_unknown(hub, sandboxes):
    # Given a Loops contact
    address = email("contact")
    sandboxes.loops.seed_contact(address, firstName="Ada", plan="pro")
    # When it is read
    found = hub.get(f"/contacts/{address}")
    # Then it is Loops' contact, normalized
    assert found.status_code == 200, found.text
    assert (found.json()["email"], found.json()["firstName"], found.json()["properties"]["plan"]) == (
        address,
        "Ada",
        "pro",
    )
    # When it is deleted
    deleted = delete(hub, f"/contacts/{address}")
    assert deleted.status_code == 200, deleted.text
    assert deleted.json() == {"email": address, "deleted": True}
    assert sandboxes.loops.contact(address) is None
    # Then it is unknown to a read and to a second delete, which sends Loops no delete
    assert hub.get(f"/contacts/{address}").status_code == 404
    again = delete(hub, f"/contacts/{address}")
    assert again.status_code == 404, again.text
    assert error_of(again)["code"] == "CONTACT_NOT_FOUND"
    assert len(sandboxes.loops.requests_to("/contacts/delete", "POST")) == 1


def test_a_contact_path_that_is_no_email_is_refused(hub, sandboxes):
    response = hub.get("/contacts/not-an-email")
    assert response.status_code == 422, response.text
    assert error_of(response)["details"][0]["field"] == "email"
    assert sandboxes.loops.received == []


# -- rewards ----------------------------------------------------------------------------------------


def pending_reward(hub: Hub) -> tuple[str, dict]:
    """A GrowSurf referrer holding a reward pending approval (the sandbox approves manually)."""
    referrer, friend = email("referrer"), email("friend")
    add(hub, GROWSURF, referrer)
    add(hub, GROWSURF, friend, referrer=referrer)
    assert hub.post(f"/campaigns/{GROWSURF}/conversions", {"email": friend}).status_code == 200
    (reward,) = hub.get(f"/campaigns/{GROWSURF}/participants/{referrer}/rewards?status=pending").json()["items"]
    return referrer, reward


def test_a_growsurf_reward_is_approved_without_being_fulfilled(hub, sandboxes):
    referrer, reward = pending_reward(hub)
    response = hub.post(
        f"/campaigns/{GROWSURF}/redemptions", {"email": referrer, "rewardId": reward["id"], "fulfill": False}
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "approved"
    (approved,) = sandboxes.growsurf.requests_to(f"/reward/{reward['id']}/approve", "POST")
    assert approved.json.get("fulfill") is False
    assert sandboxes.growsurf.requests_to(f"/reward/{reward['id']}/fulfill", "POST") == []
    (held,) = [r for r in sandboxes.growsurf.rewards_of(referrer) if r["id"] == reward["id"]]
    assert held["status"] != "FULFILLED"


def test_viral_loops_refuses_an_approval_without_fulfilment_naming_the_field(hub, sandboxes):
    address = email()
    add(hub, VIRAL_LOOPS, address)
    sandboxes.viral_loops.received.clear()
    response = hub.post(
        f"/campaigns/{VIRAL_LOOPS}/redemptions",
        {"email": address, "rewardId": "r1", "milestoneId": "m1", "fulfill": False},
    )
    assert response.status_code == 422, response.text
    assert error_of(response)["details"][0]["field"] == "fulfill"
    assert sandboxes.viral_loops.received == []


def test_an_unapproved_reward_is_removed_and_another_participants_is_not(hub, sandboxes):
    # Given two referrers each holding a pending reward
    first, reward = pending_reward(hub)
    second, other = pending_reward(hub)
    # When the first's reward is removed through the second participant's path
    wrong = delete(hub, f"/campaigns/{GROWSURF}/participants/{second}/rewards/{reward['id']}")
    # Then it is not theirs: 404, and GrowSurf was asked to remove nothing
    assert wrong.status_code == 404, wrong.text
    assert sandboxes.growsurf.requests_to(f"/reward/{reward['id']}", "DELETE") == []
    # When it is removed through its own participant
    response = delete(hub, f"/campaigns/{GROWSURF}/participants/{first}/rewards/{reward['id']}")
    # Then it is gone, and the other is untouched
    assert response.status_code == 200, response.text
    assert response.json() == {"campaign": GROWSURF, "email": first, "rewardId": reward["id"], "removed": True}
    # And GrowSurf was asked once to remove that reward, and never the other's
    assert len(sandboxes.growsurf.requests_to(f"/reward/{reward['id']}", "DELETE")) == 1
    assert sandboxes.growsurf.requests_to(f"/reward/{other['id']}", "DELETE") == []
    assert [r["id"] for r in sandboxes.growsurf.rewards_of(first)] == []
    assert [r["id"] for r in sandboxes.growsurf.rewards_of(second)] == [other["id"]]


def test_an_approved_reward_cannot_be_removed(hub, sandboxes):
    referrer, reward = pending_reward(hub)
    approved = hub.post(
        f"/campaigns/{GROWSURF}/redemptions", {"email": referrer, "rewardId": reward["id"], "fulfill": False}
    )
    assert approved.status_code == 200, approved.text
    response = delete(hub, f"/campaigns/{GROWSURF}/participants/{referrer}/rewards/{reward['id']}")
    assert response.status_code == 409, response.text
    assert [detail["field"] for detail in error_of(response)["details"]] == ["rewardId"]
    # The hub refused it before asking GrowSurf to remove anything
    assert sandboxes.growsurf.requests_to(f"/reward/{reward['id']}", "DELETE") == []
    assert [r["id"] for r in sandboxes.growsurf.rewards_of(referrer)] == [reward["id"]]


# -- campaign referrals -----------------------------------------------------------------------------


def test_the_campaign_referrals_are_listed_by_status(hub, sandboxes):
    # Given a converted referral and a pending one
    referrer, converted, waiting = email("referrer"), email("converted"), email("waiting")
    add(hub, GROWSURF, referrer)
    add(hub, GROWSURF, converted, referrer=referrer)
    add(hub, GROWSURF, waiting, referrer=referrer)
    assert hub.post(f"/campaigns/{GROWSURF}/conversions", {"email": converted}).status_code == 200
    # When the campaign's converted referrals are listed
    response = hub.get(f"/campaigns/{GROWSURF}/referrals", params={"status": "converted", "limit": 100})
    # Then the converted one is there and the pending one is not
    assert response.status_code == 200, response.text
    emails = {item["email"]: item["status"] for item in response.json()["items"]}
    assert emails.get(converted) == "converted"
    assert waiting not in emails
    assert set(emails.values()) == {"converted"}


def test_a_referral_status_that_is_not_one_of_the_four_is_refused(hub, sandboxes):
    response = hub.get(f"/campaigns/{GROWSURF}/referrals", params={"status": "won"})
    assert response.status_code == 422, response.text
    assert error_of(response)["details"][0]["field"] == "status"
    assert calls(sandboxes) == 0


# -- bulk -------------------------------------------------------------------------------------------


def test_a_bulk_erasure_deletes_every_person_once_at_growsurf_and_in_loops(hub, sandboxes):
    # Given twenty participants who are Loops contacts
    people = [email("bulk-erased") for _ in range(20)]
    for address in people:
        add(hub, GROWSURF, address)
        sandboxes.loops.seed_contact(address)
    # When they are erased by an import
    response = hub.post(
        "/imports",
        {
            "campaign": GROWSURF,
            "operation": "deleteParticipant",
            "rows": [{"email": a, "contact": True} for a in people],
        },
    )
    assert response.status_code == 202, response.text
    job = wait_for(hub, response.json()["jobId"])
    # Then every row succeeded, and each person was deleted once in each place
    assert (job["status"], job["succeeded"], job["failed"]) == ("completed", 20, 0)
    for address in people:
        with pytest.raises(KeyError):
            sandboxes.growsurf.participant(address)
        assert sandboxes.loops.contact(address) is None
    growsurf_deletes = [r.path.rsplit("/", 1)[-1] for r in sandboxes.growsurf.received if r.method == "DELETE"]
    assert sorted(growsurf_deletes) == sorted(people)
    loops_deletes = [r.json["email"] for r in sandboxes.loops.requests_to("/contacts/delete", "POST")]
    assert sorted(loops_deletes) == sorted(people)


def test_a_csv_update_import_changes_each_participant_and_keeps_extra_columns_as_metadata(hub, sandboxes):
    people = [email("bulk-updated") for _ in range(3)]
    for address in people:
        add(hub, GROWSURF, address, firstName="Before")
    body = io.StringIO()
    writer = csv.writer(body)
    writer.writerow(["email", "first_name", "tier"])
    writer.writerows([address, f"After {n}", "gold"] for n, address in enumerate(people))
    response = hub.request(
        "POST",
        "/imports",
        params={"campaign": GROWSURF, "operation": "updateParticipant"},
        data=body.getvalue(),
        headers={"Content-Type": "text/csv"},
    )
    assert response.status_code == 202, response.text
    job = wait_for(hub, response.json()["jobId"])
    assert (job["succeeded"], job["failed"]) == (3, 0)
    for n, address in enumerate(people):
        held = sandboxes.growsurf.participant(address)
        assert held["firstName"] == f"After {n}"
        assert held["metadata"]["tier"] == "gold"


def test_a_delete_contact_import_needs_no_campaign_and_reports_the_unknown_row(hub, sandboxes):
    known, unknown = email("known"), email("unknown")
    sandboxes.loops.seed_contact(known)
    response = hub.post("/imports", {"operation": "deleteContact", "rows": [{"email": known}, {"email": unknown}]})
    assert response.status_code == 202, response.text
    job = wait_for(hub, response.json()["jobId"])
    assert (job["status"], job["succeeded"], job["failed"]) == ("completedWithErrors", 1, 1)
    assert [failure["error"]["code"] for failure in job["failures"]] == ["CONTACT_NOT_FOUND"]
    assert sandboxes.loops.contact(known) is None
    assert [r.json["email"] for r in sandboxes.loops.requests_to("/contacts/delete", "POST")] == [known]
