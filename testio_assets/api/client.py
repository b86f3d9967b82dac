"""The Test IO API client: a Dagster resource that owns every HTTP call of the project.

`TestIOClient` is the configurable resource; `client.session()` opens an `ApiSession`
(`session.py`: one httpx connection pool, one concurrency limit, one set of counters) for
the duration of an asset's work. Assets never touch httpx.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from dagster import ConfigurableResource
from pydantic import Field

from testio_assets.api.errors import TokenRefusedError
from testio_assets.api.parsing import WORKER_FROM_PRODUCTS, BodyParser, worker_for
from testio_assets.api.retry_policy import RetryPolicy
from testio_assets.api.session import ApiSession, Transport
from testio_assets.settings import DEFAULTS


class TestIOClient(ConfigurableResource):
    """Test IO Customer API v2 client: auth, timeouts, retries, pagination, concurrency."""

    __test__ = False  # not a pytest test class

    api_token: str | None = Field(default=None, repr=False, description="Test IO API token")
    base_url: str = Field(default=DEFAULTS.base_url, description="API root, ends in /v2")
    max_concurrency: int = Field(
        default=DEFAULTS.max_concurrency, description="requests in flight at once"
    )
    timeout_seconds: float = Field(
        default=DEFAULTS.http_timeout_seconds, description="per-request timeout"
    )
    retry_budget_seconds: float = Field(
        default=DEFAULTS.retry_budget_seconds,
        description="total time one request may spend retrying",
    )
    retry_backoff_seconds: float = Field(default=0.5, description="first 5xx/timeout backoff")
    retry_min_wait_seconds: float = Field(default=0.25, description="floor of any retry wait")
    page_size: int = Field(default=DEFAULTS.page_size, description="per_page for test listings")
    bug_batch_size: int = Field(
        default=DEFAULTS.bug_batch_size, description="test ids per /bugs call"
    )

    parse_in_worker_from: int = Field(
        default=WORKER_FROM_PRODUCTS,
        description="runs over this many products parse bug pages in a worker process",
    )

    def __repr__(self) -> str:  # the token must never show up in a repr
        return f"{type(self).__name__}(base_url={self.base_url!r})"

    __str__ = __repr__

    def endpoint(self) -> tuple[str, str]:
        """(base URL, token) to talk to."""
        if not self.api_token:
            raise TokenRefusedError("no TESTIO_API_TOKEN is set for the Test IO API")
        return self.base_url.rstrip("/"), self.api_token

    @asynccontextmanager
    async def session(self, products: int = 1) -> AsyncIterator[ApiSession]:
        """One session: a pooled httpx client shared by every call inside it, for a run
        over `products` products (a large run parses bug pages in a worker process)."""
        base_url, token = self.endpoint()
        limits = httpx.Limits(
            max_connections=self.max_concurrency, max_keepalive_connections=self.max_concurrency
        )
        parser = BodyParser(use_worker=worker_for(products, self.parse_in_worker_from))
        try:
            async with httpx.AsyncClient(
                base_url=base_url,
                headers={"Authorization": f"Token {token}", "Accept": "application/json"},
                timeout=httpx.Timeout(self.timeout_seconds),
                limits=limits,
            ) as http:
                yield ApiSession(self._transport(http, token, parser))
        finally:
            await asyncio.to_thread(parser.close)

    def _transport(self, http: httpx.AsyncClient, token: str, parser: BodyParser) -> Transport:
        return Transport(
            http=http,
            token=token,
            slots=asyncio.Semaphore(self.max_concurrency),
            retry=RetryPolicy(
                budget_seconds=self.retry_budget_seconds,
                backoff_initial=self.retry_backoff_seconds,
                min_wait=self.retry_min_wait_seconds,
            ),
            parser=parser,
            page_size=self.page_size,
            bug_batch_size=self.bug_batch_size,
        )
