"""Faults the simulator can inject, for tests and benchmarks.

A `Fault` matches requests by endpoint label (the same labels as the request counts),
optionally by product and page, and answers with an error status, a `Retry-After`
header, a delay, or a broken body, a given number of times (or forever).
`Chaos` draws such faults at random, at a fixed rate, for long runs (the soak).
Record-level faults (a poisoned test that makes its page answer 500, a malformed
test record) live on the `FaultPlan` as sets of test ids.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from email.utils import formatdate
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
        answer_normally: after `delay_seconds`, send the real answer (a slow request).
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
    answer_normally: bool = False

    @property
    def kind(self) -> str:
        """What the client meets, for the count of faults injected."""
        if self.truncate:
            return "dropped connection"
        if self.answer_normally:
            return "slow request"
        if self.status == 429:
            return "429 " + _retry_after_form(self.retry_after)
        return str(self.status)

    def matches(self, endpoint: str, product_id: int | None, page: int | None) -> bool:
        return (
            self.endpoint in ("*", endpoint)
            and (self.product_id is None or self.product_id == product_id)
            and (self.page is None or self.page == page)
            and (self.times is None or self.times > 0)
        )


def _retry_after_form(value: str | None) -> str:
    if value is None:
        return "without Retry-After"
    if value.strip() == "0":
        return "Retry-After 0"
    return "Retry-After seconds" if value.strip().isdigit() else "Retry-After date"


CHAOS_KINDS = (
    "429 seconds",
    "429 date",
    "429 zero",
    "429 bare",
    "500",
    "503",
    "slow",
    "dropped",
)


@dataclass
class Chaos:
    """Faults at random: each request meets one with probability `rate`, of a kind drawn
    evenly from `CHAOS_KINDS` (429 with each `Retry-After` form, 5xx, a slow answer, a
    connection dropped mid-body). Seeded, so a run can be repeated."""

    rate: float
    seed: int = 0
    slow_seconds: tuple[float, float] = (1.0, 4.0)
    _rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"fault rate must be between 0 and 1, got {self.rate}")
        self._rng = random.Random(self.seed)

    def draw(self) -> Fault | None:
        """A fault for this request, or None (most of the time)."""
        if self._rng.random() >= self.rate:
            return None
        kind = self._rng.choice(CHAOS_KINDS)
        if kind.startswith("429"):
            retry_after = {
                "429 seconds": "1",
                "429 date": formatdate(time.time() + 1, usegmt=True),
                "429 zero": "0",
                "429 bare": None,
            }[kind]
            return Fault(status=429, retry_after=retry_after)
        if kind == "slow":
            return Fault(
                status=200,
                delay_seconds=self._rng.uniform(*self.slow_seconds),
                answer_normally=True,
            )
        if kind == "dropped":
            return Fault(status=200, truncate=True)
        return Fault(status=int(kind))


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
    chaos: Chaos | None = None
    # Faults served so far, by kind (armed ones and chaos alike).
    injected: Counter[str] = field(default_factory=Counter)
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
            self.chaos = None

    def take(self, endpoint: str, product_id: int | None, page: int | None) -> Fault | None:
        """The first armed fault matching this request, consuming one of its `times`;
        else, with chaos on, maybe a random one."""
        with self._lock:
            chosen = next((f for f in self.faults if f.matches(endpoint, product_id, page)), None)
            if chosen is not None and chosen.times is not None:
                chosen.times -= 1
            if chosen is None and self.chaos is not None:
                chosen = self.chaos.draw()
            if chosen is not None:
                self.injected[chosen.kind] += 1
            return chosen

    def to_json(self) -> dict[str, Any]:
        return {
            "faults": [asdict(f) for f in self.faults],
            "poisoned_test_ids": sorted(self.poisoned_test_ids),
            "malformed_test_ids": sorted(self.malformed_test_ids),
            "drifted_test_ids": sorted(self.drifted_test_ids),
            "shift_pages": self.shift_pages,
            "chaos": None if self.chaos is None else {"rate": self.chaos.rate},
            "injected": dict(self.injected),
        }

    def load_json(self, data: dict[str, Any]) -> None:
        """Arm what a JSON body describes (the served simulator's admin endpoint)."""
        with self._lock:
            self.faults.extend(Fault(**item) for item in data.get("faults", []))
            self.poisoned_test_ids.update(int(i) for i in data.get("poisoned_test_ids", []))
            self.malformed_test_ids.update(int(i) for i in data.get("malformed_test_ids", []))
            self.drifted_test_ids.update(int(i) for i in data.get("drifted_test_ids", []))
            self.shift_pages = bool(data.get("shift_pages", self.shift_pages))
