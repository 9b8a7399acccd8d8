"""The scheduled tasks' change detection: what a contact's fingerprint covers, and which rows a run
queues given the fingerprints it finds."""

from __future__ import annotations

from hub.aws.sync_state import reward_key, stats_key
from hub.domain.models import Participant, Provider, ReferrerRef, Reward, RewardStatus
from hub.flows.schedules import changes, fingerprint, reward_action_key, reward_row, stats_row


def ada(**changed) -> Participant:
    fields = {
        "id": "p-ada",
        "email": "ada@example.com",
        "first_name": "Ada",
        "referral_code": "ada1",
        "share_url": "https://example.com/?ref=ada1",
        "referral_count": 2,
        "rank": 1,
        "referrer": ReferrerRef(email="grace@example.com", referral_code="grace1"),
        "campaign": "spring",
        "provider": Provider.GROWSURF,
        "provider_data": {"raw": True},
    }
    return Participant(**{**fields, **changed})


def test_a_row_has_the_same_fingerprint_whatever_the_order_of_its_fields():
    # Given one row written with its fields in two orders
    row = stats_row(ada())
    reordered = {key: row[key] for key in reversed(list(row))}
    reordered["properties"] = {key: row["properties"][key] for key in reversed(list(row["properties"]))}
    # Then both have the same fingerprint
    assert fingerprint(reordered) == fingerprint(row)


def test_a_change_of_any_referral_stat_changes_the_fingerprint():
    # Given a participant's row, and the same participant with one stat changed each time
    before = fingerprint(stats_row(ada()))
    variants = [
        ada(referral_count=3),
        ada(rank=2),
        ada(referral_code="ada2"),
        ada(share_url="https://example.com/?ref=ada2"),
        ada(referrer=None),
        ada(first_name="Augusta"),
    ]
    # Then each variant has a fingerprint of its own
    digests = {fingerprint(stats_row(variant)) for variant in variants}
    assert before not in digests
    assert len(digests) == len(variants)


def test_the_providers_own_fields_are_not_part_of_the_row():
    # Given the same participant as two provider answers that differ outside the referral stats
    first, second = ada(provider_data={"updatedAt": 1}), ada(provider_data={"updatedAt": 2})
    # Then the rows, and so the fingerprints, are the same: nothing to write
    assert fingerprint(stats_row(first)) == fingerprint(stats_row(second))


def test_the_row_carries_the_referral_stats_and_leaves_unknown_ones_out():
    # Given a participant whose provider gives no rank and no referrer (SparkLoop)
    row = stats_row(ada(rank=None, referrer=None, last_name=None))
    # Then the row sets what is known and leaves the rest out (not cleared on the contact)
    assert row == {
        "email": "ada@example.com",
        "firstName": "Ada",
        "properties": {
            "referralCampaign": "spring",
            "referralCode": "ada1",
            "referralShareUrl": "https://example.com/?ref=ada1",
            "referralCount": 2,
        },
    }


def test_only_rows_whose_fingerprint_differs_or_is_missing_are_changes():
    # Given three contacts: one as last synced, one changed since, one never synced
    same, changed, new = stats_row(ada()), stats_row(ada(rank=5)), stats_row(ada(email="new@example.com"))
    rows = {"k-same": same, "k-changed": changed, "k-new": new}
    known = {"k-same": fingerprint(same), "k-changed": fingerprint(stats_row(ada()))}
    # When the changes are computed
    found = changes(rows, known)
    # Then the changed and the new contacts are, with their new fingerprints
    assert found == {"k-changed": fingerprint(changed), "k-new": fingerprint(new)}


def test_a_contacts_state_key_ignores_the_case_of_its_email():
    # Given the same email as two providers may spell it
    # Then both name one state item, per campaign
    assert stats_key("spring", "Ada@Example.com ") == stats_key("spring", "ada@example.com")
    assert stats_key("spring", "ada@example.com") != stats_key("autumn", "ada@example.com")


def test_a_rewards_announcement_is_named_the_same_by_every_run():
    # Given a pending reward, read by two runs (its status moved on in between)
    reward = Reward(id="rw1", reward_id="r1", status=RewardStatus.PENDING, description="A mug")
    later = reward.model_copy(update={"status": RewardStatus.APPROVED})
    # Then its stable key and its state item do not depend on the run or the reward's status
    assert reward_action_key("spring", reward.id) == reward_action_key("spring", later.id) == "reward#spring#rw1"
    assert reward_key("spring", reward.id) == reward_key("spring", later.id)
    # And the row is the Loops event, naming the reward
    row = reward_row(ada(), reward, "referralRewardPending")
    assert row["event"] == {
        "name": "referralRewardPending",
        "properties": {
            "referralCampaign": "spring",
            "pendingRewardId": "rw1",
            "pendingRewardStatus": "pending",
            "pendingRewardDescription": "A mug",
        },
    }
