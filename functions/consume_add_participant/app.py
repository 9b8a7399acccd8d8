"""The addParticipant queue's consumer: each row exactly once, at the provider's rate, with partial batch failures."""

from hub.flows.bulk import consume

lambda_handler = consume("addParticipant")
