"""HTTP plumbing shared by every provider client.

One :class:`ProviderHttp` per client: one ``requests.Session`` (connections reused across warm
invocations), explicit connect and read timeouts, and a retry loop with exponential backoff and full
jitter on 429, 5xx, connection errors and timeouts. urllib3's ``Retry`` covers much of that, but it
retries inside the connection pool where the rate limiter cannot see the attempts, and it knows
nothing of GrowSurf's ``GrowSurf-Retry-After-*-Milliseconds`` headers; so the loop is here, and it
reuses urllib3's parser for the standard ``Retry-After`` header.

A 4xx other than 429 is never retried: it is handed to the client's error mapper, which turns the
provider's documented error into a domain error.

A call marked non-idempotent (``request(..., idempotent=False)``: a write the provider would apply
twice, such as crediting a referral or redeeming a reward) is retried only where the provider cannot
have applied it: a 429, and a connection that was never made (refused, connect timeout). A 5xx, a read
timeout or a connection broken after the request was sent may come after the provider did the work,
so the call raises :class:`~hub.domain.errors.AnswerLost` at once instead, and the program reads the
provider's state to tell (:func:`reconcile_write`). URLs are logged without their query string, since
some providers take a key there, and no header is ever logged.

Every call publishes its metrics (calls, latency, 429s waited, errors by code) through
:mod:`hub.runtime.observability`, attributed to the provider and to the hub operation it is made for.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import requests
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, NewConnectionError
from urllib3.util.retry import Retry

from hub.domain.errors import (
    AnswerLost,
    ConfigurationError,
    Conflict,
    HubError,
    NotFound,
    ProviderAuthFailed,
    ProviderError,
    ProviderThrottled,
    ProviderTimeout,
    ProviderUnavailable,
    RateLimited,
    ValidationError,
)
from hub.providers.ratelimit.local import RateLimiter, Unlimited
from hub.runtime import observability

logger = observability.logger

USER_AGENT = "referral-hub/1.0"
_GROWSURF_RETRY_HEADER = re.compile(r"^growsurf-retry-after-.*-milliseconds$", re.IGNORECASE)


@dataclass(frozen=True)
class RetryPolicy:
    """How hard one call tries.

    ``attempts`` counts the first try. ``budget`` bounds the whole call in seconds (waits and
    attempts together): no retry starts that could not finish within it, so a caller behind API
    Gateway answers in bounded time. A provider asking for a wait longer than ``max_retry_after`` is
    not waited for within the call; the caller gets :class:`ProviderThrottled` with that wait.
    """

    attempts: int = 4
    backoff_base: float = 0.2
    backoff_max: float = 4.0
    max_retry_after: float = 10.0
    budget: float = 25.0
    connect_timeout: float = 3.05
    read_timeout: float = 8.0


@dataclass(frozen=True)
class ProviderResponse:
    """What an error mapper gets: the status and the parsed body (a dict, a list, text or None)."""

    status: int
    body: Any
    headers: Mapping[str, str]

    @property
    def message(self) -> str:
        """The provider's own error text, from the fields providers use for it."""
        body = self.body
        if isinstance(body, dict):
            for field in ("error", "message", "detail", "msg"):
                value = body.get(field)
                if isinstance(value, str) and value:
                    return value
                if isinstance(value, dict) and isinstance(value.get("message"), str):
                    return str(value["message"])
        if isinstance(body, str) and body.strip():
            return body.strip()[:300]
        return f"HTTP {self.status}"


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """The wait a provider asks for: ``Retry-After`` (seconds or HTTP date) or GrowSurf's headers.

    GrowSurf answers a 429 with one ``GrowSurf-Retry-After-<window>-Milliseconds`` header per limit
    window it counts (per 5 s, per minute, per hour); the longest of them is the one that matters.
    """
    waits: list[float] = []
    for name, value in headers.items():
        if _GROWSURF_RETRY_HEADER.match(name):
            try:
                waits.append(float(value) / 1000.0)
            except ValueError:
                continue
    if waits:
        return max(0.0, max(waits))
    header = headers.get("Retry-After")
    if header is None:
        return None
    try:
        return max(0.0, Retry().parse_retry_after(header))
    except Exception:  # urllib3 raises InvalidHeader on garbage; a garbage header means "no advice"
        return None


def default_error(provider: str, response: ProviderResponse) -> HubError:
    """The mapping every provider shares; clients refine it with their documented errors."""
    status, message = response.status, response.message
    if status in (400, 422):
        return ValidationError(f"{provider} rejected the request: {message}")
    if status in (401, 403):
        return ProviderAuthFailed(f"{provider} refused the hub's API key for this campaign; check its configuration")
    if status == 404:
        return NotFound(f"{provider}: {message}")
    if status == 409:
        return Conflict(f"{provider}: {message}")
    return ProviderError(f"{provider} answered HTTP {status}: {message}")


