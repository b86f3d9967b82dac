"""Faults the simulator can inject, for tests and benchmarks.

A `Fault` matches requests by endpoint label (the same labels as the request counts),
optionally by product and page, and answers with an error status, a `Retry-After`
header, a delay, or a broken body, a given number of times (or forever).
Record-level faults (a poisoned test that makes its page answer 500, a malformed
test record) live on the `FaultPlan` as sets of test ids.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Fault:
    """One injected misbehaviour.

    Attributes:
        endpoint: endpoint label to match (`exploratory_tests`, `bugs`, ...) or `*`.
        status: HTTP status to answer with (200 with `body` = broken success).
        times: how many matching requests get the fault; None = every one.
        product_id: only requests about this product.
        page: only this `page` of a listing.
        retry_after: value of the `Retry-After` header, sent verbatim.
        delay_seconds: wait this long before answering (a hanging request).
        body: raw body to send instead of `{"error": ...}`.
        content_type: content type of `body`.
        truncate: send the real body cut in half (a dropped connection mid-response).
    """

    endpoint: str = "*"
    status: int = 500
    times: int | None = 1
    product_id: int | None = None
    page: int | None = None
    retry_after: str | None = None
    delay_seconds: float = 0.0
    body: str | None = None
    content_type: str = "application/json"
    truncate: bool = False

    def matches(self, endpoint: str, product_id: int | None, page: int | None) -> bool:
        return (
            self.endpoint in ("*", endpoint)
            and (self.product_id is None or self.product_id == product_id)
            and (self.page is None or self.page == page)
            and (self.times is None or self.times > 0)
        )


@dataclass
class FaultPlan:
    """Every fault currently armed. Thread-safe: tests arm faults while the server runs."""

    faults: list[Fault] = field(default_factory=list)
    poisoned_test_ids: set[int] = field(default_factory=set)
    malformed_test_ids: set[int] = field(default_factory=set)
    # Schema drift: these tests come with extra fields, optional fields missing or null,
    # and a status the API never documented.
    drifted_test_ids: set[int] = field(default_factory=set)
    # Pages after the first start one record early, as when a test is created while a
    # client pages: the last test of page 1 shows up again at the top of page 2.
    shift_pages: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, *faults: Fault) -> None:
        with self._lock:
            self.faults.extend(faults)

    def clear(self) -> None:
        with self._lock:
            self.faults.clear()
            self.poisoned_test_ids.clear()
            self.malformed_test_ids.clear()
            self.drifted_test_ids.clear()
            self.shift_pages = False

    def take(self, endpoint: str, product_id: int | None, page: int | None) -> Fault | None:
        """The first armed fault matching this request, consuming one of its `times`."""
        with self._lock:
            for fault in self.faults:
                if fault.matches(endpoint, product_id, page):
                    if fault.times is not None:
                        fault.times -= 1
                    return fault
        return None

    def to_json(self) -> dict[str, Any]:
        return {
            "faults": [asdict(f) for f in self.faults],
            "poisoned_test_ids": sorted(self.poisoned_test_ids),
            "malformed_test_ids": sorted(self.malformed_test_ids),
            "drifted_test_ids": sorted(self.drifted_test_ids),
            "shift_pages": self.shift_pages,
        }

    def load_json(self, data: dict[str, Any]) -> None:
        """Arm what a JSON body describes (the served simulator's admin endpoint)."""
        with self._lock:
            self.faults.extend(Fault(**item) for item in data.get("faults", []))
            self.poisoned_test_ids.update(int(i) for i in data.get("poisoned_test_ids", []))
            self.malformed_test_ids.update(int(i) for i in data.get("malformed_test_ids", []))
            self.drifted_test_ids.update(int(i) for i in data.get("drifted_test_ids", []))
            self.shift_pages = bool(data.get("shift_pages", self.shift_pages))
