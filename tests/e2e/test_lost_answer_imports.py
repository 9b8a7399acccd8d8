"""Bulk imports on the local run whose provider does the work and loses the answer: the sandbox applies
the write, then answers 500 (or answers later than the hub's one-second read timeout). Every row ends
succeeded once, the provider applied each row's write once (no second send after a lost answer), and
holds what the rows asked for."""

from __future__ import annotations

import uuid
from collections import Counter

from local.run import Sandboxes
from local.sandbox.base import Received, Sandbox
from local.sandbox.growsurf import GrowSurfSandbox

from .conftest import Hub
from .test_imports import all_failures, wait_for

ROWS = 60


def lose_answers(sandbox: Sandbox, path: str, method: str) -> None:
    """About a third of the matching writes applied and their answer lost: 25 % answered 500 after the
    write, 10 % answered after the hub's read timeout."""
    sandbox.inject(500, times=10_000, probability=0.25, path=path, method=method, applied=True)
    sandbox.inject(times=10_000, probability=0.10, delay=1.3, path=path, method=method, applied=True)


def lost(requests: list[Received]) -> int:
    """How many of ``requests`` the provider applied and whose answer it replaced."""
    return sum(1 for r in requests if r.served is not None)


def held(growsurf: GrowSurfSandbox, email: str) -> bool:
    try:
        growsurf.participant(email)
    except KeyError:
        return False
    return True


def per(requests: list[Received], key) -> Counter:  # type: ignore[no-untyped-def]
    return Counter(key(r) for r in requests)


def test_a_growsurf_convert_import_with_lost_answers_credits_each_referral_once(hub: Hub, sandboxes: Sandboxes):
    # Given a referrer with 60 pending referrals at GrowSurf, and a third of the triggers' answers lost
    tag = uuid.uuid4().hex[:8]
    growsurf = sandboxes.growsurf
    referrer = growsurf.seed_participant(f"ref-{tag}@example.com")
    friends = [f"friend-{tag}-{n}@example.com" for n in range(ROWS)]
    for friend in friends:
        growsurf.seed_participant(friend, referrer=referrer["id"], referral_status="CREDIT_PENDING")
    lose_answers(growsurf, "/ref", "POST")
    # When their conversions are imported
    answer = hub.post(
        "/imports", {"campaign": "demo-growsurf", "operation": "convert", "rows": [{"email": f} for f in friends]}
    )
    assert answer.status_code == 202, answer.text
    job = wait_for(hub, answer.json()["jobId"])
    growsurf.faults.clear()
    # Then every row succeeded once, each friend's trigger was sent once, and the referrer was credited
    # once per friend, though answers were lost
    assert (job["total"], job["succeeded"], job["failed"]) == (ROWS, ROWS, 0), all_failures(hub, job["jobId"])
    triggers = growsurf.requests_to("/ref", "POST")
    assert per(triggers, lambda r: r.path.rsplit("/", 2)[-2]) == Counter({f: 1 for f in friends})
    assert lost(triggers) > 0
    assert {growsurf.participant(f)["referralStatus"] for f in friends} == {"CREDIT_AWARDED"}
    assert growsurf.participant(referrer["id"])["referralCount"] == ROWS


def test_a_growsurf_delete_import_with_lost_answers_removes_each_participant_once(hub: Hub, sandboxes: Sandboxes):
    # Given 60 GrowSurf participants, and a third of the removals' answers lost
    tag = uuid.uuid4().hex[:8]
    growsurf = sandboxes.growsurf
    people = [f"gone-{tag}-{n}@example.com" for n in range(ROWS)]
    for person in people:
        growsurf.seed_participant(person)
    lose_answers(growsurf, "/participant/", "DELETE")
    # When their deletion is imported
    answer = hub.post(
        "/imports",
        {"campaign": "demo-growsurf", "operation": "deleteParticipant", "rows": [{"email": p} for p in people]},
    )
    assert answer.status_code == 202, answer.text
    job = wait_for(hub, answer.json()["jobId"])
    growsurf.faults.clear()
    # Then every row succeeded (none failed as "not found" by its own earlier removal), each removal was
    # sent once, and nobody is left
    assert (job["total"], job["succeeded"], job["failed"]) == (ROWS, ROWS, 0), all_failures(hub, job["jobId"])
    removals = growsurf.requests_to("", "DELETE")
    assert per(removals, lambda r: r.path.rsplit("/", 1)[-1]) == Counter({p: 1 for p in people})
    assert lost(removals) > 0
    assert [p for p in people if held(growsurf, p)] == []


def test_a_sparkloop_add_import_with_lost_answers_creates_each_subscriber_once(hub: Hub, sandboxes: Sandboxes):
    # Given a third of SparkLoop's subscriber creations answered 500 or late after being applied
    tag = uuid.uuid4().hex[:8]
    sparkloop = sandboxes.sparkloop
    people = [f"reader-{tag}-{n}@example.com" for n in range(ROWS)]
    lose_answers(sparkloop, "/subscribers", "POST")
    # When they are imported
    answer = hub.post(
        "/imports",
        {"campaign": "demo-sparkloop", "operation": "addParticipant", "rows": [{"email": p} for p in people]},
    )
    assert answer.status_code == 202, answer.text
    job = wait_for(hub, answer.json()["jobId"])
    sparkloop.faults.clear()
    # Then every row succeeded, each creation was sent once, and each reader is subscribed once
    assert (job["total"], job["succeeded"], job["failed"]) == (ROWS, ROWS, 0), all_failures(hub, job["jobId"])
    creations = sparkloop.requests_to("/subscribers", "POST")
    assert per(creations, lambda r: r.json["email"]) == Counter({p: 1 for p in people})
    assert lost(creations) > 0
    assert all(sparkloop.subscriber(p)["email"] == p for p in people)


def test_a_viral_loops_convert_import_with_lost_answers_converts_each_friend_once(hub: Hub, sandboxes: Sandboxes):
    # Given a referrer with 60 referred friends at Viral Loops, and a third of the converts' answers lost
    tag = uuid.uuid4().hex[:8]
    viral_loops = sandboxes.viral_loops
    referrer = f"ref-{tag}@example.com"
    viral_loops.seed_participant(referrer)
    code = viral_loops.participant(referrer)["referralCode"]
    friends = [f"friend-{tag}-{n}@example.com" for n in range(ROWS)]
    for friend in friends:
        viral_loops.seed_participant(friend, referrer=code)
    lose_answers(viral_loops, "/participant/convert", "POST")
    # When their conversions are imported
    answer = hub.post(
        "/imports", {"campaign": "demo-viral-loops", "operation": "convert", "rows": [{"email": f} for f in friends]}
    )
    assert answer.status_code == 202, answer.text
    job = wait_for(hub, answer.json()["jobId"])
    viral_loops.faults.clear()
    # Then every row succeeded once, each convert was sent once, and the referrer counts each friend once
    assert (job["total"], job["succeeded"], job["failed"]) == (ROWS, ROWS, 0), all_failures(hub, job["jobId"])
    converts = viral_loops.requests_to("/participant/convert", "POST")
    assert per(converts, lambda r: r.json["email"]) == Counter({f: 1 for f in friends})
    assert lost(converts) > 0
    assert viral_loops.participant(referrer)["referralCount"] == ROWS
