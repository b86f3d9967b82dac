"""Typed models of the Test IO Customer API v2 payloads: the one place raw JSON becomes data.

The models absorb the drift the API is known for: unknown fields are ignored, every
field but `id` may be missing or null, `steps` comes as a string or a list, statuses
outside the documented set are kept as text, and timestamps with any UTC offset are
normalised to UTC. Test-environment credentials (`username`, `password`, `access`) are
not declared anywhere, so they are dropped at parse time and cannot reach storage.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator
from typing_extensions import TypedDict  # pydantic needs this one before Python 3.12

FINAL_TEST_STATUSES = frozenset({"archived", "cancelled"})


def _to_utc(value: Any) -> datetime | None:
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


UtcDatetime = Annotated[datetime | None, BeforeValidator(_to_utc)]


def _none_to_list(value: Any) -> Any:
    return [] if value is None else value


class ApiModel(BaseModel):
    """Base for every payload model: ignores unknown fields, never mutated after parsing."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class Named(ApiModel):
    id: int | None = None
    name: str | None = None


class Section(ApiModel):
    id: int
    name: str | None = None


class Product(ApiModel):
    id: int
    name: str | None = None
    description: str | None = None
    type: str | None = None
    default_section_id: int | None = None
    sections: Annotated[list[Section], BeforeValidator(_none_to_list)] = Field(default_factory=list)
    sections_with_default: Annotated[list[Section], BeforeValidator(_none_to_list)] = Field(
        default_factory=list
    )

    @property
    def is_sectioned(self) -> bool:
        """True when features must be read per section (a lone default section is legacy)."""
        return bool(self.sections) or len(self.sections_with_default) > 1

    @property
    def section_ids(self) -> list[int]:
        """Every section to ask for features, without duplicates, in API order."""
        ids: dict[int, None] = {}
        for section in [*self.sections, *self.sections_with_default]:
            ids.setdefault(section.id, None)
        return list(ids)


class TestEnvironment(ApiModel):
    """A test environment without its credentials (they are deliberately not declared)."""

    id: int | None = None
    title: str | None = None
    url: str | None = None
    access_type: str | None = None


class TestFeatureRef(ApiModel):
    id: int | None = None
    feature_id: int | None = None
    title: str | None = None


class ExploratoryTest(ApiModel):
    id: int
    title: str | None = None
    test_title: str | None = None
    status: str | None = None
    review_status: str | None = None
    testing_type: str | None = None
    goal: str | None = None
    instructions: str | None = None
    out_of_scope: str | None = None
    report_language: str | None = None
    start_at: UtcDatetime = None
    end_at: UtcDatetime = None
    created_by: str | None = None
    submitted_by: str | None = None
    section: Section | None = None
    product: Named | None = None
    features: Annotated[list[TestFeatureRef], BeforeValidator(_none_to_list)] = Field(
        default_factory=list
    )
    test_environment: TestEnvironment | None = None

    @property
    def can_change(self) -> bool:
        """Final tests (archived, cancelled) never change; unknown statuses might."""
        return (self.status or "").lower() not in FINAL_TEST_STATUSES


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


def _environment(value: Any) -> Any:
    if not isinstance(value, dict):
        return None
    return {"id": value.get("id"), "title": value.get("title")}  # never username/password


def _count(value: Any) -> int:
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


def _steps_to_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [line.strip() for line in value.splitlines() if line.strip()]
    if isinstance(value, list):
        return [str(item) for item in value if item is not None]
    raise ValueError(f"steps must be a string or a list, got {type(value).__name__}")


