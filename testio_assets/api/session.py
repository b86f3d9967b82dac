"""`ApiSession`: one unit of API work (a connection pool, a concurrency limit, counters).

Every request goes through `_get`: retries with tenacity (`retry_policy.py`), status codes
mapped to the client's errors, and the body parsed by the session's `BodyParser`. The
endpoint methods are one request each; the strategies that take several requests
(`test_pages.py`, `feature_catalogue.py`, `bug_batches.py`) are composed here.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
from tenacity import AsyncRetrying, RetryCallState, RetryError, retry_if_exception_type

from testio_assets.api import bug_batches, feature_catalogue, test_pages
from testio_assets.api.errors import (
    BASE_URL_HINT,
    NETWORK_HINT,
    ApiRequestError,
    ProductUnavailableError,
    SectionedProductError,
    TokenRefusedError,
)
from testio_assets.api.feature_catalogue import ProductFeatures
from testio_assets.api.models import ApiModel, ExploratoryTest, Product
from testio_assets.api.parsing import BodyParser, Parsed
from testio_assets.api.retry_policy import RetryableFailure, RetryPolicy, parse_retry_after
from testio_assets.api.stats import RequestStats, SkippedRecord
from testio_assets.api.validation import (
    MissingKey,
    NotAJsonObject,
    Rejected,
    json_object,
    validate_records,
)
from testio_assets.api.wire import (
    endpoint_label,
    error_text,
    redact,
    request_endpoint,
    response_host,
)

log = logging.getLogger("testio_assets.api")
ModelT = TypeVar("ModelT", bound=ApiModel)
ResultT = TypeVar("ResultT")


@dataclass(frozen=True)
class Transport:
    """What every view of one session shares: connections, limit, policy, parser."""

    http: httpx.AsyncClient
    token: str
    slots: asyncio.Semaphore
    retry: RetryPolicy
    parser: BodyParser
    page_size: int
    bug_batch_size: int
    page_attempts: int = 2


class ApiSession:
    """One unit of API work; `scoped()` gives a view with its own counters."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport
        self.page_size = transport.page_size
        self.bug_batch_size = transport.bug_batch_size
        self.stats = RequestStats()

    def scoped(self) -> ApiSession:
        """A view sharing this session's connections and concurrency limit, with its own
        counters: how one product's work is measured while many run at once."""
        return ApiSession(self._transport)

    def __repr__(self) -> str:
        return f"ApiSession(base_url={str(self._transport.http.base_url)!r})"

    # -- endpoints: one request each --------------------------------------------------

    async def list_products(self) -> list[Product]:
        parsed = await self.get_records("/products", None, "products", Product)
        return parsed.result

    async def get_product(self, product_id: int) -> Product:
        body = await self._get(f"/products/{product_id}", None, _json_body, product_id=product_id)
        return Product.model_validate(body["product"])

    async def test_page(self, product_id: int, page: int, per_page: int) -> Parsed[list[Any]]:
        """One page of a product's tests, newest first (5xx retried only briefly: a page
        that keeps failing is split by `test_pages`)."""
        parsed = await self.get_records(
            f"/products/{product_id}/exploratory_tests",
            {"page": page, "per_page": per_page},
            "exploratory_tests",
            ExploratoryTest,
            product_id=product_id,
            server_error_attempts=self._transport.page_attempts,
        )
        self.stats.pages += 1
        return parsed

    async def get_test(self, test_id: int, product_id: int | None = None) -> ExploratoryTest | None:
        """One test by id, or None when the API no longer knows it (404)."""
        path = f"/exploratory_tests/{test_id}"
        try:
            body = await self._get(path, None, _json_body)
        except ApiRequestError as exc:
            if exc.status_code == 404:
                return None
            if exc.status_code == 403 and product_id is not None:
                raise ProductUnavailableError(product_id, 403, exc.endpoint) from None
            raise
        items, rejected = validate_records([body.get("exploratory_test")], ExploratoryTest)
        self.report_rejected(path, rejected)
        return items[0] if items else None

    # -- strategies: several requests each ----------------------------------------------

    def test_pages(self, product_id: int) -> AsyncIterator[list[ExploratoryTest]]:
        """Every page of a product's tests, newest first (see `test_pages.py`)."""
        return test_pages.read_pages(self, product_id)

    async def test_page_range(
        self, product_id: int, first: int, last: int
    ) -> list[ExploratoryTest]:
        """Pages `first`..`last` of a product's tests, concurrently (see `test_pages.py`)."""
        return await test_pages.read_page_range(self, product_id, first, last)

    async def product_features(self, product: Product) -> ProductFeatures:
        """The product's feature catalogue (see `feature_catalogue.py`)."""
        return await feature_catalogue.read_catalogue(self, product)

    async def bug_pages(
        self, test_ids: Sequence[int], product_id: int, shape: Callable[[list[Any]], ResultT]
    ) -> list[ResultT]:
        """The bugs of `test_ids`, one shaped result per batch (see `bug_batches.py`)."""
        return await bug_batches.read_batches(self, test_ids, product_id, shape)

    # -- requests -----------------------------------------------------------------------

    async def get_records(
        self,
        path: str,
        params: dict[str, Any] | None,
        key: str,
        model: type[ModelT],
        *,
        product_id: int | None = None,
        server_error_attempts: int | None = None,
        shape: Callable[[list[ModelT]], Any] | None = None,
    ) -> Parsed[Any]:
        """GET a list endpoint: the valid records under `key` (or `shape` of them).

        One malformed record is skipped and reported, not fatal to the page.
        """
        parser = self._transport.parser

        async def parse(response: httpx.Response, endpoint: str) -> Parsed[Any]:
            with _body_errors(response, endpoint):
                if shape is None:
                    parsed = parser.records(response.content, key, model)
                else:
                    parsed = await parser.shaped(response.content, key, model, shape)
            self.report_rejected(endpoint, parsed.rejected)
            return parsed

        return await self._get(
            path, params, parse, product_id=product_id, server_error_attempts=server_error_attempts
        )

    def report_rejected(self, endpoint: str, rejected: Iterable[Rejected]) -> None:
        for record in rejected:
            self.stats.skipped.append(SkippedRecord(endpoint, record.reason, record.record_id))
            log.warning(
                "skipped a malformed record from %s (id %s): %s",
                endpoint,
                record.record_id,
                record.reason,
            )

    async def _get(
        self,
        path: str,
        params: dict[str, Any] | None,
        parse: Callable[[httpx.Response, str], ResultT | Awaitable[ResultT]],
        *,
        product_id: int | None = None,
        server_error_attempts: int | None = None,
    ) -> ResultT:
        """GET `path` with retries; `parse(response, endpoint)` turns a 2xx response into
        the result; a `RetryableFailure` it raises is retried like a 5xx.

        Raises:
            TokenRefusedError: 401, at once.
            ProductUnavailableError: 403/404 for a request about `product_id`.
            SectionedProductError: 422 from a product's feature list.
            ApiRequestError: anything else that did not succeed within the retry policy.
        """
        endpoint = request_endpoint(path, params)
        url = self.url_of(endpoint)
        retry = self._transport.retry
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(RetryableFailure),
            wait=retry.wait,
            stop=lambda state: retry.should_stop(state, server_error_attempts),
            before_sleep=lambda state: self._count_retry(state, endpoint),
        )
        try:
            async for attempt in retrying:
                with attempt:
                    response = await self._attempt(path, params, url, product_id)
                    result = parse(response, endpoint)
                    return await result if inspect.isawaitable(result) else result
        except RetryError as gave_up:
            last = gave_up.last_attempt.exception()
            attempts = gave_up.last_attempt.attempt_number
            status = last.status_code if isinstance(last, RetryableFailure) else None
            connect = isinstance(last, RetryableFailure) and last.connect
            raise ApiRequestError(
                url,
                f"gave up after {attempts} attempt(s) within the {retry.budget_seconds:g} s"
                f" retry budget; last error: {redact(str(last), self._transport.token)}",
                status,
                NETWORK_HINT if connect else "",
            ) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _count_retry(self, state: RetryCallState, endpoint: str) -> None:
        self.stats.retries += 1
        failure = state.outcome.exception() if state.outcome else None
        log.info(
            "retrying GET %s in %.2f s after: %s",
            endpoint,
            state.upcoming_sleep,
            redact(str(failure), self._transport.token),
        )

    def url_of(self, endpoint: str) -> str:
        """The full URL of `endpoint` (a path with its query), as errors name it."""
        return str(self._transport.http.base_url).rstrip("/") + endpoint

    async def _attempt(
        self, path: str, params: dict[str, Any] | None, url: str, product_id: int | None
    ) -> httpx.Response:
        async with self._transport.slots:
            self.stats.requests[endpoint_label(path)] += 1
            try:
                response = await self._transport.http.get(path, params=params)
            except httpx.TimeoutException as exc:
                raise RetryableFailure(f"timed out ({type(exc).__name__})") from None
            except httpx.ConnectError as exc:
                reason = redact(str(exc), self._transport.token) or type(exc).__name__
                raise RetryableFailure(
                    f"cannot connect to {response_host(url)} ({reason})", connect=True
                ) from None
            except httpx.TransportError as exc:
                raise RetryableFailure(f"connection failed ({type(exc).__name__})") from None
        _raise_for_status(response, path, url, product_id)
        return response


