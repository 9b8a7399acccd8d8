"""What every API function shares: the resolver, the one error map, body parsing and exactly-once
writes.

A function's ``app.py`` declares its route on ``app = api.make_app()``, parses its body with
:func:`parse_body`, calls the operation, and exports ``lambda_handler = handlers.api(app)``
(:mod:`hub.edge.handlers`, where every handler gets its Powertools decorators).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from enum import Enum
from typing import Any, TypeVar

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from hub.aws import idempotency
from hub.domain import json_input, operations
from hub.domain.errors import (
    ConfigurationError,
    Conflict,
    HubError,
    ImportTooLarge,
    MalformedRequest,
    MethodNotAllowed,
    NotFound,
    ProviderError,
    ProviderTimeout,
    ProviderUnavailable,
    QueueUnavailable,
    RateLimited,
    RouteNotFound,
    Unauthorized,
    Unsupported,
    ValidationError,
)
from hub.domain.requests import check_email, field_errors
from hub.edge import openapi
from hub.runtime import observability

logger = observability.logger

M = TypeVar("M", bound=BaseModel)
E = TypeVar("E", bound=Enum)

# The one place where domain errors become HTTP statuses (most specific class first).
STATUS_BY_ERROR: list[tuple[type[HubError], int]] = [
    (MalformedRequest, 400),
    (ValidationError, 422),
    (Unauthorized, 401),
    (NotFound, 404),
    (MethodNotAllowed, 405),
    (ImportTooLarge, 413),
    (Conflict, 409),
    (RateLimited, 429),
    (Unsupported, 501),
    (ProviderError, 502),
    (ProviderUnavailable, 503),
    (QueueUnavailable, 503),
    (ProviderTimeout, 504),
    (ConfigurationError, 500),
]

MAX_IDEMPOTENCY_KEY_LENGTH = 255

# Each route's operation (its OpenAPI operationId) names it in metrics and logs.
OPERATION_BY_ROUTE: dict[tuple[str, str], str] = {op.route: op.name for op in openapi.OPERATIONS}
# The answer's status class, counted per request (the names are spelled out for docs/observability.md).
STATUS_CLASS_METRICS = {2: "Http2xx", 4: "Http4xx", 5: "Http5xx"}


def status_for(error: HubError) -> int:
    for cls, status in STATUS_BY_ERROR:
        if isinstance(error, cls):
            return status
    return 500


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=json.dumps(body, separators=(",", ":")),
        headers=headers,
    )


def error_response(error: HubError, status: int | None = None) -> Response:
    headers = None
    if isinstance(error, RateLimited) and error.retry_after is not None:
        headers = {"Retry-After": str(max(1, round(error.retry_after)))}
    if isinstance(error, MethodNotAllowed):
        headers = {"Allow": ", ".join(error.allowed)}
    return json_response(status or status_for(error), error.to_dict(), headers)


def make_app() -> APIGatewayRestResolver:
    """A resolver with the hub's error map installed."""
    app = APIGatewayRestResolver()

    @app.exception_handler(HubError)
    def _hub_error(error: HubError) -> Response:
        status = status_for(error)
        # A 500 is the hub's own fault; 502-504 are the provider's; the rest are the caller's.
        log = logger.error if status == 500 else logger.warning if status >= 502 else logger.info
        log("request failed", extra={"code": error.code, "status": status})
        observability.api_error(error.code)
        return error_response(error, status)

    @app.not_found
    def _no_route(_: Exception) -> Response:
        event = app.current_event
        return error_response(RouteNotFound(f"no route {event.http_method} {event.path}"))

    @app.exception_handler(Exception)
    def _unexpected(_: Exception) -> Response:
        logger.exception("unexpected error")
        observability.api_error(HubError.code)
        return json_response(500, HubError("the hub failed unexpectedly; the error is logged").to_dict())

    return app


def method_not_allowed(method: str, resource: str, path: str) -> MethodNotAllowed | RouteNotFound:
    """The error for ``method`` on the API Gateway resource ``resource`` (the template path a request
    to ``path`` matched), whose methods are the OpenAPI document's: 405 naming them, or 404 for a
    resource the document does not have."""
    allowed = tuple(sorted(method for method, path in (op.route for op in openapi.OPERATIONS) if path == resource))
    if not allowed:
        return RouteNotFound(f"no route {method} {path}")
    return MethodNotAllowed(f"{path} does not take {method}; it takes {', '.join(allowed)}", allowed=allowed)


