"""The referral stats sync (EventBridge schedule): upserts into Loops the contacts whose referral stats
changed since the last run, through the syncContact queue."""

from hub.edge import handlers

lambda_handler = handlers.scheduled("syncReferralStats")
