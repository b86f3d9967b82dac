"""What a session did: requests per endpoint, retries, pages, and records left out."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass(frozen=True)
class SkippedRecord:
    """A record the API sent (or could not send) that we had to leave out."""

    endpoint: str
    reason: str
    record_id: str | None = None


@dataclass
class RequestStats:
    """Counters of one session (or of one product's view of it)."""

    requests: Counter[str] = field(default_factory=Counter)
    retries: int = 0
    pages: int = 0
    skipped: list[SkippedRecord] = field(default_factory=list)

    @property
    def total_requests(self) -> int:
        return sum(self.requests.values())

    def skipped_records(self) -> list[tuple[str, str | None, str]]:
        """(endpoint, record id, reason) of every record left out."""
        return [(s.endpoint, s.record_id, s.reason) for s in self.skipped]