ErrorMapper = Callable[[ProviderResponse], HubError]


@dataclass
class _Tally:
    """What one call counts across its attempts, for its metrics."""

    throttled: int = 0


@dataclass(frozen=True)
class _Call:
    """What every attempt of one call sends, and when the call started (its budget counts from then)."""

    method: str
    path: str
    url: str
    params: Mapping[str, Any] | None
    json: Any
    headers: Mapping[str, str] | None
    started: float
    idempotent: bool = True


@dataclass(frozen=True)
class _Retryable:
    """An attempt that failed in a way another attempt may mend: the error to raise if none does, and
    the wait the provider asked for (None: back off)."""

    error: HubError
    wait: float | None = None


class ProviderHttp:
    """Calls one provider's API: base URL, auth headers, timeouts, retries, rate limit, error mapping."""

    def __init__(
        self,
        provider: str,
        base_url: str,
        *,
        headers: Mapping[str, str],
        error_mapper: ErrorMapper | None = None,
        limiter: RateLimiter | None = None,
        policy: RetryPolicy | None = None,
        secrets: tuple[str, ...] = (),
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.provider = provider
        self._secrets = tuple(secret for secret in secrets if secret)
        self.base_url = base_url.rstrip("/")
        self.limiter = limiter or Unlimited()
        self.policy = policy or RetryPolicy()
        self._error_mapper = error_mapper or (lambda response: default_error(provider, response))
        self._sleep = sleep
        self.session = requests.Session()
        self.session.headers.update(
            {"Accept": "application/json", "User-Agent": USER_AGENT, **dict(headers)},
        )

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool = True,
    ) -> Any:
        """Send one call, retrying what is worth retrying; return the parsed JSON body (or None).

        ``idempotent=False`` marks a write the provider would apply twice: a 5xx or a read timeout
        after the request was sent raises :class:`~hub.domain.errors.AnswerLost` instead of a retry
        (a 429 and a connection never made are still retried).

        The call's metrics are published however it ends: its latency covers every attempt and wait,
        and an error is counted by the hub's code for it.
        """
        started = time.monotonic()
        tally = _Tally()
        error_code: str | None = None
        try:
            call = _Call(method, path, f"{self.base_url}{path}", params, json, headers, started, idempotent)
            return self._send(call, tally)
        except HubError as exc:
            error_code = exc.code
            raise
        except Exception:
            error_code = HubError.code
            raise
        finally:
            observability.provider_call(
                self.provider,
                latency_ms=round((time.monotonic() - started) * 1000, 1),
                throttled=tally.throttled,
                error_code=error_code,
            )

    def _send(self, call: _Call, tally: _Tally) -> Any:
        failure: _Retryable | None = None
        for attempt in range(1, self.policy.attempts + 1):
            outcome = self._try(call, attempt, tally)
            if not isinstance(outcome, _Retryable):
                return _parse(self.provider, outcome)
            failure = outcome
            self._log_failure(call, attempt, failure.error)
            delay = self._retry_delay(call, attempt, failure.wait)
            if delay is None:
                break
            self._sleep(delay)
        assert failure is not None
        raise failure.error

    def _try(self, call: _Call, attempt: int, tally: _Tally) -> requests.Response | _Retryable:
        """One attempt within the call's budget: a successful answer, or a failure another attempt may
        mend; any other failure is raised."""
        remaining = self.policy.budget - (time.monotonic() - call.started)
        try:
            with self.limiter.slot(max_wait=max(0.0, remaining)):
                response = self._attempt(call.method, call.url, call.params, call.json, call.headers)
        except RateLimited as exc:
            # The hub's own limiter could not give a slot within the call's budget.
            raise ProviderThrottled(exc.message, retry_after=exc.retry_after) from None
        if isinstance(response, _Unsent):
            return self._unanswered(call, response)
        self._log(call.method, call.path, response.status_code, attempt, call.started)
        if response.status_code < 400:
            return response
        if response.status_code == 429:
            return self._throttled(call, response, tally)
        if response.status_code >= 500:
            return self._unless_lost(call, self._server_failed(response))
        parsed = ProviderResponse(response.status_code, _body(response), response.headers)
        raise self._redact(self._error_mapper(parsed))

    def _unanswered(self, call: _Call, unsent: _Unsent) -> _Retryable:
        """An attempt without an answer: retried if another attempt may mend it and, for a write that
        is not idempotent, only if the request never reached the provider."""
        if not unsent.retry:
            raise unsent.error
        if unsent.reached:
            return self._unless_lost(call, _Retryable(unsent.error))
        return _Retryable(unsent.error)

    def _unless_lost(self, call: _Call, failure: _Retryable) -> _Retryable:
        """``failure``, to retry; for a non-idempotent write, whose provider may have applied it,
        :class:`AnswerLost` raised instead: another attempt could apply it twice."""
        if call.idempotent:
            return failure
        logger.warning(
            "provider answer lost",
            extra={
                "provider": self.provider,
                "method": call.method,
                "path": call.path,
                "errorCode": failure.error.code,
            },
        )
        raise AnswerLost(
            f"{self.provider} may have applied the request, but its answer was lost ({failure.error.message})",
            cause=failure.error,
        )

    def _throttled(self, call: _Call, response: requests.Response, tally: _Tally) -> _Retryable:
        """A 429: waited for as the provider asks, unless it asks for longer than the policy allows."""
        tally.throttled += 1
        wait = retry_after_seconds(response.headers)
        failure = ProviderThrottled(
            f"{self.provider} is rate limiting the hub; try again shortly",
            retry_after=wait if wait is not None else self.policy.backoff_max,
        )
        logger.info(
            "provider rate limited the hub",
            extra={"provider": self.provider, "method": call.method, "path": call.path, "retryAfter": wait},
        )
        if wait is not None and wait > self.policy.max_retry_after:
            raise failure
        return _Retryable(failure, wait)

    def _server_failed(self, response: requests.Response) -> _Retryable:
        """A 5xx; only a 503's ``Retry-After`` says how long the provider expects to be away."""
        if response.status_code == 503:
            wait = retry_after_seconds(response.headers)
            return _Retryable(ProviderUnavailable(f"{self.provider} is unavailable (HTTP 503)"), wait)
        return _Retryable(ProviderError(f"{self.provider} failed with HTTP {response.status_code}"))

    def _log_failure(self, call: _Call, attempt: int, error: HubError) -> None:
        # A 429 has been logged already, with the wait the provider asked for.
        if isinstance(error, ProviderThrottled):
            return
        logger.warning(
            "provider call failed",
            extra={
                "provider": self.provider,
                "method": call.method,
                "path": call.path,
                "attempt": attempt,
                "errorCode": error.code,
            },
        )

    def _retry_delay(self, call: _Call, attempt: int, wait: float | None) -> float | None:
        """How long to wait before the next attempt (the provider's wait, else a backoff); None when
        this was the last attempt or the next one could not finish within the budget."""
        policy = self.policy
        if attempt == policy.attempts:
            return None
        delay = wait if wait is not None else self._backoff(attempt)
        elapsed = time.monotonic() - call.started
        if elapsed + delay + policy.connect_timeout >= policy.budget:
            return None
        return delay

    def _attempt(
        self,
        method: str,
        url: str,
        params: Mapping[str, Any] | None,
        json: Any,
        headers: Mapping[str, str] | None,
    ) -> requests.Response | _Unsent:
        """One attempt: the provider's answer, or why it could not be had.

        Every exception of ``requests`` becomes a domain error with a fixed message, made after the
        ``except`` block has ended: the exception's text may hold a header (``InvalidHeader`` quotes the
        ``Authorization`` value, key included) or a URL with a key in its query, and an error raised
        inside the block would carry it along as its context, into tracebacks and traces.
        """
        outcome: _Unsent | None = None
        try:
            return self.session.request(
                method,
                url,
                params=_clean(params),
                json=json,
                headers=dict(headers) if headers else None,
                timeout=(self.policy.connect_timeout, self.policy.read_timeout),
            )
        except requests.RequestException as exc:
            outcome = _unsent(self.provider, self.policy, exc)
        except (UnicodeError, ValueError):
            # http.client encodes header values as Latin-1 and urllib3 checks URLs: a key or base URL
            # it cannot send fails here, before any byte leaves.
            outcome = _Unsent(_unsendable(self.provider), retry=False)
        return outcome

    def _redact(self, error: HubError) -> HubError:
        """A provider echoing the key back in an error must not carry it into the hub's answer,
        in the message or in the details (where a client may copy the provider's own words)."""
        return error.redacted(self._secrets)

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with full jitter (AWS Architecture Blog, "Exponential Backoff and Jitter")."""
        return random.uniform(0, min(self.policy.backoff_max, self.policy.backoff_base * 2 ** (attempt - 1)))

    def _log(self, method: str, path: str, status: int, attempt: int, started: float) -> None:
        logger.debug(
            "provider call",
            extra={
                "provider": self.provider,
                "method": method,
                "path": path,
                "status": status,
                "attempt": attempt,
                "elapsedMs": round((time.monotonic() - started) * 1000, 1),
            },
        )


@dataclass(frozen=True)
class _Unsent:
    """An attempt that got no answer: the error to report, whether another attempt may help, and
    whether the request may have reached the provider (False only for a connection never made)."""

    error: HubError
    retry: bool
    reached: bool = False


#: What ``requests`` raises before sending for a header (a key) or a base URL it cannot use.
_UNSENDABLE = (
    requests.exceptions.InvalidHeader,
    requests.exceptions.InvalidURL,
    requests.exceptions.URLRequired,
    requests.exceptions.InvalidSchema,
    requests.exceptions.MissingSchema,
)


def _unsendable(provider: str) -> ConfigurationError:
    return ConfigurationError(
        f"the request to {provider} cannot be sent: its key holds characters no HTTP header may carry,"
        " or its base URL is invalid; check the key's configuration (hub doctor names it) and the base URL"
    )


def _unsent(provider: str, policy: RetryPolicy, exc: requests.RequestException) -> _Unsent:
    """The domain error for an exception of ``requests``; never its text (see ``_attempt``)."""
    if isinstance(exc, requests.exceptions.InvalidJSONError):
        # A value JSON cannot carry (NaN, Infinity) that got past validation: the caller's input.
        return _Unsent(
            ValidationError(f"the request to {provider} holds a number JSON cannot carry (NaN or Infinity)"),
            retry=False,
        )
    if isinstance(exc, _UNSENDABLE):
        return _Unsent(_unsendable(provider), retry=False)
    if isinstance(exc, requests.Timeout):
        return _Unsent(
            ProviderTimeout(f"{provider} did not answer within {policy.read_timeout:g}s"),
            retry=True,
            reached=not isinstance(exc, requests.exceptions.ConnectTimeout),
        )
    if isinstance(exc, requests.exceptions.SSLError):
        # A certificate or TLS failure does not clear within a call.
        return _Unsent(ProviderUnavailable(f"{provider} could not be reached over TLS"), retry=False)
    if isinstance(exc, requests.ConnectionError):
        return _Unsent(ProviderUnavailable(f"{provider} could not be reached"), retry=True, reached=_reached(exc))
    if isinstance(exc, requests.exceptions.ChunkedEncodingError | requests.exceptions.ContentDecodingError):
        return _Unsent(
            ProviderError(f"{provider} sent an answer that broke off or cannot be decoded"), retry=True, reached=True
        )
    if isinstance(exc, requests.TooManyRedirects):
        return _Unsent(ProviderError(f"{provider} redirected the hub too many times"), retry=False)
    return _Unsent(ProviderError(f"the call to {provider} failed before an answer was read"), retry=False)


def _reached(exc: requests.ConnectionError) -> bool:
    """Whether a connection error may have come after the request was sent: anything but a connection
    that was never made (refused, unresolvable, connect timeout), which urllib3 reports wrapped."""
    reason = exc.args[0] if exc.args else None
    if isinstance(reason, MaxRetryError):
        reason = reason.reason
    return not isinstance(reason, NewConnectionError | ConnectTimeoutError)


T = TypeVar("T")


def reconcile_write(
    write: Callable[[], T],
    applied: Callable[[], bool],
    *,
    already: tuple[type[HubError], ...] = (),
) -> T | None:
    """Send a non-idempotent ``write`` whose lost answer is reconciled, not retried blindly.

    When the write's answer is lost (:class:`AnswerLost`), ``applied`` reads the provider's state: if it
    shows the write done, the write succeeded and None is answered (its own answer is gone: the caller
    answers from the state it reads). If not, the write is sent once more, which is safe then. That
    second send is resolved the same way: an error in ``already`` (the provider's documented "already
    done", met right after an attempt whose answer was lost) is the first attempt's success; another
    lost answer, a refusal (:class:`Conflict`, :class:`ValidationError`: the provider may refuse
    what was done already without saying so) or a :class:`NotFound` (what the write changes is gone:
    a delete done, a participant renamed) is read back once more, and raised unless the state shows
    the write done. An error of ``applied`` itself is raised as it is: the operation failed as a
    whole and is tried again later (a bulk row by SQS), where the same reconciliation runs.
    """
    try:
        return write()
    except AnswerLost:
        if applied():
            return None
    try:
        return write()
    except already:
        return None
    except (AnswerLost, Conflict, ValidationError, NotFound):
        if applied():
            return None
        raise


def found(read: Callable[[], object]) -> bool:
    """Whether ``read`` finds what it reads (False on :class:`NotFound`): the read-back of a write that
    adds or removes something, for :func:`reconcile_write`."""
    try:
        read()
    except NotFound:
        return False
    return True


def _clean(params: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Drop unset query parameters; render booleans the way the providers document them."""
    if not params:
        return None
    return {k: (str(v).lower() if isinstance(v, bool) else v) for k, v in params.items() if v is not None}


def _body(response: requests.Response) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return response.text


def _parse(provider: str, response: requests.Response) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        raise ProviderError(f"{provider} answered with a body that is not JSON") from None
