"""Configuration: the operator's campaigns, the contact store, provider limits and base URLs.

The campaign document is TOML (``config.example.toml`` at the project root documents every field).
It is read once per cold start from the file named by ``HUB_CONFIG``, or in AWS from the SSM
parameter named by ``HUB_CONFIG_PARAMETER``, and validated by the models below: a missing or wrong
setting fails at cold start with a message naming it.

Provider keys never live in the document itself in AWS: a key is a reference to a Secrets Manager
secret or an SSM SecureString, read through Powertools parameters with a cache. Only a local
configuration may hold a key inline (``value``).
"""

from __future__ import annotations

import json
import os
import tomllib
from functools import lru_cache
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic import ValidationError as PydanticValidationError

from hub.domain.errors import CampaignNotFound, ConfigurationError
from hub.domain.models import Provider, Rate, Window
from hub.domain.providers import PROVIDERS

# Viral Loops documents its pending-rewards and redeem-reward endpoints on another host (SPEC).
VIRAL_LOOPS_REWARDS_URL_ENV = "VIRAL_LOOPS_REWARDS_API_URL"
DEFAULT_VIRAL_LOOPS_REWARDS_URL = "https://api.viral-loops.com/v2"

# The providers' documented limits (SPEC.md, Throttling), from the provider registry.
DEFAULT_RATE_LIMITS: dict[Provider, Rate] = {provider: info.rate_limit for provider, info in PROVIDERS.items()}

