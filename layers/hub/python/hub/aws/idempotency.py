"""Exactly-once writes on Powertools idempotency (DynamoDB).

A write runs under a key: the caller's ``Idempotency-Key`` header when given (the body must match the
first request's, else :class:`IdempotencyKeyReused`), or else the operation's natural key (campaign,
email, reward) for convert and redeem. The first request's answer (status and body) is stored; a
replay answers it again, marked as replayed. A concurrent duplicate finds the first one in progress,
waits for it to finish and answers its result, so the provider is called once. A failed write leaves
no record (Powertools deletes it), so a retry after a failure runs again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyValidationError,
)
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from hub.domain.errors import IdempotencyKeyReused, InProgress
from hub.settings import env


def natural_key_window_seconds() -> int:
    """How long convert and redeem are deduplicated on their natural key without a header."""
    return env.environment().dedup_window_seconds


#: What every idempotency record's key starts with, whichever function wrote it.
KEY_PREFIX = "referral-hub"

#: How long a duplicate waits for the first request in progress before answering 409.
IN_PROGRESS_WAIT_SECONDS = 10.0


@dataclass(frozen=True)
class Outcome:
    """A write's answer as stored for replays: the HTTP status and the JSON body."""

    status: int
    body: dict[str, Any]
    replayed: bool = False


_configs: list[IdempotencyConfig] = []
_context: LambdaContext | None = None


def register_lambda_context(context: LambdaContext) -> None:
    """Let in-progress records expire with this invocation (Powertools ``register_lambda_context``)."""
    global _context
    _context = context
    for config in _configs:
        config.register_lambda_context(context)


def _mark_replayed(response: Any, idempotent_data: DataRecord) -> Any:
    return {**response, "replayed": True}


@cache
def _runner(window: int) -> Callable[..., dict[str, Any]]:
    config = IdempotencyConfig(
        event_key_jmespath="key",
        payload_validation_jmespath="payload",
        expires_after_seconds=window,
        response_hook=_mark_replayed,
    )
    _configs.append(config)
    if _context is not None:
        config.register_lambda_context(_context)
    store = DynamoDBPersistenceLayer(table_name=env.required("IDEMPOTENCY_TABLE"))

    # The records are the stack's, not a function's: Powertools would prefix each key with the name of
    # the function that wrote it, so replacing a function (a rename, a new logical id) would forget
    # every answer it stored and run the next retry again.
    @idempotent_function(data_keyword_argument="request", persistence_store=store, config=config, key_prefix=KEY_PREFIX)
    def run_once(action: Callable[[], Outcome], *, request: dict[str, Any]) -> dict[str, Any]:
        outcome = action()
        return {"status": outcome.status, "body": outcome.body}

    return run_once


def run_once(key: str, payload: Any, action: Callable[[], Outcome], *, window: int | None = None) -> Outcome:
    """Run ``action`` once per ``key`` within ``window`` seconds (default: how long an
    ``Idempotency-Key`` is remembered); replays get the first outcome."""
    runner = _runner(window if window is not None else env.environment().idempotency_key_ttl_seconds)
    deadline = time.monotonic() + IN_PROGRESS_WAIT_SECONDS
    while True:
        try:
            stored = runner(action, request={"key": key, "payload": payload})
        except IdempotencyValidationError:
            raise IdempotencyKeyReused(
                "this Idempotency-Key was already used with a different request body; use a new key"
            ) from None
        except IdempotencyAlreadyInProgressError:
            if time.monotonic() >= deadline:
                raise InProgress("an identical request is still in progress; retry shortly") from None
            time.sleep(0.1)
            continue
        return Outcome(stored["status"], stored["body"], replayed=bool(stored.get("replayed")))
