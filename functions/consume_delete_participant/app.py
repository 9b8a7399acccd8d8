"""The delete participant queue's consumer: each row exactly once, at the provider's rate, with partial
batch failures."""

from hub.edge import handlers

lambda_handler = handlers.queue("deleteParticipant")
