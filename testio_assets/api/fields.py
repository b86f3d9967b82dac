"""Field types the payload models share: timestamps with any UTC offset normalised to UTC,
and null lists read as empty ones."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BeforeValidator


def to_utc(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    else:
        raise ValueError(f"not a timestamp: {value!r}")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


UtcDatetime = Annotated[datetime | None, BeforeValidator(to_utc)]


def none_to_list(value: Any) -> Any:
    return [] if value is None else value