def parse_body(app: APIGatewayRestResolver, model: type[M], *, items: str | None = None) -> M:
    """The request body validated into ``model``; a bad body is a VALIDATION_ERROR naming each field.

    400 for a body that cannot be read (empty, not JSON, not an object, nested too deeply for the
    parser); 422 for a field that holds NaN or Infinity or nests too deeply (:mod:`hub.domain.json_input`),
    or that ``model`` refuses. Inside the list field ``items`` (an import's rows) such values are
    left for each element to answer for.
    """
    data = json_input.read_object(app.current_event.body, items=items)
    try:
        return model.model_validate(data)
    except PydanticValidationError as exc:
        raise ValidationError("the request body is invalid", details=field_errors(exc)) from None


def path_email(value: str) -> str:
    """An email taken from the path, checked like one in a body."""
    try:
        return check_email(value)
    except ValueError as exc:
        raise ValidationError(
            "the email in the path is invalid", details=[{"field": "email", "reason": str(exc)}]
        ) from None


def query_enum(app: APIGatewayRestResolver, name: str, enum: type[E]) -> E | None:
    """An optional query parameter that must be one of ``enum``'s values."""
    value = app.current_event.get_query_string_value(name)
    if value is None:
        return None
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(str(member.value) for member in enum)
        raise ValidationError(
            f"the query parameter '{name}' is invalid",
            details=[{"field": name, "reason": f"must be one of {allowed}"}],
        ) from None


def query_flag(app: APIGatewayRestResolver, name: str) -> bool:
    """An optional yes-or-no query parameter, exactly ``true`` or ``false`` as the registry's
    :data:`~hub.domain.operations.FLAG` schema says (absent: its default, false); any other value,
    ``""``, ``1`` or ``True`` included, is refused naming the parameter."""
    value = app.current_event.get_query_string_value(name)
    if value is None:
        return bool(operations.FLAG["default"] == "true")
    if value not in operations.FLAG["enum"]:
        raise ValidationError(
            f"the query parameter '{name}' is invalid",
            details=[{"field": name, "reason": "must be true or false"}],
        )
    return value == "true"


def query_int(app: APIGatewayRestResolver, name: str, *, default: int, minimum: int, maximum: int) -> int:
    """An optional whole-number query parameter within bounds.

    Only ASCII digits are read: ``int`` would also take ``"١٢"``, ``"1_000"`` or ``" 12 "``, and
    ``str.isdigit`` holds for ``"²"``, which ``int`` refuses.
    """
    value = app.current_event.get_query_string_value(name)
    if value is None:
        return default
    number = whole_number(value)
    if number is None or not minimum <= number <= maximum:
        raise ValidationError(
            f"the query parameter '{name}' is invalid",
            details=[{"field": name, "reason": f"must be a whole number from {minimum} to {maximum}"}],
        )
    return number


def whole_number(value: str, *, max_digits: int = 12) -> int | None:
    """``value`` as a whole number when it is ASCII digits (an optional leading ``-``), else None."""
    digits = value.removeprefix("-")
    if not digits or len(digits) > max_digits or not (digits.isascii() and digits.isdigit()):
        return None
    return int(value)


def query_cursor(
    app: APIGatewayRestResolver, name: str = "cursor", *, max_length: int = 1024, empty_is_first: bool = False
) -> str | None:
    """An optional opaque paging cursor, handed back as a previous page's ``nextCursor`` gave it.

    It is passed to a provider or decoded by a store, so text no cursor of the hub's holds (control
    characters, or past ``max_length``) is refused here, naming the parameter. An empty value is
    refused too, unless ``empty_is_first`` (the route documents it as the first page, as no cursor).
    """
    value = app.current_event.get_query_string_value(name)
    if value is None or (empty_is_first and value == ""):
        return None
    if not value or len(value) > max_length or not value.isprintable():
        raise ValidationError(
            f"the query parameter '{name}' is invalid",
            details=[{"field": name, "reason": "must be the nextCursor of a previous page"}],
        )
    return value


