"""The parts of a bug payload (references, people, comments, reproductions, devices, its
test environment) and the helpers that read them; `models.Bug` is made of these."""

from __future__ import annotations

from typing import Any

from typing_extensions import TypedDict  # pydantic needs this one before Python 3.12

from testio_assets.api.fields import UtcDatetime

# The parts of a bug are typed dicts, not models: a bug carries dozens of them (comments,
# reproductions, devices with five names each), and building a model object for each
# costs more than twice as much as validating the same shape into dicts.


class BugRef(TypedDict, total=False):
    """A reference inside a bug (test, feature, product, section, a device's names)."""

    id: int | None
    title: str | None
    name: str | None


class BugPerson(TypedDict, total=False):
    name: str | None


class BugComment(TypedDict, total=False):
    id: int | None
    body: str | None
    author: BugPerson | None
    created_at: UtcDatetime


class BugReproduction(TypedDict, total=False):
    id: int | None
    author: BugPerson | None
    created_at: UtcDatetime


class BugDevice(TypedDict, total=False):
    id: int | None
    category: BugRef | None
    vendor: BugRef | None
    operating_system: BugRef | None
    operating_system_version: BugRef | None
    device: BugRef | None
    browsers: list[BugRef] | None


DEVICE_PARTS = ("category", "vendor", "operating_system", "operating_system_version", "device")


def device_record(device: BugDevice) -> dict[str, Any]:
    """A device as the store keeps it: its id, each part's name, the browsers' names."""
    record: dict[str, Any] = {"id": device.get("id")}
    for part in DEVICE_PARTS:
        record[part] = (device.get(part) or {}).get("name")
    browsers = device.get("browsers") or []
    record["browsers"] = [name for b in browsers if b and (name := b.get("name"))]
    return record


class BugEnvironment(TypedDict, total=False):
    """The bug's test environment: only what may be stored (credentials are dropped)."""

    id: int | None
    title: str | None


def environment_of(value: Any) -> Any:
    if not isinstance(value, dict):
        return None
    return {"id": value.get("id"), "title": value.get("title")}  # never username/password


def count_of(value: Any) -> int:
    return len(value) if isinstance(value, list) else 0


def device_label(device: BugDevice) -> str:
    """ "Vendor Device OS Version", from whichever of those names the API sent."""
    names = (
        (device.get(part) or {}).get("name")
        for part in ("vendor", "device", "operating_system", "operating_system_version")
    )
    return " ".join(name for name in names if name) or "unknown device"


def ref_id(ref: BugRef | BugPerson | None, field: str = "id") -> Any:
    """A field of an optional reference (`None` when the reference or the field is)."""
    return ref.get(field) if ref else None


def steps_to_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [line.strip() for line in value.splitlines() if line.strip()]
    if isinstance(value, list):
        return [str(item) for item in value if item is not None]
    raise ValueError(f"steps must be a string or a list, got {type(value).__name__}")
