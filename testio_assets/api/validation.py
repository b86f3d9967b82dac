"""Validating list bodies: one fast pass, or record by record when a record is malformed.

Kept free of HTTP and Dagster imports so that a parsing worker process starts quickly.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from typing import Any, TypeVar

from pydantic import TypeAdapter, ValidationError, create_model

from testio_assets.api.models import ApiModel
from testio_assets.timings import timed

ModelT = TypeVar("ModelT", bound=ApiModel)


class NotAJsonObject(ValueError):
    """The body is not a JSON object (a truncated or foreign response)."""


class MissingKey(ValueError):
    """The body is a JSON object without the expected root key."""


@dataclass(frozen=True)
class Rejected:
    """A record left out: why, and its id if it had one."""

    reason: str
    record_id: str | None


@cache
def envelope_adapter(key: str, model: type[ApiModel]) -> TypeAdapter[Any]:
    """A validator for `{key: [model, ...]}` bodies (other root keys ignored)."""
    envelope = create_model(f"{key}_envelope", __base__=ApiModel, **{key: (list[model], ...)})
    return TypeAdapter(envelope)


def json_object(content: bytes) -> dict[str, Any]:
    """Decode a body that must be a JSON object."""
    try:
        with timed("json decoding"):
            body = json.loads(content)
    except ValueError:
        raise NotAJsonObject("a body that is not JSON") from None
    if not isinstance(body, dict):
        raise NotAJsonObject("JSON that is not an object")
    return body


def validate_list(
    content: bytes, key: str, model: type[ModelT]
) -> tuple[list[ModelT], int, list[Rejected]]:
    """(valid records under `key`, how many were sent, the records left out).

    The whole body is validated in one pass (JSON parsing included, in pydantic-core);
    only if that fails is each record validated on its own, so that one malformed record
    is left out and reported instead of sinking the page.

    Raises:
        NotAJsonObject: the body is not a JSON object.
        MissingKey: the object has no `key`.
    """
    try:
        with timed("payload validation"):
            items = getattr(envelope_adapter(key, model).validate_json(content), key)
        return items, len(items), []
    except ValidationError:
        body = json_object(content)
    raw = body.get(key)
    if raw is None:
        raise MissingKey(f"response has no {key!r} key: {sorted(body)}")
    valid, rejected = validate_records(raw, model)
    return valid, len(raw), rejected


def validate_records(raw: list[Any], model: type[ModelT]) -> tuple[list[ModelT], list[Rejected]]:
    """Validate decoded records one by one: (the valid ones, the ones left out)."""
    valid: list[ModelT] = []
    rejected: list[Rejected] = []
    with timed("payload validation"):
        for record in raw:
            try:
                valid.append(model.model_validate(record))
            except ValidationError as exc:
                record_id = record.get("id") if isinstance(record, dict) else None
                first = exc.errors()[0]
                reason = f"{'.'.join(map(str, first['loc']))}: {first['msg']}"
                rejected.append(Rejected(reason, None if record_id is None else str(record_id)))
    return valid, rejected
