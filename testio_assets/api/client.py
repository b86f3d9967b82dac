"""The Test IO API client: a Dagster resource that owns every HTTP call of the project.

`TestIOClient` is the configurable resource; `client.session()` opens an `ApiSession`
(one httpx connection pool, one concurrency limit, one set of counters) for the
duration of an asset's work. Assets never touch httpx.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
from dagster import ConfigurableResource
from pydantic import Field, PrivateAttr
from tenacity import AsyncRetrying, RetryCallState, RetryError, retry_if_exception_type

from testio_assets.api.errors import (
    ApiRequestError,
    ProductUnavailableError,
    SectionedProductError,
    TokenRefusedError,
)
from testio_assets.api.models import ApiModel, Bug, ExploratoryTest, Feature, Product
from testio_assets.api.retry_policy import RetryableFailure, RetryPolicy, parse_retry_after
from testio_assets.api.validation import (
    MissingKey,
    NotAJsonObject,
    Rejected,
    json_object,
    validate_list,
    validate_records,
)
from testio_assets.settings import DEFAULT_BASE_URL

log = logging.getLogger("testio_assets.api")
ModelT = TypeVar("ModelT", bound=ApiModel)
ResultT = TypeVar("ResultT")
ParsedT = TypeVar("ParsedT")


@dataclass(frozen=True)
class SkippedRecord:
    """A record the API sent (or could not send) that we had to leave out."""

    endpoint: str
    reason: str
    record_id: str | None = None


@dataclass
class RequestStats:
    """What one session did: requests per endpoint, retries, pages, skipped records."""

    requests: Counter[str] = field(default_factory=Counter)
    retries: int = 0
    pages: int = 0
    skipped: list[SkippedRecord] = field(default_factory=list)

    @property
    def total_requests(self) -> int:
        return sum(self.requests.values())


@dataclass(frozen=True)
class ProductFeatures:
    """The feature catalogue of one product; sectioned features carry their section ids."""

    features: list[Feature]
    section_ids: dict[int, list[int]]
    sectioned: bool


def _largest_proper_divisor(n: int) -> int:
    for factor in range(2, int(n**0.5) + 1):
        if n % factor == 0:
            return n // factor
    return 1


def _redact(text: str, secret: str | None) -> str:
    return text.replace(secret, "***") if secret else text


class ApiSession:
    """One unit of API work: a connection pool, a concurrency limit and counters."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        token: str,
        *,
        slots: asyncio.Semaphore,
        retry: RetryPolicy,
        page_size: int,
        bug_batch_size: int,
        page_attempts: int = 2,
    ) -> None:
        self._http = http
        self._token = token
        self._slots = slots
        self._retry = retry
        self.page_size = page_size
        self.bug_batch_size = bug_batch_size
        self._page_attempts = page_attempts
        self.stats = RequestStats()

    def scoped(self) -> ApiSession:
        """A view sharing this session's connections and concurrency limit, with its own
        counters: how one product's work is measured while many run at once."""
        return ApiSession(
            self._http,
            self._token,
            slots=self._slots,
            retry=self._retry,
            page_size=self.page_size,
            bug_batch_size=self.bug_batch_size,
            page_attempts=self._page_attempts,
        )

    def __repr__(self) -> str:
        return f"ApiSession(base_url={str(self._http.base_url)!r})"

    # -- raw requests -------------------------------------------------------------------

    async def get_json(
        self, path: str, params: dict[str, Any] | None = None, *, product_id: int | None = None
    ) -> dict[str, Any]:
        """GET `path` with retries; returns the decoded JSON object (see `_get`)."""
        return await self._get(path, params, _json_object, product_id=product_id)

    async def get_records(
        self,
        path: str,
        params: dict[str, Any] | None,
        key: str,
        model: type[ModelT],
        *,
        product_id: int | None = None,
        server_error_attempts: int | None = None,
    ) -> tuple[list[ModelT], int]:
        """GET a list endpoint; returns (the valid records under `key`, how many were sent).

        The whole body is validated in one pass (JSON parsing and validation in
        pydantic-core); only if that fails is each record validated on its own, so that
        one malformed record is skipped and reported instead of sinking the page.
        """

        def parse(response: httpx.Response, endpoint: str) -> tuple[list[ModelT], int]:
            with self._checked(response, endpoint):
                items, sent, rejected = validate_list(response.content, key, model)
            self._report_rejected(endpoint, rejected)
            return items, sent

        return await self._get(
            path,
            params,
            parse,
            product_id=product_id,
            server_error_attempts=server_error_attempts,
        )

    async def get_parsed(
        self,
        path: str,
        params: dict[str, Any] | None,
        parse: Callable[[bytes], Awaitable[tuple[ParsedT, list[Rejected]]]],
        *,
        product_id: int | None = None,
    ) -> ParsedT:
        """GET a list endpoint whose body `parse` turns into something else than models
        (rows, say, parsed in another process); its rejected records are reported here."""

        async def parse_response(response: httpx.Response, endpoint: str) -> ParsedT:
            with self._checked(response, endpoint):
                parsed, rejected = await parse(response.content)
            self._report_rejected(endpoint, rejected)
            return parsed

        return await self._get(path, params, parse_response, product_id=product_id)

    @contextmanager
    def _checked(self, response: httpx.Response, endpoint: str) -> Iterator[None]:
        """Body problems as the client's errors: not JSON is worth another try."""
        try:
            yield
        except NotAJsonObject as exc:
            raise _worth_retrying(response, exc) from None
        except MissingKey as exc:
            raise ApiRequestError(endpoint, str(exc)) from None

    def _report_rejected(self, endpoint: str, rejected: Iterable[Rejected]) -> None:
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
        the result (or an awaitable of it); a `RetryableFailure` it raises is retried like
        a 5xx.

        Raises:
            TokenRefusedError: 401, at once.
            ProductUnavailableError: 403/404 for a request about `product_id`.
            SectionedProductError: 422 from a product's feature list.
            ApiRequestError: anything else that did not succeed within the retry policy.
        """
        endpoint = _endpoint(path, params)

        def stop(state: RetryCallState) -> bool:
            return self._retry.should_stop(state, server_error_attempts)

        def count_retry(state: RetryCallState) -> None:
            self.stats.retries += 1
            failure = state.outcome.exception() if state.outcome else None
            log.info(
                "retrying GET %s in %.2f s after: %s",
                endpoint,
                state.upcoming_sleep,
                _redact(str(failure), self._token),
            )

        retrying = AsyncRetrying(
            retry=retry_if_exception_type(RetryableFailure),
            wait=self._retry.wait,
            stop=stop,
            before_sleep=count_retry,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    response = await self._attempt(path, params, endpoint, product_id)
                    result = parse(response, endpoint)
                    if inspect.isawaitable(result):
                        return await result
                    return result
        except RetryError as gave_up:
            last = gave_up.last_attempt.exception()
            attempts = gave_up.last_attempt.attempt_number
            status = last.status_code if isinstance(last, RetryableFailure) else None
            raise ApiRequestError(
                endpoint,
                f"gave up after {attempts} attempt(s) within the {self._retry.budget_seconds:g} s"
                f" retry budget; last error: {_redact(str(last), self._token)}",
                status,
            ) from None
        raise AssertionError("unreachable")  # pragma: no cover

    async def _attempt(
        self, path: str, params: dict[str, Any] | None, endpoint: str, product_id: int | None
    ) -> httpx.Response:
        label = _endpoint_label(path)
        async with self._slots:
            self.stats.requests[label] += 1
            try:
                response = await self._http.get(path, params=params)
            except httpx.TimeoutException as exc:
                raise RetryableFailure(f"timed out ({type(exc).__name__})") from None
            except httpx.TransportError as exc:
                raise RetryableFailure(f"connection failed ({type(exc).__name__})") from None
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
            raise ApiRequestError(endpoint, f"{status} {_error_text(response)}", status)
        return response

    # -- endpoints -------------------------------------------------------------------------

    async def list_products(self) -> list[Product]:
        products, _ = await self.get_records("/products", None, "products", Product)
        return products

    async def get_product(self, product_id: int) -> Product:
        path = f"/products/{product_id}"
        body = await self.get_json(path, product_id=product_id)
        return Product.model_validate(body["product"])

    async def test_page(
        self, product_id: int, page: int, per_page: int
    ) -> tuple[list[ExploratoryTest], int]:
        """One page of a product's tests, newest first. Returns (parsed tests, raw count)."""
        path = f"/products/{product_id}/exploratory_tests"
        result = await self.get_records(
            path,
            {"page": page, "per_page": per_page},
            "exploratory_tests",
            ExploratoryTest,
            product_id=product_id,
            server_error_attempts=self._page_attempts,
        )
        self.stats.pages += 1
        return result

    async def test_pages(self, product_id: int) -> AsyncIterator[list[ExploratoryTest]]:
        """Every page of a product's tests, newest first, until an empty or short page.

        Always sends `page` (without it the API silently returns only the last 150). A page
        that keeps failing with 5xx is read again in smaller pages to isolate the poisoned
        record, which is skipped and reported; the rest of the product is kept.
        """
        size = self.page_size
        page = 1
        while True:
            tests, raw_count = await self._page_or_split(product_id, page, size)
            yield tests
            if raw_count < size:
                return
            page += 1

    async def _page_or_split(
        self, product_id: int, page: int, size: int
    ) -> tuple[list[ExploratoryTest], int]:
        try:
            return await self.test_page(product_id, page, size)
        except ApiRequestError as exc:
            if exc.status_code is None or exc.status_code < 500:
                raise
            if size == 1:
                endpoint = f"/products/{product_id}/exploratory_tests?page={page}&per_page=1"
                self.stats.skipped.append(
                    SkippedRecord(endpoint, f"record at position {page} always fails: {exc.detail}")
                )
                log.warning(
                    "skipped the test at position %d of product %d: every read of it fails (%s)",
                    page,
                    product_id,
                    exc.detail,
                )
                return [], 1
        sub = _largest_proper_divisor(size)
        first = (page - 1) * (size // sub) + 1
        tests: list[ExploratoryTest] = []
        raw_total = 0
        for sub_page in range(first, first + size // sub):
            part, raw = await self._page_or_split(product_id, sub_page, sub)
            tests.extend(part)
            raw_total += raw
            if raw < sub:
                break
        return tests, raw_total

    async def get_test(self, test_id: int, product_id: int | None = None) -> ExploratoryTest | None:
        """One test by id, or None when the API no longer knows it (404)."""
        try:
            body = await self.get_json(f"/exploratory_tests/{test_id}")
        except ApiRequestError as exc:
            if exc.status_code == 404:
                return None
            if exc.status_code == 403 and product_id is not None:
                raise ProductUnavailableError(product_id, 403, exc.endpoint) from None
            raise
        items, rejected = validate_records([body.get("exploratory_test")], ExploratoryTest)
        self._report_rejected(f"/exploratory_tests/{test_id}", rejected)
        return items[0] if items else None

    async def bugs_for_tests(
        self, test_ids: Sequence[int], product_id: int | None = None
    ) -> list[Bug]:
        """Bugs of the given tests, asked for in batches of `bug_batch_size`, concurrently."""
        results = await asyncio.gather(
            *(self._bug_batch(b, product_id) for b in self._bug_batches(test_ids))
        )
        return [bug for batch in results for bug in batch]

    async def _bug_batch(self, test_ids: Iterable[int], product_id: int | None) -> list[Bug]:
        bugs, _ = await self.get_records(
            "/bugs", _bug_params(test_ids), "bugs", Bug, product_id=product_id
        )
        return bugs

    async def bug_pages(
        self,
        test_ids: Sequence[int],
        product_id: int,
        parse: Callable[[bytes], Awaitable[tuple[ParsedT, list[Rejected]]]],
    ) -> list[ParsedT]:
        """Like `bugs_for_tests`, but each body goes to `parse` (say, into table rows in
        another process) instead of becoming models here. One result per batch."""
        return await asyncio.gather(
            *(
                self.get_parsed("/bugs", _bug_params(batch), parse, product_id=product_id)
                for batch in self._bug_batches(test_ids)
            )
        )

    def _bug_batches(self, test_ids: Sequence[int]) -> list[Sequence[int]]:
        size = self.bug_batch_size
        return [test_ids[i : i + size] for i in range(0, len(test_ids), size)]

    async def product_features(self, product: Product) -> ProductFeatures:
        """The product's features with user stories; per section for sectioned products.

        A product known to be sectioned is asked per section directly; otherwise the
        product endpoint is tried first and a 422 switches to the section endpoints.
        """
        params = {"includes[]": "user_stories"}
        if not product.is_sectioned:
            path = f"/products/{product.id}/features"
            try:
                features, _ = await self.get_records(
                    path, params, "features", Feature, product_id=product.id
                )
            except SectionedProductError:
                log.info(
                    "product %d answered 422 for its features: reading per section", product.id
                )
                if not product.section_ids:
                    product = await self.get_product(product.id)
            else:
                return ProductFeatures(_unique(features), {}, sectioned=False)
        section_ids = product.section_ids
        per_section = await asyncio.gather(
            *(self._section_features(product.id, sid, params) for sid in section_ids)
        )
        merged: dict[int, Feature] = {}
        sections: dict[int, list[int]] = {}
        for section_id, features in zip(section_ids, per_section, strict=True):
            for feature in features:
                merged.setdefault(feature.id, feature)
                sections.setdefault(feature.id, []).append(section_id)
        return ProductFeatures(list(merged.values()), sections, sectioned=True)

    async def _section_features(
        self, product_id: int, section_id: int, params: dict[str, str]
    ) -> list[Feature]:
        path = f"/products/{product_id}/sections/{section_id}/features"
        features, _ = await self.get_records(
            path, params, "features", Feature, product_id=product_id
        )
        return features


def _json_object(response: httpx.Response, endpoint: str = "") -> dict[str, Any]:
    """The body as a JSON object; anything else is worth another try (`endpoint` unused:
    the signature of `_get`'s parse functions)."""
    try:
        return json_object(response.content)
    except NotAJsonObject as exc:
        raise _worth_retrying(response, exc) from None


def _worth_retrying(response: httpx.Response, problem: NotAJsonObject) -> RetryableFailure:
    kind = response.headers.get("content-type", "no content type")
    return RetryableFailure(f"{response.status_code} with {problem} ({kind})")


def _bug_params(test_ids: Iterable[int]) -> dict[str, Any]:
    return {"filter_test_cycle_ids": ",".join(str(i) for i in test_ids)}


def _endpoint(path: str, params: dict[str, Any] | None) -> str:
    return path if not params else f"{path}?{httpx.QueryParams(params)}"


def _unique(features: list[Feature]) -> list[Feature]:
    return list({feature.id: feature for feature in features}.values())


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _error_text(response: httpx.Response) -> str:
    try:
        body = response.json()
        if isinstance(body, dict) and "error" in body:
            return str(body["error"])[:200]
    except ValueError:
        pass
    return response.reason_phrase


_LABELS = (
    ("/sections/", "section_features"),
    ("/features", "features"),
    ("/user_stories", "user_stories"),
    ("/test_environments", "test_environments"),
    ("/exploratory_tests", "exploratory_tests"),
)


def _endpoint_label(path: str) -> str:
    """A stable name per endpoint for request counts (ids stripped)."""
    if path.startswith("/products"):
        for marker, label in _LABELS:
            if marker in path:
                return label
        return "products" if path.rstrip("/") == "/products" else "product"
    if path.startswith("/exploratory_tests/"):
        return "exploratory_test"
    if path.startswith("/bugs"):
        return "bugs" if path.rstrip("/") == "/bugs" else "bug"
    return path.strip("/").split("/")[0] or "root"


class TestIOClient(ConfigurableResource):
    """Test IO Customer API v2 client: auth, timeouts, retries, pagination, concurrency.

    Without `api_token` the client talks to the built-in simulator, started in-process on
    127.0.0.1 the first time it is needed.
    """

    __test__ = False  # not a pytest test class

    api_token: str | None = Field(
        default=None, repr=False, description="Test IO API token; empty = built-in simulator"
    )
    base_url: str = Field(default=DEFAULT_BASE_URL, description="API root, ends in /v2")
    max_concurrency: int = Field(default=10, description="requests in flight at once")
    timeout_seconds: float = Field(default=30.0, description="per-request timeout")
    retry_budget_seconds: float = Field(
        default=120.0, description="total time one request may spend retrying"
    )
    retry_backoff_seconds: float = Field(default=0.5, description="first 5xx/timeout backoff")
    retry_min_wait_seconds: float = Field(default=0.25, description="floor of any retry wait")
    page_size: int = Field(default=25, description="per_page for test listings")
    bug_batch_size: int = Field(default=15, description="test ids per /bugs call")
    simulator_profile: str = Field(default="demo", description="simulator data set")
    simulator_seed: int = Field(default=7, description="simulator seed")

    _announced: bool = PrivateAttr(default=False)

    def __repr__(self) -> str:  # the token must never show up in a repr
        return f"TestIOClient(base_url={self.base_url!r}, simulator={self.api_token is None})"

    __str__ = __repr__

    @property
    def uses_simulator(self) -> bool:
        return not self.api_token

    def endpoint(self) -> tuple[str, str]:
        """(base URL, token) to use: the configured API, or the embedded simulator."""
        if self.api_token:
            return self.base_url.rstrip("/"), self.api_token
        from testio_assets.simulator.embedded import embedded_simulator

        server = embedded_simulator(self.simulator_profile, self.simulator_seed)
        return server.base_url, server.token

    @asynccontextmanager
    async def session(self) -> AsyncIterator[ApiSession]:
        """Open one session: a pooled httpx client shared by every call inside it."""
        base_url, token = self.endpoint()
        limits = httpx.Limits(
            max_connections=self.max_concurrency, max_keepalive_connections=self.max_concurrency
        )
        async with httpx.AsyncClient(
            base_url=base_url,
            headers={"Authorization": f"Token {token}", "Accept": "application/json"},
            timeout=httpx.Timeout(self.timeout_seconds),
            limits=limits,
        ) as http:
            yield ApiSession(
                http,
                token,
                slots=asyncio.Semaphore(self.max_concurrency),
                retry=RetryPolicy(
                    budget_seconds=self.retry_budget_seconds,
                    backoff_initial=self.retry_backoff_seconds,
                    min_wait=self.retry_min_wait_seconds,
                ),
                page_size=self.page_size,
                bug_batch_size=self.bug_batch_size,
            )
