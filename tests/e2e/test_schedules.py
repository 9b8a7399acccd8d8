"""The scheduled tasks on the local run, triggered on demand the way a user does (``python -m
local.invoke``): what Loops receives from the referral stats sync and from the pending rewards task.

The tasks walk every campaign, so each test seeds its own participants in the freshly reset
sandboxes; the state the tasks keep (in moto) outlives a test, so each test uses emails of its own.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid

from local.run import Sandboxes
from local.template import ROOT

from .conftest import Hub

SYNC = "SyncReferralStatsFunction"
PENDING = "PendingRewardsFunction"


def run_task(hub: Hub, function: str) -> dict:
    """Run a scheduled task now through the command line; answer what the task returned."""
    done = subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "local.invoke", function, "--url", hub.control_url],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout)["result"]


def wait_for_job(hub: Hub, job_id: str | None, timeout: float = 60) -> None:
    """Wait until the rows a run queued have all been sent to Loops (or failed)."""
    if job_id is None:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = hub.get(f"/imports/{job_id}").json()
        if job["status"] in ("completed", "completedWithErrors"):
            assert job["failed"] == 0, job
            return
        time.sleep(0.3)
    raise AssertionError(f"the run's job did not finish: {job}")


def upserts(sandboxes: Sandboxes) -> list[dict]:
    """The contact upserts Loops answered with success, oldest first."""
    return [r.json for r in sandboxes.loops.requests_to("/contacts/update", "PUT") if r.status == 200]


def campaign(result: dict, name: str) -> dict:
    return next(c for c in result["campaigns"] if c["campaign"] == name)


def seed_referral_campaigns(sandboxes: Sandboxes, tag: str, *, credited: bool = True) -> dict[str, str]:
    """Ada referred Grace at GrowSurf (credited, or still pending); Linus and Kim are SparkLoop
    subscribers, Kim referred by Linus. Answers each email by name."""
    emails = {name: f"{name}-{tag}@example.com" for name in ("ada", "grace", "linus", "kim")}
    growsurf, sparkloop = sandboxes.growsurf, sandboxes.sparkloop
    growsurf.seed_participant(emails["ada"], first_name="Ada", last_name="Lovelace")
    # Pending until triggered, whatever the sandbox's referral trigger (GrowSurf's default depends on it)
    growsurf.seed_participant(
        emails["grace"], first_name="Grace", referrer=emails["ada"], referral_status="CREDIT_PENDING"
    )
    if credited:
        growsurf.trigger(emails["grace"])
    linus = sparkloop.seed_subscriber(emails["linus"], name="Linus Torvalds")
    sparkloop.seed_subscriber(emails["kim"], referrer=linus["ref_code"])
    return emails


def test_a_first_sync_upserts_every_participant_with_its_referral_stats(hub: Hub, sandboxes: Sandboxes):
    # Given two GrowSurf participants (Ada referred Grace) and two SparkLoop subscribers (Linus referred Kim)
    emails = seed_referral_campaigns(sandboxes, uuid.uuid4().hex[:8])
    ada = sandboxes.growsurf.participant(emails["ada"])
    linus = sandboxes.sparkloop.subscriber(emails["linus"])
    # When the referral stats sync runs for the first time
    result = run_task(hub, SYNC)
    wait_for_job(hub, result["jobId"])
    # Then Loops received one upsert per participant, carrying the stats read from the provider
    written = {row["email"]: row for row in upserts(sandboxes)}
    assert set(written) == set(emails.values())
    assert written[emails["ada"]]["firstName"] == "Ada"
    assert written[emails["ada"]]["referralCode"] == ada["id"]
    assert written[emails["ada"]]["referralCount"] == 1
    assert written[emails["ada"]]["referralRank"] == 1
    assert written[emails["ada"]]["referralShareUrl"] == ada["shareUrl"]
    assert written[emails["grace"]]["referredByEmail"] == emails["ada"]
    assert written[emails["linus"]]["referralCount"] == 1
    assert written[emails["kim"]]["referredByCode"] == linus["ref_code"]
    # And the run says what it did, Viral Loops (which cannot list participants) skipped
    assert campaign(result, "demo-growsurf") | {"provider": "growsurf"} == {
        "campaign": "demo-growsurf",
        "provider": "growsurf",
        "read": 2,
        "changed": 2,
        "queued": 2,
        "failed": 0,
    }
    assert campaign(result, "demo-sparkloop")["queued"] == 2
    assert "skipped" in campaign(result, "demo-viral-loops")


def test_a_second_sync_with_nothing_changed_writes_nothing(hub: Hub, sandboxes: Sandboxes):
    # Given participants whose stats a first run synced
    seed_referral_campaigns(sandboxes, uuid.uuid4().hex[:8])
    first = run_task(hub, SYNC)
    wait_for_job(hub, first["jobId"])
    written_before = len(sandboxes.loops.received)
    # When the sync runs again with nothing changed at the providers
    second = run_task(hub, SYNC)
    # Then it read every participant again but queued nothing, and Loops received nothing
    assert second["jobId"] is None
    assert second["totals"]["read"] == 4
    assert second["totals"]["changed"] == second["totals"]["queued"] == 0
    time.sleep(1)
    assert len(sandboxes.loops.received) == written_before


def test_a_participant_changed_at_the_provider_is_the_one_contact_the_next_sync_writes(hub: Hub, sandboxes: Sandboxes):
    # Given Ada, whose referral of Grace is not credited yet, synced by a first run
    emails = seed_referral_campaigns(sandboxes, uuid.uuid4().hex[:8], credited=False)
    first = run_task(hub, SYNC)
    wait_for_job(hub, first["jobId"])
    before = len(upserts(sandboxes))
    # When GrowSurf credits Ada with Grace's referral, and the sync runs again
    sandboxes.growsurf.trigger(emails["grace"])
    second = run_task(hub, SYNC)
    wait_for_job(hub, second["jobId"])
    # Then Loops received exactly one upsert: Ada's, with her new referral count
    new = upserts(sandboxes)[before:]
    assert [row["email"] for row in new] == [emails["ada"]]
    assert new[0]["referralCount"] == 1
    assert second["totals"]["queued"] == 1


def test_a_pending_reward_produces_exactly_one_loops_event_across_three_runs(hub: Hub, sandboxes: Sandboxes):
    # Given Ada, whose credited referral of Grace earned her a reward GrowSurf has not approved yet
    emails = seed_referral_campaigns(sandboxes, uuid.uuid4().hex[:8])
    [reward] = sandboxes.growsurf.rewards_of(emails["ada"])
    assert reward["status"] == "PENDING"
    # When the pending rewards task runs three times, back to back (later runs may find the first
    # run's event still queued)
    results = [run_task(hub, PENDING) for _ in range(3)]
    for result in results:
        wait_for_job(hub, result["jobId"])
    # Then Loops received the reward's event exactly once, for Ada, naming the reward
    events = [e for e in sandboxes.loops.events_named("referralRewardPending") if e.email == emails["ada"]]
    assert len(events) == 1
    assert events[0].event_properties["pendingRewardId"] == reward["id"]
    assert events[0].event_properties["referralCampaign"] == "demo-growsurf"
    # And the reward travelled as eventProperties of events/send, not written onto Ada's contact
    (sent,) = [
        r.json
        for r in sandboxes.loops.requests_to("/events/send", "POST")
        if r.status == 200 and r.json["email"] == emails["ada"] and r.json["eventName"] == "referralRewardPending"
    ]
    assert set(sent) == {"email", "eventName", "eventProperties"}
    assert sent["eventProperties"]["pendingRewardId"] == reward["id"]
    assert "pendingRewardId" not in (sandboxes.loops.stored(emails["ada"]) or {})
    # And the first run queued the two rewards of the double-sided goal (Ada's and Grace's), once each
    grace = [e for e in sandboxes.loops.events_named("referralRewardPending") if e.email == emails["grace"]]
    assert len(grace) == 1
    assert results[0]["totals"]["queued"] == 2
    # And a later run, once the event is sent, queues nothing more
    assert run_task(hub, PENDING)["jobId"] is None
