"""Typed models of the Test IO Customer API v2 payloads: the one place raw JSON becomes data.

The models absorb the drift the API is known for: unknown fields are ignored, every
field but `id` may be missing or null, `steps` comes as a string or a list, statuses
outside the documented set are kept as text, and timestamps with any UTC offset are
normalised to UTC. Test-environment credentials (`username`, `password`, `access`) are
not declared anywhere, so they are dropped at parse time and cannot reach storage.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from testio_assets.api.bug_parts import (
    BugComment,
    BugDevice,
    BugEnvironment,
    BugPerson,
    BugRef,
    BugReproduction,
    count_of,
    environment_of,
    steps_to_list,
)
from testio_assets.api.fields import UtcDatetime, none_to_list

FINAL_TEST_STATUSES = frozenset({"archived", "cancelled"})


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
    sections: Annotated[list[Section], BeforeValidator(none_to_list)] = Field(default_factory=list)
    sections_with_default: Annotated[list[Section], BeforeValidator(none_to_list)] = Field(
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
    features: Annotated[list[TestFeatureRef], BeforeValidator(none_to_list)] = Field(
        default_factory=list
    )
    test_environment: TestEnvironment | None = None

    @property
    def can_change(self) -> bool:
        """Final tests (archived, cancelled) never change; unknown statuses might."""
        return (self.status or "").lower() not in FINAL_TEST_STATUSES


class Bug(ApiModel):
    id: int
    title: str | None = None
    severity: str | None = None
    status: str | None = None
    language: str | None = None
    location: str | None = None
    expected_result: str | None = None
    actual_result: str | None = None
    steps: Annotated[list[str], BeforeValidator(steps_to_list)] = Field(default_factory=list)
    known: bool | None = None
    auto_accepted: bool | None = None
    exported_at: UtcDatetime = None
    reported_at: UtcDatetime = None
    external_idx: str | None = None
    author: BugPerson | None = None
    comments: Annotated[list[BugComment], BeforeValidator(none_to_list)] = Field(
        default_factory=list
    )
    reproductions: Annotated[list[BugReproduction], BeforeValidator(none_to_list)] = Field(
        default_factory=list
    )
    devices: Annotated[list[BugDevice], BeforeValidator(none_to_list)] = Field(default_factory=list)
    test: BugRef | None = None
    feature: BugRef | None = None
    test_feature: BugRef | None = None
    product: BugRef | None = None
    section: BugRef | None = None
    # Credentials (`username`, `password`, `access`) are dropped as the payload is parsed.
    test_environment: Annotated[BugEnvironment | None, BeforeValidator(environment_of)] = None
    attachment_count: Annotated[int, BeforeValidator(count_of)] = Field(
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
    steps: Annotated[list[TestCaseStep], BeforeValidator(none_to_list)] = Field(
        default_factory=list
    )


class TestCaseTest(ApiModel):
    test_title: str | None = None
    goal: str | None = None
    start_at: UtcDatetime = None
    end_at: UtcDatetime = None
    report_language: str | None = None
    test_cases: Annotated[list[TestCase], BeforeValidator(none_to_list)] = Field(
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
