"""The one place a Lambda handler is built: every handler has the Powertools decorators in the same
order (logger context with the request's correlation id, metrics, tracer), its ``Metrics`` and
``Tracer`` made with it (Powertools reads the namespace and the service from the environment then, which
only a function's environment has), and idempotency told of the invocation, so that an in-progress
record expires with it.

- :func:`api`: an API function (the resolver of :func:`hub.edge.api.make_app`); the request's operation
  and correlation id are bound for every log line and provider call, and the answer's status class is
  counted.
- :func:`queue`: a bulk operation's queue consumer: one row at a time, partial batch responses.
- :func:`scheduled`: a scheduled task (EventBridge), the event's id as the correlation id.
- :func:`uploads`: the S3 notification of an uploaded CSV file, split into its job's rows.

Each imports what its kind of function runs when it is built, so a function loads only its own.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools import Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities import jmespath_utils
from aws_lambda_powertools.utilities.typing import LambdaContext

from hub.aws import idempotency
from hub.runtime import observability
from hub.settings import env

Handler = Callable[[dict[str, Any], LambdaContext], dict[str, Any]]
logger = observability.logger


def _stacked(handler: Handler, *, correlation_id_path: str | None = None) -> Handler:
    """``handler`` under the three decorators, in the one order every handler has. The environment is
    checked first: a wrong value fails the cold start naming the variable."""
    env.environment()
    metrics, tracer = Metrics(), Tracer()
    traced = tracer.capture_lambda_handler(handler)
    measured = metrics.log_metrics(capture_cold_start_metric=True)(traced)
    return logger.inject_lambda_context(correlation_id_path=correlation_id_path, clear_state=True)(measured)


def api(app: APIGatewayRestResolver) -> Handler:
    """The Lambda handler of an API function serving ``app``'s routes."""
    # Here, not at the top: the upload handler has no API and need not load its routes and models.
    from hub.edge.api import STATUS_CLASS_METRICS, operation_of

    def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        idempotency.register_lambda_context(context)
        correlation_id = jmespath_utils.query(envelope=correlation_paths.API_GATEWAY_REST, data=event)
        with observability.bound(operation_of(event), correlation_id=correlation_id):
            response = app.resolve(event, context)
        status_metric = STATUS_CLASS_METRICS.get(int(response["statusCode"]) // 100)
        if status_metric is not None:
            observability.count(status_metric)
        return response

    return _stacked(lambda_handler, correlation_id_path=correlation_paths.API_GATEWAY_REST)


def queue(operation: str) -> Handler:
    """The Lambda handler of ``operation``'s bulk queue."""
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

    from hub.flows.bulk import Consumer

    consumer = Consumer(operation)

    def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        idempotency.register_lambda_context(context)
        # A processor per invocation: it holds the batch's state (cheap to make, and safe even where
        # invocations share a process, as in the local run).
        processor = BatchProcessor(event_type=EventType.SQS)
        deadline = time.monotonic() + context.get_remaining_time_in_millis() / 1000
        handled = 0

        def handle(record: SQSRecord) -> None:
            # The batch's first row always runs: it has the whole invocation, the most any row gets,
            # and deferring it too would send every row back forever under a short timeout.
            nonlocal handled
            handled += 1
            consumer.handle(record, deadline=deadline if handled > 1 else None)

        return dict(process_partial_response(event=event, record_handler=handle, processor=processor, context=context))

    return _stacked(lambda_handler)


def scheduled(task: str) -> Handler:
    """The Lambda handler of the scheduled task ``task`` (:data:`hub.flows.schedules.TASKS`)."""
    from hub.flows import schedules

    if task not in schedules.TASKS:
        raise ValueError(f"no scheduled task '{task}'")

    def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        return schedules.run(task, event, context)

    return _stacked(lambda_handler, correlation_id_path=correlation_paths.EVENT_BRIDGE)


def uploads(split: Callable[[str, str, str], dict[str, Any] | None]) -> Handler:
    """The Lambda handler of the upload bucket's ObjectCreated notifications: ``split(bucket, key,
    job_id)`` for each object that is an import job's upload; any other key is logged and ignored."""
    from hub.flows.imports import job_of_upload

    def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        done = []
        for record in event.get("Records", []):
            bucket = record["s3"]["bucket"]["name"]
            key = unquote_plus(record["s3"]["object"]["key"])
            job_id = job_of_upload(key)
            if job_id is None:
                logger.warning("not an upload of an import job; ignored", extra={"key": key})
                continue
            logger.append_keys(jobId=job_id)
            done.append(split(bucket, key, job_id))
        return {"jobs": done}

    return _stacked(lambda_handler)
