"""The objects of a simulated account: products, their features, tests and bugs."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

CHANGEABLE = frozenset({"initialized", "waiting", "running", "locked", "customer_finalized"})


@dataclass
class SimFeature:
    id: int
    product_id: int
    title: str
    description: str | None
    howtofind: str | None
    section_ids: list[int]
    stories: list[tuple[int, str]]


@dataclass
class SimBug:
    id: int
    test_id: int
    product_id: int
    title: str
    severity: str
    status: str
    language: str
    steps: list[str]
    steps_as_text: bool
    author: str
    comments: list[tuple[int, str, str, datetime]]
    reproducers: list[str]
    device: int
    feature_id: int | None
    reported_at: datetime
    known: bool
    auto_accepted: bool | None


@dataclass
class SimTest:
    id: int
    product_id: int
    section_id: int | None
    title: str
    status: str
    review_status: str | None
    testing_type: str
    start_at: datetime | None
    end_at: datetime | None
    created_by: str | None
    submitted_by: str | None
    feature_ids: list[int]

    @property
    def can_change(self) -> bool:
        return self.status in CHANGEABLE


@dataclass
class SimProduct:
    id: int
    name: str
    description: str | None
    type: str
    default_section_id: int
    sections: list[tuple[int, str]]
    customers: list[str]
    active: bool = True
    tests: list[SimTest] = field(default_factory=list)  # ascending id = oldest first
    features: dict[int, SimFeature] = field(default_factory=dict)

    @property
    def is_sectioned(self) -> bool:
        return bool(self.sections)
