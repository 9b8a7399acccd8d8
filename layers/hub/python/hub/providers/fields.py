"""Small helpers every provider client and normalizer shares: request bodies, path segments and the
lenient readers of provider answers (a provider may send a number as text, or leave a field out)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote


def compact(**fields: Any) -> dict[str, Any]:
    """A request body or query without the fields left unset (None)."""
    return {key: value for key, value in fields.items() if value is not None}


def path_segment(value: str) -> str:
    """A path segment (an id or an email), URL-encoded so that it cannot change the path."""
    return quote(str(value), safe="")


def parse_time(value: Any) -> datetime | None:
    """A timestamp as a timezone-aware datetime: ISO 8601 (naive taken as UTC) or epoch seconds/milliseconds.

    Numbers from 10^11 up are milliseconds (10^11 seconds is the year 5138). Anything unreadable is None.
    """
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value.strip())
    if isinstance(value, int | float):
        seconds = value / 1000.0 if abs(value) >= 1e11 else float(value)
        return datetime.fromtimestamp(seconds, tz=UTC)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
    return None


def as_int(value: Any, default: int | None = None) -> int | None:
    """A whole number from a number or numeric text; ``default`` when absent or unreadable."""
    if isinstance(value, bool) or value is None:
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def as_str(value: Any) -> str | None:
    """Text, with None and the empty string both read as absent."""
    return None if value is None or value == "" else str(value)
