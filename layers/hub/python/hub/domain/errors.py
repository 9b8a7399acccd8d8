"""Domain errors of the hub: the codes of SPEC.md's code table, free of any HTTP knowledge.

Provider clients and operations raise these; the API's one exception handler turns them into a status
code and the ``{"error": {...}}`` body, and the SQS consumers decide on them whether a row is retried
or failed. Messages are written for the hub's user and never carry a provider key or secret.
"""

from __future__ import annotations

from typing import Any


class HubError(Exception):
    """Base of every error the hub reports to its user."""

    code = "INTERNAL_ERROR"

    def __init__(self, message: str, *, details: list[dict[str, Any]] | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.details = details or []
        if code is not None:
            self.code = code

    def redacted(self, secrets: tuple[str, ...]) -> HubError:
        """This error with ``secrets`` masked in its message and its details, in place."""
        self.message = redact(self.message, secrets)
        self.args = (self.message,)
        self.details = redact(self.details, secrets)
        return self

    def to_dict(self) -> dict[str, Any]:
        """The SPEC's error body: ``{"error": {"code", "message", "details"}}``."""
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class ValidationError(HubError):
    """A request, a row or a provider answer says an input is missing or invalid."""

    code = "VALIDATION_ERROR"


class MalformedRequest(ValidationError):
    """The request cannot even be read: a body that is not JSON, or not a JSON object."""


class Unauthorized(HubError):
    """No or a wrong API key, or a webhook whose signature or token fails."""

    code = "UNAUTHORIZED"


class NotFound(HubError):
    """Something the caller named does not exist."""

    code = "NOT_FOUND"


class RouteNotFound(NotFound):
    """No route has this method and path."""

    code = "ROUTE_NOT_FOUND"


class MethodNotAllowed(HubError):
    """A path the API has, asked with a method it does not take; ``allowed`` are the ones it takes."""

    code = "METHOD_NOT_ALLOWED"

    def __init__(self, message: str, *, allowed: tuple[str, ...]):
        super().__init__(message)
        self.allowed = allowed


class CampaignNotFound(NotFound):
    code = "CAMPAIGN_NOT_FOUND"


class ParticipantNotFound(NotFound):
    code = "PARTICIPANT_NOT_FOUND"


class RewardNotFound(NotFound):
    code = "REWARD_NOT_FOUND"


class ContactNotFound(NotFound):
    code = "CONTACT_NOT_FOUND"


class JobNotFound(NotFound):
    code = "JOB_NOT_FOUND"


class Conflict(HubError):
    """The request contradicts the provider's state."""

    code = "CONFLICT"


class AlreadyConverted(Conflict):
    code = "ALREADY_CONVERTED"


class NotReferred(Conflict):
    """A convert of a participant nobody referred: there is no referrer to credit."""

    code = "NOT_REFERRED"


class AlreadyRedeemed(Conflict):
    code = "ALREADY_REDEEMED"


class EmailTaken(Conflict):
    code = "EMAIL_TAKEN"


class IdempotencyKeyReused(Conflict):
    code = "IDEMPOTENCY_KEY_REUSED"


class InProgress(Conflict):
    """An identical request is still running; it is worth retrying shortly."""

    code = "REQUEST_IN_PROGRESS"


class ImportTooLarge(HubError):
    """An import request past the rows or the bytes one request may carry (``hub.flows.imports``:
    ``MAX_ROWS``, ``MAX_BODY_BYTES``): nothing was started; the file goes through ``POST /imports/uploads``."""

    code = "IMPORT_TOO_LARGE"


class RateLimited(HubError):
    """The hub, or a provider after the hub's retries, refuses more requests for now."""

    code = "RATE_LIMITED"

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any):
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class ProviderThrottled(RateLimited):
    """A provider answered 429 and kept answering it until the retry budget ran out.

    Bulk consumers treat it as "try this row later", never as the row's failure.
    """


class Unsupported(HubError):
    """The campaign's provider has no such operation."""

    code = "UNSUPPORTED_OPERATION"

    def __init__(self, provider: str, operation: str):
        super().__init__(
            f"{provider} has no '{operation}' operation",
            details=[{"provider": provider, "operation": operation}],
        )
        self.provider = provider
        self.operation = operation


class ProviderError(HubError):
    """The provider answered with an error the hub cannot pass on as the user's fault."""

    code = "PROVIDER_ERROR"


class AnswerLost(ProviderError):
    """A write the provider may have applied lost its answer: a 5xx, a read timeout or a connection
    broken after the request was sent. Sending it again blindly could apply it twice (credit a referral
    or redeem a reward twice), so the HTTP layer does not retry it: the program reads the provider's
    state to tell whether it was applied, and sends it again only if it was not. ``cause`` is the error
    the answer was lost to; a lost answer left unresolved is the provider's failure (``PROVIDER_ERROR``).
    """

    code = "PROVIDER_ERROR"

    def __init__(self, message: str, *, cause: HubError):
        super().__init__(message)
        self.cause = cause


class ProviderAuthFailed(ProviderError):
    """The provider refused the hub's key for it: a configuration problem of the operator's."""

    code = "PROVIDER_AUTH_FAILED"


class ProviderUnavailable(HubError):
    """The provider refused the connection or kept answering 5xx."""

    code = "PROVIDER_UNAVAILABLE"


class ProviderTimeout(HubError):
    """The provider did not answer in time, after the retries."""

    code = "PROVIDER_TIMEOUT"


class QueueUnavailable(HubError):
    """SQS did not take a message (a bulk row, a webhook's contact sync): nothing was queued."""

    code = "QUEUE_ERROR"


class SyncStateUnavailable(HubError):
    """DynamoDB kept a scheduled task's state reads or writes unprocessed: the next run does it again."""

    code = "SYNC_STATE_UNAVAILABLE"


class TimeRanOut(HubError):
    """A scheduled run's time ran out during a campaign: the next run goes on from there."""

    code = "OUT_OF_TIME"


class NotReached(HubError):
    """A scheduled run had no time left for a campaign: the next run does it."""

    code = "NOT_REACHED"


class ConfigurationError(HubError):
    """The hub's own configuration is missing or wrong; raised at cold start, naming the setting."""

    code = "CONFIGURATION_ERROR"


def redact(value: Any, secrets: tuple[str, ...], mask: str = "***") -> Any:
    """``value`` with every occurrence of each secret replaced by ``mask``, in text at any depth of
    dicts and lists (the keys of dicts included): a provider's message may echo a key anywhere."""
    if isinstance(value, str):
        for secret in secrets:
            if secret:
                value = value.replace(secret, mask)
        return value
    if isinstance(value, dict):
        return {redact(key, secrets, mask): redact(item, secrets, mask) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [redact(item, secrets, mask) for item in value]
    return value
