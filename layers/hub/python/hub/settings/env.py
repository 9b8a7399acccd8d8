"""The environment the template gives the functions, as one model: every variable the layer reads is a
field here, with its type, bounds and default, so a wrong value fails naming itself (a
``CONFIGURATION_ERROR``) instead of a ``ValueError`` deep in a call, and a variable a function needs
and does not have is named too (:func:`required`).

:func:`environment` validates the whole of it; :mod:`hub.edge.handlers` calls it as each handler is
built (a cold start), so a stack deployed with a bad value fails its first invocation saying which.
The provider base URL overrides (``GROWSURF_API_URL``...) are the provider registry's
(:mod:`hub.domain.providers`), read by :func:`hub.settings.config.base_url`.
"""

from __future__ import annotations

import os

from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticValidationError

from hub.domain.errors import ConfigurationError


class Environment(BaseModel):
    """Every variable, by its name in the template (a field's alias)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    # Where the configuration document is: a file (the local run, tests) or an SSM parameter.
    hub_config: str | None = Field(default=None, alias="HUB_CONFIG")
    hub_config_parameter: str | None = Field(default=None, alias="HUB_CONFIG_PARAMETER")
    # The stores and the bucket.
    jobs_table: str | None = Field(default=None, alias="JOBS_TABLE")
    idempotency_table: str | None = Field(default=None, alias="IDEMPOTENCY_TABLE")
    sync_state_table: str | None = Field(default=None, alias="SYNC_STATE_TABLE")
    throttle_table: str | None = Field(default=None, alias="THROTTLE_TABLE")
    upload_bucket: str | None = Field(default=None, alias="UPLOAD_BUCKET")
    # Exactly once: how long an Idempotency-Key is remembered, and the natural keys' window.
    idempotency_key_ttl_seconds: int = Field(default=86400, gt=0, alias="IDEMPOTENCY_KEY_TTL_SECONDS")
    dedup_window_seconds: int = Field(default=86400, gt=0, alias="HUB_DEDUP_WINDOW_SECONDS")
    # A bulk row's deliveries before it is failed and dead-lettered (the queue's maxReceiveCount).
    max_receive_count: int = Field(default=5, ge=1, le=1000, alias="MAX_RECEIVE_COUNT")
    # How hard a provider call tries (an API function keeps the budget under API Gateway's 29 s).
    http_attempts: int = Field(default=4, ge=1, le=10, alias="HUB_HTTP_ATTEMPTS")
    http_read_timeout_seconds: float = Field(default=8.0, gt=0, alias="HUB_HTTP_READ_TIMEOUT_SECONDS")
    http_budget_seconds: float = Field(default=20.0, gt=0, alias="HUB_HTTP_BUDGET_SECONDS")
    # The Loops event the pending-rewards task sends.
    pending_reward_event: str | None = Field(default=None, alias="PENDING_REWARD_EVENT")


def environment() -> Environment:
    """The environment as it is now, validated; a wrong value is a :class:`ConfigurationError` naming
    each variable and what is wrong with it. An empty variable counts as unset."""
    names = {info.alias for info in Environment.model_fields.values() if info.alias}
    values = {name: os.environ[name] for name in names if os.environ.get(name)}
    try:
        return Environment.model_validate(values)
    except PydanticValidationError as exc:
        problems = "; ".join(f"{err['loc'][0]}: {err['msg']}" for err in exc.errors())
        raise ConfigurationError(f"invalid environment: {problems}") from None


def required(name: str) -> str:
    """The value of the environment variable ``name``; :class:`ConfigurationError` naming it if it is
    unset or empty."""
    value = os.environ.get(name)
    if not value:
        raise ConfigurationError(f"the environment variable {name} is not set")
    return value
