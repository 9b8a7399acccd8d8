"""The referral stats sync (EventBridge schedule): upserts into Loops the contacts whose referral stats
changed since the last run, through the syncContact queue."""

from hub.flows.schedules import scheduled

lambda_handler = scheduled("syncReferralStats")
