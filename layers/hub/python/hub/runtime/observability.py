"""What the hub tells its operator: one structured logger for the whole layer, the hub operation the
current work is done for, and the CloudWatch metrics (EMF) of provider calls and API errors.

- Logs: every module of the layer logs through :data:`logger`, one Powertools ``Logger``. Powertools
  loggers of one service share their handler and formatter, so the correlation id the API entry point
  sets is on every line written during the request, the provider call lines of :mod:`hub.providers.http`
  included. :func:`bound` also puts it (and the operation) among the formatter's per-thread keys,
  which win over the shared ones: where invocations share a process on several threads, as in the
  local run, a line never carries another request's id.
- Metrics: Powertools ``Metrics`` holds one dimension set per invocation, flushed by ``log_metrics``;
  provider calls need others (provider, operation, error code), so each call publishes its own EMF
  object (``EphemeralMetrics``, never shared between threads) at once. Nothing is held in memory, and
  nothing is lost when a handler never flushes (a scheduled task, a crash).
- The operation is a context variable set by the API entry point (from the route) and by the bulk
  consumer (from the row), and read where a provider call is made, so no client needs a parameter.

Metric names, units and dimensions are documented in docs/observability.md; a test holds the two
together. Publishing a metric never fails the work it measures.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit
from aws_lambda_powertools.metrics.functions import is_metrics_disabled

#: The layer's one logger: service, level and output from the POWERTOOLS_* environment.
logger = Logger()
# The invocation's metrics (one dimension set, flushed by the handler's ``log_metrics``): Powertools
# ``Metrics`` instances share what is added, so the handler's own instance (:mod:`hub.edge.handlers`,
# made when the namespace is known) flushes what any module counts here.
_invocation = Metrics()

#: The operation of work done outside any API request or bulk row (e.g. a scheduled task that names none).
UNATTRIBUTED = "other"

# Names as published; docs/observability.md documents each one.
PROVIDER_CALLS = "ProviderCalls"
PROVIDER_LATENCY = "ProviderLatency"
PROVIDER_THROTTLED = "ProviderThrottled"
PROVIDER_ERRORS = "ProviderErrors"
API_ERRORS = "ApiErrors"

_operation: contextvars.ContextVar[str] = contextvars.ContextVar("hub_operation", default=UNATTRIBUTED)


def current_operation() -> str:
    """The hub operation the current work is done for (``other`` outside any)."""
    return _operation.get()


def bulk_operation(operation: str) -> str:
    """How a bulk row's operation is named in metrics and logs: apart from the same API operation,
    since rows run at the provider's limit and their calls behave differently."""
    return f"bulk.{operation}"


@contextmanager
def bound(operation: str, **keys: Any) -> Iterator[None]:
    """Attribute what runs inside to ``operation``, and put it and ``keys`` (``correlation_id``,
    ``jobId``...) on every log line this thread writes meanwhile; keys given as None are left out.
    What was bound before is restored on exit."""
    token = _operation.set(operation)
    previous = dict(logger.thread_safe_get_current_keys())
    logger.thread_safe_append_keys(operation=operation, **{k: v for k, v in keys.items() if v is not None})
    try:
        yield
    finally:
        logger.thread_safe_clear_keys()
        if previous:
            logger.thread_safe_append_keys(**previous)
        _operation.reset(token)


def provider_call(provider: str, *, latency_ms: float, throttled: int, error_code: str | None) -> None:
    """Publish one provider call: ``ProviderCalls``, ``ProviderLatency`` (the whole call, retries and
    waits included) and ``ProviderThrottled`` (the 429s it got), by provider and operation; and, when
    the call ended in an error, ``ProviderErrors`` by the hub's error code as well."""
    operation = current_operation()
    _publish(
        {
            PROVIDER_CALLS: (MetricUnit.Count, 1),
            PROVIDER_LATENCY: (MetricUnit.Milliseconds, latency_ms),
            PROVIDER_THROTTLED: (MetricUnit.Count, throttled),
        },
        {"provider": provider, "operation": operation},
        rollup={},
    )
    if error_code is not None:
        _publish(
            {PROVIDER_ERRORS: (MetricUnit.Count, 1)},
            {"provider": provider, "operation": operation, "errorCode": error_code},
            rollup={"errorCode": error_code},
        )


def count(name: str, value: float = 1, unit: MetricUnit = MetricUnit.Count) -> None:
    """Add ``value`` to the invocation's metric ``name``, published when its handler returns."""
    _invocation.add_metric(name=name, unit=unit, value=value)


def dimension(name: str, value: str) -> None:
    """Set a dimension of the invocation's metrics (a scheduled task's ``task``)."""
    _invocation.add_dimension(name=name, value=value)


def api_error(error_code: str) -> None:
    """Publish one error answer of the API: ``ApiErrors`` by operation and error code."""
    _publish({API_ERRORS: (MetricUnit.Count, 1)}, {"operation": current_operation(), "errorCode": error_code})


def _publish(
    values: Mapping[str, tuple[MetricUnit, float]],
    dimensions: Mapping[str, str],
    rollup: Mapping[str, str] | None = None,
) -> None:
    """Print one EMF object with ``values`` under ``dimensions`` (and the service); with ``rollup``,
    also under the service and those dimensions only, the totals an alarm can watch without listing
    every provider and operation. Skipped when metrics are disabled or no namespace is configured."""
    if is_metrics_disabled():
        return
    try:
        blob = EphemeralMetrics()
        if not blob.namespace:
            return
        for dimension, label in dimensions.items():
            blob.add_dimension(name=dimension, value=label)
        if rollup is not None and blob.service:
            blob.add_dimensions(service=str(blob.service), **rollup)
        for name, (unit, value) in values.items():
            blob.add_metric(name=name, unit=unit, value=value)
        blob.flush_metrics()
    except Exception:
        logger.warning("metrics not published", extra={"metrics": sorted(values)}, exc_info=True)
