"""The pending rewards task (EventBridge schedule): one Loops event for each newly pending reward,
exactly once per reward however often it runs."""

from hub.edge import handlers

lambda_handler = handlers.scheduled("pendingRewards")