def idempotency_key(app: APIGatewayRestResolver) -> str | None:
    key = app.current_event.get_header_value("Idempotency-Key", case_sensitive=False)
    if key is None:
        return None
    if not key.strip() or len(key) > MAX_IDEMPOTENCY_KEY_LENGTH or not key.isprintable():
        raise ValidationError(
            "the Idempotency-Key header is invalid",
            details=[
                {
                    "field": "Idempotency-Key",
                    "message": f"must be 1 to {MAX_IDEMPOTENCY_KEY_LENGTH} printable characters",
                }
            ],
        )
    return key


def write(
    app: APIGatewayRestResolver,
    operation: str,
    request: BaseModel | dict[str, Any],
    action: Callable[[], idempotency.Outcome],
    *,
    scope: str = "",
) -> Response:
    """Run a write exactly once and answer it.

    With an ``Idempotency-Key`` header the key is ``operation``, ``scope`` (the campaign) and the
    header; the payload checked on reuse is the request. The operation's natural key
    (:mod:`hub.domain.operations`: convert's email, redeem's email and reward) deduplicates for the
    configured window with or without the header (:class:`_NaturalOnce`); an operation without one,
    sent without the header, simply runs.
    """
    header = idempotency_key(app)
    payload = request.model_dump(mode="json") if isinstance(request, BaseModel) else request
    once = _once_per_natural_key(operation, request, scope, action)
    keyed = header is not None
    outcome = idempotency.run_once(f"{operation}#{scope}#key#{header}", payload, once) if keyed else once()
    replayed = outcome.replayed or once.replayed
    return json_response(outcome.status, outcome.body, {"Idempotent-Replayed": "true"} if replayed else None)


class _NaturalOnce:
    """``action`` run once per natural key within the window (or simply run, for an operation without
    one), remembering whether its answer was a replay.

    The key and the payload checked on it are the natural key's values, lower-cased: two calls with
    the same values are the same action however an email is spelt, so a replay never meets
    ``IDEMPOTENCY_KEY_REUSED`` (which only a caller's own key can earn). A call with an
    ``Idempotency-Key`` runs under both keys, so a retry without the header after a keyed call is a
    replay too, not a second provider call."""

    def __init__(self, action: Callable[[], idempotency.Outcome], key: str | None, values: tuple[str, ...]):
        self._action, self._key, self._values = action, key, values
        self.replayed = False

    def __call__(self) -> idempotency.Outcome:
        if self._key is None:
            return self._action()
        window = idempotency.natural_key_window_seconds()
        outcome = idempotency.run_once(self._key, list(self._values), self._action, window=window)
        self.replayed = outcome.replayed
        return outcome


def _once_per_natural_key(
    operation: str, request: BaseModel | dict[str, Any], scope: str, action: Callable[[], idempotency.Outcome]
) -> _NaturalOnce:
    natural_key = _natural_key(operation, request)
    if natural_key is None:
        return _NaturalOnce(action, None, ())
    values = tuple(part.lower() for part in natural_key)
    return _NaturalOnce(action, "#".join((operation, scope, "natural", *values)), values)


def _natural_key(operation: str, request: BaseModel | dict[str, Any]) -> tuple[str, ...] | None:
    """The values of the operation's natural key fields in ``request``, when it has a natural key."""
    declared = operations.OPERATIONS.get(operation)
    if declared is None or not declared.natural_key or not isinstance(request, BaseModel):
        return None
    # A field at its default is left out, so adding an optional field to a natural key (redeem's
    # fulfill) keeps the keys of the requests that do not send it.
    fields = type(request).model_fields
    return tuple(
        str(getattr(request, name)) for name in declared.natural_key if getattr(request, name) != fields[name].default
    )


def operation_of(event: dict[str, Any]) -> str:
    """The hub operation an API event asks for: its route's operationId (or the route itself)."""
    method, resource = event.get("httpMethod"), event.get("resource")
    if not isinstance(method, str) or not isinstance(resource, str):
        return "unknownRoute"
    return OPERATION_BY_ROUTE.get((method, resource), f"{method} {resource}")