def _raise_for_status(
    response: httpx.Response, path: str, endpoint: str, product_id: int | None
) -> None:
    status = response.status_code
    if status == 401:
        raise TokenRefusedError(
            f"GET {endpoint}: the Test IO API refused the token (401). Check TESTIO_API_TOKEN."
        )
    if status in (403, 404) and product_id is not None:
        raise ProductUnavailableError(product_id, status, endpoint)
    if status == 422 and path.endswith("/features"):
        raise SectionedProductError(endpoint, "422: the product has sections", status)
    if status == 429:
        raise RetryableFailure(
            "429 Too Many Requests", 429, parse_retry_after(response.headers.get("retry-after"))
        )
    if status >= 500:
        raise RetryableFailure(f"{status} {response.reason_phrase}", status)
    if status >= 400:
        hint = BASE_URL_HINT if status in (404, 405) else ""
        raise ApiRequestError(endpoint, f"{status} {error_text(response)}", status, hint)


@contextmanager
def _body_errors(response: httpx.Response, endpoint: str) -> Iterator[None]:
    """Body problems as the client's errors: a body that is not JSON is worth another try."""
    try:
        yield
    except NotAJsonObject as exc:
        kind = response.headers.get("content-type", "no content type")
        raise RetryableFailure(f"{response.status_code} with {exc} ({kind})") from None
    except MissingKey as exc:
        raise ApiRequestError(endpoint, str(exc)) from None


def _json_body(response: httpx.Response, endpoint: str) -> dict[str, Any]:
    with _body_errors(response, endpoint):
        return json_object(response.content)