SECRET_MAX_AGE_SECONDS = 300


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class KeyRef(_Strict):
    """Where a key lives: exactly one of ``secret``, ``parameter`` or ``value``.

    ``secret`` names a Secrets Manager secret (name or ARN); when the secret is a JSON object,
    ``field`` names the member holding the key. ``parameter`` names an SSM SecureString.
    ``value`` holds the key inline, for a local configuration only.
    """

    secret: str | None = None
    parameter: str | None = None
    value: SecretStr | None = None
    field: str | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> KeyRef:
        given = [name for name in ("secret", "parameter", "value") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError("a key needs exactly one of 'secret', 'parameter' or 'value'")
        if self.field is not None and self.secret is None:
            raise ValueError("'field' only applies to a Secrets Manager 'secret'")
        return self

    def describe(self) -> str:
        """Where the key lives, for messages; never the key itself."""
        if self.secret is not None:
            return f"secret '{self.secret}'"
        if self.parameter is not None:
            return f"parameter '{self.parameter}'"
        return "inline value"


#: The most windows one provider's ``rate_limit`` lists (GrowSurf documents three).
MAX_WINDOWS = 5


class RateLimitConfig(_Strict):
    """One window of a provider's limit: ``requests`` calls in any ``per_seconds`` seconds, and at most
    ``concurrency`` at once (0: no cap)."""

    requests: int = Field(gt=0)
    per_seconds: float = Field(gt=0)
    concurrency: int = Field(default=0, ge=0)


def to_rate(windows: list[RateLimitConfig]) -> Rate:
    """A ``rate_limit``'s windows as the :class:`Rate` every limiter keeps: each window kept, and the
    least ``concurrency`` any window names."""
    first, *more = windows
    caps = [window.concurrency for window in (first, *more) if window.concurrency]
    return Rate(
        first.requests,
        first.per_seconds,
        min(caps, default=0),
        tuple(Window(window.requests, window.per_seconds) for window in more),
    )


class ProviderConfig(_Strict):
    """Per-provider settings the operator may change; unset ones take the documented defaults."""

    #: One window, or a list of windows every one of which is kept (SPEC, Configuration); one window is
    #: read as a list of one, so an error names it as ``rate_limit.0``.
    rate_limit: Annotated[list[RateLimitConfig], Field(min_length=1, max_length=MAX_WINDOWS)] | None = None

    @field_validator("rate_limit", mode="before")
    @classmethod
    def _one_window(cls, value: Any) -> Any:
        return [value] if isinstance(value, dict) else value


class CampaignConfig(_Strict):
    """One referral campaign, named by the operator."""

    provider: Literal[Provider.VIRAL_LOOPS, Provider.GROWSURF, Provider.SPARKLOOP]
    campaign_id: str = Field(min_length=1)
    key: KeyRef
    webhook_secret: KeyRef | None = None
    #: When a referred participant's referrer is credited: at the hub's convert (the default) or at
    #: sign-up. GrowSurf's own default depends on the campaign's referral trigger, which the hub cannot
    #: see, so the hub always says which (SPEC, Configuration).
    credit_referrals: Literal["on_conversion", "on_signup"] = "on_conversion"


class ContactsConfig(_Strict):
    """The contact store the hub keeps in step with the referral program."""

    provider: Literal[Provider.LOOPS] = Provider.LOOPS
    key: KeyRef


class HubConfig(_Strict):
    """The whole configuration document."""

    campaigns: dict[str, CampaignConfig] = Field(default_factory=dict)
    contacts: ContactsConfig | None = None
    providers: dict[Provider, ProviderConfig] = Field(default_factory=dict)

    @field_validator("campaigns")
    @classmethod
    def _names(cls, campaigns: dict[str, CampaignConfig]) -> dict[str, CampaignConfig]:
        for name in campaigns:
            if not name or "/" in name or name != name.strip():
                raise ValueError(f"campaign name '{name}' must be non-empty, without '/' or surrounding spaces")
        return campaigns

    def campaign(self, name: str) -> CampaignConfig:
        """The campaign called ``name``, or :class:`CampaignNotFound`."""
        try:
            return self.campaigns[name]
        except KeyError:
            raise CampaignNotFound(f"no campaign named '{name}' is configured") from None

    def rate(self, provider: Provider) -> Rate:
        """The rate limit in force for ``provider``: the configured one, else the documented one."""
        configured = self.providers.get(provider)
        if configured is not None and configured.rate_limit is not None:
            return to_rate(configured.rate_limit)
        return DEFAULT_RATE_LIMITS[provider]


def base_url(provider: Provider) -> str:
    """The provider's base URL up to its API version: the override from the environment, else the real one."""
    info = PROVIDERS[provider]
    return os.environ.get(info.base_url_env) or info.base_url


def viral_loops_rewards_url() -> str:
    """Viral Loops' rewards base URL up to its API version (``VIRAL_LOOPS_REWARDS_API_URL``, else the real one)."""
    return os.environ.get(VIRAL_LOOPS_REWARDS_URL_ENV) or DEFAULT_VIRAL_LOOPS_REWARDS_URL


def parse_config(text: str, source: str) -> HubConfig:
    """Validate a configuration document (TOML, or JSON when it starts with ``{``)."""
    try:
        data: Any = json.loads(text) if text.lstrip().startswith("{") else tomllib.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise ConfigurationError(f"configuration {source} is not valid TOML or JSON: {exc}") from None
    try:
        return HubConfig.model_validate(data)
    except PydanticValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(document)'}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigurationError(f"configuration {source} is invalid: {problems}") from None


@lru_cache(maxsize=1)
def load_config() -> HubConfig:
    """The configuration of this process, read once: ``HUB_CONFIG`` (a file) or ``HUB_CONFIG_PARAMETER`` (SSM)."""
    path = os.environ.get("HUB_CONFIG")
    if path:
        try:
            with open(path, encoding="utf-8") as handle:
                return parse_config(handle.read(), f"file '{path}'")
        except OSError as exc:
            raise ConfigurationError(f"HUB_CONFIG names '{path}', which cannot be read: {exc.strerror}") from None
    parameter = os.environ.get("HUB_CONFIG_PARAMETER")
    if parameter:
        from aws_lambda_powertools.utilities import parameters

        try:
            text = parameters.get_parameter(parameter, decrypt=True, max_age=SECRET_MAX_AGE_SECONDS)
        except parameters.exceptions.GetParameterError:
            raise ConfigurationError(
                f"HUB_CONFIG_PARAMETER names parameter '{parameter}', which cannot be read"
            ) from None
        return parse_config(str(text), f"parameter '{parameter}'")
    raise ConfigurationError("no configuration: set HUB_CONFIG (a file) or HUB_CONFIG_PARAMETER (an SSM parameter)")


def resolve_key(ref: KeyRef) -> str:
    """The key itself, from where ``ref`` says it lives (cached by Powertools for a few minutes).

    Surrounding white space is stripped (``--secret-string file://key.txt`` stores the file's last
    line break with the key). What cannot be a key is refused with a :class:`ConfigurationError` that
    says where the key lives and what is wrong, never what it holds: an empty key, one with white space
    or control characters inside, a JSON secret without the named field or with ``null`` there, and a
    JSON object stored where a plain key was expected.
    """
    if ref.value is not None:
        return checked_key(ref.value.get_secret_value(), ref)
    text = _text(_fetch(ref), ref)
    if ref.field is None:
        return _plain_key(text, ref)
    return _field_key(text, ref, ref.field)


def _fetch(ref: KeyRef) -> Any:
    """What the SSM parameter or the secret ``ref`` names holds, as Powertools hands it back."""
    from aws_lambda_powertools.utilities import parameters

    try:
        if ref.parameter is not None:
            return parameters.get_parameter(ref.parameter, decrypt=True, max_age=SECRET_MAX_AGE_SECONDS)
        assert ref.secret is not None
        return parameters.get_secret(ref.secret, max_age=SECRET_MAX_AGE_SECONDS)
    # Powertools turns the SDK's errors into GetParameterError, but not those of making its client (no
    # region, no credentials): either way the key cannot be read, and the answer names where it lives.
    except Exception:
        raise ConfigurationError(f"the key in {ref.describe()} cannot be read") from None


def _plain_key(text: str, ref: KeyRef) -> str:
    """The key stored alone; a JSON object there means the reference lacks its ``field``."""
    if text.strip().startswith("{"):
        raise ConfigurationError(
            f"{ref.describe()} holds a JSON object, not a key: name the member holding the key with 'field'"
        )
    return checked_key(text, ref)


def _field_key(text: str, ref: KeyRef, field: str) -> str:
    """The key stored as the member ``field`` of a JSON object."""
    try:
        document = json.loads(text)
    except (ValueError, RecursionError):
        raise ConfigurationError(f"{ref.describe()} is not a JSON object, so it has no field '{field}'") from None
    if not isinstance(document, dict) or field not in document:
        raise ConfigurationError(f"{ref.describe()} has no JSON field '{field}'")
    value = document[field]
    if not isinstance(value, str):
        kind = "null" if value is None else "not text"
        raise ConfigurationError(f"the JSON field '{field}' of {ref.describe()} is {kind}, not a key")
    return checked_key(value, ref, where=f"the JSON field '{field}' of {ref.describe()}")


def checked_key(value: str, ref: KeyRef, *, where: str | None = None) -> str:
    """``value`` without surrounding white space, if it can be a key; else a :class:`ConfigurationError`
    naming where it lives (``where``, else ``ref.describe()``) and what is wrong, never the value.

    A key goes into an HTTP header, which takes printable ASCII only: anything else would make the
    HTTP library fail with the header, key included, in its message.
    """
    place = where or ref.describe()
    key = value.strip()
    if not key:
        raise ConfigurationError(f"the key in {place} is empty")
    if any(char.isspace() for char in key):
        raise ConfigurationError(f"the key in {place} has white space inside it; store the key alone, on one line")
    if not (key.isascii() and key.isprintable()):
        raise ConfigurationError(f"the key in {place} holds characters other than printable ASCII")
    return key


def _text(raw: Any, ref: KeyRef) -> str:
    """A secret's value as text: Secrets Manager hands a binary secret back as bytes."""
    if isinstance(raw, bytes | bytearray):
        try:
            return bytes(raw).decode("utf-8")
        except UnicodeDecodeError:
            raise ConfigurationError(f"the key in {ref.describe()} is not UTF-8 text") from None
    if not isinstance(raw, str):
        raise ConfigurationError(f"the key in {ref.describe()} is not text")
    return raw


class RuntimeSettings(_Strict):
    """How hard a provider call tries, from the environment (a function's timeout bounds it).

    ``HUB_HTTP_ATTEMPTS``, ``HUB_HTTP_READ_TIMEOUT_SECONDS``, ``HUB_HTTP_BUDGET_SECONDS``: an API
    function keeps the budget under API Gateway's 29 seconds; a queue consumer may allow more.
    """

    attempts: int = Field(default=4, ge=1, le=10)
    read_timeout: float = Field(default=8.0, gt=0)
    budget: float = Field(default=20.0, gt=0)

    @classmethod
    def from_env(cls) -> RuntimeSettings:
        from hub.settings.env import environment

        variables = environment()
        return cls(
            attempts=variables.http_attempts,
            read_timeout=variables.http_read_timeout_seconds,
            budget=variables.http_budget_seconds,
        )
