"""Reading JSON a caller sent, so that no body can get past validation and fail later as a 500.

``json.loads`` accepts what JSON itself has no place for (``NaN``, ``Infinity``, ``-Infinity``, and
numbers such as ``1e999`` that overflow to infinity): ``requests`` refuses to send them on, and so
would DynamoDB. It also recurses once per level of nesting, so a body nested deeply enough raises
``RecursionError``, and anything that walks the value afterwards (validation, hashing for
idempotency, serialization) recurses as deeply. :func:`read_object` refuses both here, naming the
field (its dotted path, list positions as numbers, the way validation errors name fields).
"""

from __future__ import annotations

import json
import math
from typing import Any

from hub.domain.errors import MalformedRequest, ValidationError

#: Levels of nesting a body may have (the body itself is level 1); far more than any route needs.
MAX_DEPTH = 32

_TOO_DEEP = f"must be nested at most {MAX_DEPTH} levels deep"
_NOT_FINITE = "must be a finite number (JSON has no NaN or Infinity)"


class _NonFinite:
    """Stands in for a number JSON cannot carry until the walk finds where it is."""

    __slots__ = ()


_NON_FINITE = _NonFinite()


def _constant(_name: str) -> _NonFinite:
    return _NON_FINITE


def _float(text: str) -> float | _NonFinite:
    value = float(text)
    return value if math.isfinite(value) else _NON_FINITE


def loads(raw: str | bytes, *, what: str = "the request body") -> Any:
    """``raw`` parsed as JSON; 400 (:class:`MalformedRequest`) when it cannot be read at all.

    The value may still hold the placeholders of non-finite numbers: :func:`problems` finds them.
    """
    try:
        return json.loads(raw, parse_constant=_constant, parse_float=_float)
    except RecursionError:
        raise MalformedRequest(
            f"{what} is nested too deeply to be read",
            details=[{"field": "body", "reason": _TOO_DEEP}],
        ) from None
    except ValueError as exc:
        # The decoder's own words say only where the text breaks (line, column), never what it holds;
        # other readers' (a number too long to convert) are replaced by a fixed reason.
        reason = str(exc) if isinstance(exc, json.JSONDecodeError) else "holds a value that cannot be read"
        raise MalformedRequest(f"{what} is not valid JSON", details=[{"field": "body", "reason": reason}]) from None


def problems(data: Any, *, prefix: str = "", depth: int = 1, root: str = "body") -> list[dict[str, str]]:
    """Each field of ``data`` JSON cannot carry (NaN, an infinity) or nested past :data:`MAX_DEPTH`;
    ``depth`` is the level ``data`` itself is at in the body, and ``root`` names ``data`` itself.

    The walk keeps its own stack, so it cannot itself run out of recursion however deep ``data`` is.
    """
    found: list[dict[str, str]] = []
    stack: list[tuple[Any, str, int]] = [(data, prefix, depth)]
    while stack:
        value, path, level = stack.pop()
        reason, children = _visit(value, path, level)
        if reason is not None:
            found.append({"field": path or root, "reason": reason})
        stack.extend(reversed(children))
    return found


def _visit(value: Any, path: str, depth: int) -> tuple[str | None, list[tuple[Any, str, int]]]:
    """What is wrong with ``value`` itself (None when nothing is), and the members still to look at:
    none below a value found wrong, whose members would only repeat its problem."""
    if _is_non_finite(value):
        return _NOT_FINITE, []
    if not isinstance(value, dict | list):
        return None, []
    if depth > MAX_DEPTH:
        return _TOO_DEEP, []
    items = value.items() if isinstance(value, dict) else enumerate(value)
    return None, [(child, f"{path}.{key}" if path else str(key), depth + 1) for key, child in items]


def _is_non_finite(value: Any) -> bool:
    """Whether ``value`` is a number JSON cannot carry: a placeholder of :func:`loads`, or a float NaN
    or infinity that came from elsewhere."""
    return value is _NON_FINITE or (isinstance(value, float) and not math.isfinite(value))


def read_object(raw: str | bytes | None, *, what: str = "the request body", items: str | None = None) -> dict[str, Any]:
    """The JSON object in ``raw``: 400 when it is empty, not JSON or not an object; 422 naming each
    field that holds NaN or Infinity or is nested too deeply.

    ``items`` names a list field whose elements answer for themselves (an import's ``rows``: a row
    holding NaN fails alone, in the job's failures): what is wrong inside one of them is left in it,
    for :func:`problems` to find when the element is read.
    """
    if not raw:
        raise MalformedRequest(f"{what} needs to be a JSON object", details=[{"field": "body", "reason": "is empty"}])
    data = loads(raw, what=what)
    if not isinstance(data, dict):
        raise MalformedRequest(
            f"{what} must be a JSON object", details=[{"field": "body", "reason": "is not an object"}]
        )
    found = problems(data)
    if items is not None and isinstance(data.get(items), list):
        found = [problem for problem in found if not _inside_an_item(problem["field"], items)]
    if found:
        raise ValidationError(f"{what} holds values JSON cannot carry", details=found)
    return data


def _inside_an_item(field: str, items: str) -> bool:
    """Whether ``field`` is in an element of the list ``items`` (``rows.3`` or ``rows.3.metadata``)."""
    head, _, rest = field.partition(".")
    return head == items and rest.split(".", 1)[0].isdigit()