class Bug(ApiModel):
    id: int
    title: str | None = None
    severity: str | None = None
    status: str | None = None
    language: str | None = None
    location: str | None = None
    expected_result: str | None = None
    actual_result: str | None = None
    steps: Annotated[list[str], BeforeValidator(_steps_to_list)] = Field(default_factory=list)
    known: bool | None = None
    auto_accepted: bool | None = None
    exported_at: UtcDatetime = None
    reported_at: UtcDatetime = None
    external_idx: str | None = None
    author: BugPerson | None = None
    comments: Annotated[list[BugComment], BeforeValidator(_none_to_list)] = Field(
        default_factory=list
    )
    reproductions: Annotated[list[BugReproduction], BeforeValidator(_none_to_list)] = Field(
        default_factory=list
    )
    devices: Annotated[list[BugDevice], BeforeValidator(_none_to_list)] = Field(
        default_factory=list
    )
    test: BugRef | None = None
    feature: BugRef | None = None
    test_feature: BugRef | None = None
    product: BugRef | None = None
    section: BugRef | None = None
    # Credentials (`username`, `password`, `access`) are dropped as the payload is parsed.
    test_environment: Annotated[BugEnvironment | None, BeforeValidator(_environment)] = None
    attachment_count: Annotated[int, BeforeValidator(_count)] = Field(
        default=0, validation_alias="attachments"
    )


class UserStory(ApiModel):
    id: int | None = None
    title: str | None = None
    path: str | None = None
    feature_id: int | None = None


def _stories(value: Any) -> Any:
    if value is None:
        return []
    if isinstance(value, list):
        # Without includes[]=user_stories the API sends bare strings.
        return [{"title": item} if isinstance(item, str) else item for item in value]
    return value


class Feature(ApiModel):
    id: int
    title: str | None = None
    description: str | None = None
    howtofind: str | None = None
    location: str | None = None
    target_idx: str | None = None
    user_stories: Annotated[list[UserStory], BeforeValidator(_stories)] = Field(
        default_factory=list
    )

    @field_validator("target_idx", mode="before")
    @classmethod
    def _target_idx_as_text(cls, value: Any) -> Any:
        return None if value is None else str(value)


class RejectReason(ApiModel):
    key: str
    name: str | None = None
    default_comment: str | None = None


class Connection(ApiModel):
    id: int
    name: str | None = None
    url: str | None = None
    fixed: bool | None = None


class TestCaseStep(ApiModel):
    id: int | None = None
    description: str | None = None
    test_case_id: int | None = None
    target_idx: str | None = None


class TestCase(ApiModel):
    id: int
    title: str | None = None
    feature_id: int | None = None
    target_idx: str | None = None
    steps: Annotated[list[TestCaseStep], BeforeValidator(_none_to_list)] = Field(
        default_factory=list
    )


class TestCaseTest(ApiModel):
    test_title: str | None = None
    goal: str | None = None
    start_at: UtcDatetime = None
    end_at: UtcDatetime = None
    report_language: str | None = None
    test_cases: Annotated[list[TestCase], BeforeValidator(_none_to_list)] = Field(
        default_factory=list
    )
    test_environment: TestEnvironment | None = None


# Root key of a response body -> (model, is a list). Used by `parse_envelope`.
ENVELOPES: dict[str, tuple[type[ApiModel], bool]] = {
    "products": (Product, True),
    "product": (Product, False),
    "exploratory_tests": (ExploratoryTest, True),
    "exploratory_test": (ExploratoryTest, False),
    "bugs": (Bug, True),
    "bug": (Bug, False),
    "features": (Feature, True),
    "feature": (Feature, False),
    "user_stories": (UserStory, True),
    "user_story": (UserStory, False),
    "reject_reasons": (RejectReason, True),
    "connection": (Connection, False),
    "test_environments": (TestEnvironment, True),
    "test_environment": (TestEnvironment, False),
    "test_cases": (TestCase, True),
    "test_case_test": (TestCaseTest, False),
}


def parse_envelope(body: dict[str, Any]) -> ApiModel | list[ApiModel]:
    """Parse a whole response body by its root key (strict: any bad record raises)."""
    for key, (model, is_list) in ENVELOPES.items():
        if key in body:
            if is_list:
                return [model.model_validate(item) for item in body[key] or []]
            return model.model_validate(body[key])
    raise ValueError(f"unknown response root keys: {sorted(body)}")
