"""When and how long the client waits before trying a request again.

Built on tenacity: 429 honours `Retry-After` (seconds or an HTTP date, with a floor so
that `Retry-After: 0` is not a hot loop), 5xx, timeouts and broken responses back off
exponentially with jitter, and every loop stops at a total time budget.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

from tenacity import RetryCallState, wait_exponential_jitter


class RetryableFailure(Exception):
    """One failed attempt that is worth another try."""

    def __init__(
        self,
        detail: str,
        status_code: int | None = None,
        retry_after: float | None = None,
        connect: bool = False,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.status_code = status_code
        self.retry_after = retry_after
        self.connect = connect  # no connection at all: worth only a few tries


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait according to a `Retry-After` header, or None if absent or garbled."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    now = time.time() if now is None else now
    return max(0.0, when.timestamp() - now)


# A server that refuses connections or a host that does not resolve: a blip is over within
# a few tries; more only delay the message that names the host.
CONNECT_ATTEMPTS = 3


@dataclass(frozen=True)
class RetryPolicy:
    """How a request is retried.

    Attributes:
        budget_seconds: total time one request may spend retrying, waits included.
        max_attempts: attempts for errors other than 429 (a 429 is bounded by time only,
            since the server tells us how long to wait).
        backoff_initial: first backoff for 5xx/timeouts, doubled each attempt, with jitter.
        backoff_max: longest single backoff.
        min_wait: floor for any wait, so `Retry-After: 0` does not spin.
    """

    budget_seconds: float = 120.0
    max_attempts: int = 6
    backoff_initial: float = 0.5
    backoff_max: float = 20.0
    min_wait: float = 0.25

    def wait(self, state: RetryCallState) -> float:
        failure = _failure(state)
        if failure is not None and failure.retry_after is not None:
            # A little jitter so that many clients told "wait 1 s" do not return in lockstep.
            return max(failure.retry_after, self.min_wait) + random.uniform(0, self.min_wait)
        backoff = wait_exponential_jitter(
            initial=self.backoff_initial, max=self.backoff_max, jitter=self.backoff_initial
        )
        return max(backoff(state), self.min_wait)

    def should_stop(self, state: RetryCallState, server_error_attempts: int | None = None) -> bool:
        """Stop at the time budget; 429 is bounded by time only; a 5xx may have its own
        (smaller) attempt limit, used for pages that are split when they keep failing."""
        upcoming = state.upcoming_sleep or 0.0
        if state.seconds_since_start + upcoming > self.budget_seconds:
            return True
        failure = _failure(state)
        if failure is not None and failure.status_code == 429:
            return False
        if failure is not None and failure.connect:
            return state.attempt_number >= CONNECT_ATTEMPTS
        if (
            server_error_attempts is not None
            and failure is not None
            and (failure.status_code or 0) >= 500
        ):
            return state.attempt_number >= server_error_attempts
        return state.attempt_number >= self.max_attempts


def _failure(state: RetryCallState) -> RetryableFailure | None:
    if state.outcome is None:
        return None
    exc = state.outcome.exception()
    return exc if isinstance(exc, RetryableFailure) else None
