"""How far a run over many products has come, for people watching it.

The step counts each finished (asset, product) report; `line()` is the one line the run's
log gets every `LOG_EVERY_SECONDS` (what the Dagster UI and a console without a terminal
show), and listeners (the live display of `testio-assets sync` on a terminal) are told of
every change.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from testio_assets.sync.report import StepReport

LOG_EVERY_SECONDS = 10.0

Listener = Callable[["Progress"], None]
# Set by the command line for the length of a sync; empty in the daemon and the UI's runs.
LISTENERS: list[Listener] = []


@dataclass
class Progress:
    """Reports done per asset against those expected, with requests and rows changed."""

    expected: dict[str, int]
    started: float = field(default_factory=time.monotonic)
    done: dict[str, int] = field(default_factory=dict)
    requests: int = 0
    rows_changed: int = 0
    _logged: float = field(default_factory=time.monotonic)

    @classmethod
    def of(cls, assets: Iterable[str], products: int) -> Progress:
        return cls(expected={name: products for name in sorted(assets)})

    def add(self, asset: str, report: StepReport) -> None:
        self.done[asset] = self.done.get(asset, 0) + 1
        self.requests += report.requests
        counts = report.counts
        self.rows_changed += counts.created + counts.updated + counts.removed
        for listener in LISTENERS:
            listener(self)

    @property
    def fraction(self) -> float:
        total = sum(self.expected.values())
        return min(1.0, sum(self.done.values()) / total) if total else 1.0

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def seconds_left(self) -> float | None:
        """A straight-line estimate from the share done so far (None before any)."""
        share = self.fraction
        return self.elapsed * (1 - share) / share if share > 0 else None

    def due(self) -> bool:
        """Whether a log line is due (at most one per LOG_EVERY_SECONDS)."""
        now = time.monotonic()
        if now - self._logged < LOG_EVERY_SECONDS:
            return False
        self._logged = now
        return True

    def line(self) -> str:
        assets = ", ".join(
            f"{name} {self.done.get(name, 0)}/{total}" for name, total in self.expected.items()
        )
        left = self.seconds_left()
        estimate = f", about {left:.0f} s left" if left is not None and self.fraction < 1 else ""
        return (
            f"progress: {assets} products; {self.requests:,} requests, "
            f"{self.rows_changed:,} rows changed, {self.elapsed:.0f} s elapsed{estimate}"
        )
