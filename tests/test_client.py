"""The API client against the simulator over real loopback HTTP, with injected faults."""

from __future__ import annotations

import asyncio
import time
from email.utils import formatdate
from typing import Any

import pytest

from testio_assets.api.client import TestIOClient
from testio_assets.api.errors import (
    ApiRequestError,
    ProductUnavailableError,
    TokenRefusedError,
)
from testio_assets.api.retry_policy import parse_retry_after
from testio_assets.api.session import ApiSession
from testio_assets.simulator.faults import Fault
from testio_assets.simulator.profiles import Profile
from testio_assets.simulator.server import SimulatorServer
from tests.conftest import client_for


def run(client: TestIOClient, work: Any) -> Any:
    """Run `work(session)` in a fresh session; returns (result, session stats)."""

    async def main() -> Any:
        async with client.session() as session:
            return await work(session), session.stats

    return asyncio.run(main())


async def all_tests(session: ApiSession, product_id: int) -> list[int]:
    return [t.id for page in [p async for p in session.test_pages(product_id)] for t in page]


def sectioned_and_plain(server: SimulatorServer) -> tuple[int, int]:
    products = server.account.active_products()
    return (
        next(p.id for p in products if p.is_sectioned),
        next(p.id for p in products if not p.is_sectioned),
    )


def test_pagination_reads_every_test_beyond_150() -> None:
    big = Profile(
        products=1, tests_per_product=(180, 180), bugs_per_test=(0, 0), features_per_product=(1, 1)
    )
    with SimulatorServer(big, seed=3) as server:
        product = server.account.active_products()[0]
        ids, stats = run(client_for(server, page_size=25), lambda s: all_tests(s, product.id))
    assert len(ids) == 180 and len(set(ids)) == 180
    assert ids == sorted(ids, reverse=True)  # newest first, as the API serves them
    # 7 full pages of 25 and a short one of 5: no extra request after the short page.
    assert stats.requests["exploratory_tests"] == 8
    assert server.requests["exploratory_tests"] == 8


def test_an_empty_page_ends_pagination() -> None:
    exact = Profile(
        products=1, tests_per_product=(50, 50), bugs_per_test=(0, 0), features_per_product=(1, 1)
    )
    with SimulatorServer(exact, seed=3) as server:
        product = server.account.active_products()[0]
        ids, stats = run(client_for(server, page_size=25), lambda s: all_tests(s, product.id))
    assert len(ids) == 50 and stats.requests["exploratory_tests"] == 3


@pytest.mark.parametrize("retry_after", ["1", "http-date", "0"])
def test_429_honours_retry_after(simulator: SimulatorServer, retry_after: str) -> None:
    value = formatdate(time.time() + 1, usegmt=True) if retry_after == "http-date" else retry_after
    simulator.arm(Fault(endpoint="products", status=429, retry_after=value, times=2))
    started = time.monotonic()
    products, stats = run(
        client_for(simulator, retry_min_wait_seconds=0.2), lambda s: s.list_products()
    )
    elapsed = time.monotonic() - started
    assert len(products) == len(simulator.account.active_products())
    assert stats.requests["products"] == 3 and stats.retries == 2
    if retry_after == "0":
        # `Retry-After: 0` must not become a hot loop: the floor still applies.
        assert elapsed >= 0.4
    else:
        assert elapsed >= 1.0 if retry_after == "1" else elapsed >= 0.5


def test_retry_after_parses_seconds_and_http_dates() -> None:
    now = time.time()
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(formatdate(now + 30, usegmt=True), now=now) == pytest.approx(30, abs=1)
    assert parse_retry_after(formatdate(now - 30, usegmt=True), now=now) == 0.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


def test_a_429_that_never_ends_stops_at_the_time_budget(simulator: SimulatorServer) -> None:
    simulator.arm(Fault(endpoint="products", status=429, retry_after="1", times=None))
    started = time.monotonic()
    with pytest.raises(ApiRequestError) as caught:
        run(client_for(simulator, retry_budget_seconds=2.5), lambda s: s.list_products())
    assert time.monotonic() - started < 4
    message = str(caught.value)
    assert "/products" in message and "429" in message and "retry budget" in message


def test_5xx_is_retried_with_backoff(simulator: SimulatorServer) -> None:
    simulator.arm(Fault(endpoint="products", status=503, times=2))
    products, stats = run(client_for(simulator), lambda s: s.list_products())
    assert products and stats.retries == 2 and stats.requests["products"] == 3


def test_persistent_5xx_gives_up_naming_the_endpoint(simulator: SimulatorServer) -> None:
    simulator.arm(Fault(endpoint="products", status=502, times=None))
    with pytest.raises(
        ApiRequestError,
        match=r"GET http://127.0.0.1:\d+/customer/v2/products failed: gave up after 6",
    ):
        run(client_for(simulator), lambda s: s.list_products())


def test_a_hanging_request_times_out_and_is_retried(simulator: SimulatorServer) -> None:
    simulator.arm(Fault(endpoint="products", status=200, delay_seconds=3, times=1))
    # The fault's status 200 with no body would be broken; after the timeout the retry
    # gets the real answer.
    started = time.monotonic()
    products, stats = run(client_for(simulator, timeout_seconds=0.5), lambda s: s.list_products())
    assert products and stats.retries == 1
    assert time.monotonic() - started < 2.5


def test_a_poisoned_record_is_isolated_and_skipped() -> None:
    profile = Profile(
        products=1, tests_per_product=(60, 60), bugs_per_test=(0, 0), features_per_product=(1, 1)
    )
    with SimulatorServer(profile, seed=5) as server:
        product = server.account.active_products()[0]
        newest_first = [t.id for t in reversed(product.tests)]
        poisoned = newest_first[31]  # on page 2 of 25
        server.faults.poisoned_test_ids.add(poisoned)
        ids, stats = run(client_for(server), lambda s: all_tests(s, product.id))
    assert poisoned not in ids
    assert sorted(ids) == sorted(set(newest_first) - {poisoned})
    assert len(stats.skipped) == 1 and "always fails" in stats.skipped[0].reason


def test_a_malformed_record_is_skipped_and_reported(simulator: SimulatorServer) -> None:
    product = simulator.account.active_products()[0]
    broken = product.tests[-1].id
    simulator.faults.malformed_test_ids.add(broken)
    ids, stats = run(client_for(simulator), lambda s: all_tests(s, product.id))
    assert broken not in ids and len(ids) == len(product.tests) - 1
    assert [r.record_id for r in stats.skipped] == [f"broken-{broken}"]


def test_401_stops_at_once_with_one_clear_message(simulator: SimulatorServer) -> None:
    bad = client_for(simulator, api_token="wrong-token-123")
    with pytest.raises(TokenRefusedError, match="refused the token") as caught:
        run(bad, lambda s: s.list_products())
    assert simulator.requests["products"] == 1  # no retry
    assert "wrong-token-123" not in str(caught.value)


def test_403_for_one_product_is_a_typed_error(simulator: SimulatorServer) -> None:
    denied, allowed = (p.id for p in simulator.account.active_products()[:2])
    simulator.arm(Fault(endpoint="*", status=403, product_id=denied, times=None))

    async def both(session: ApiSession) -> list[Any]:
        return await asyncio.gather(
            all_tests(session, denied), all_tests(session, allowed), return_exceptions=True
        )

    (denied_result, allowed_result), _ = run(client_for(simulator), both)
    assert isinstance(denied_result, ProductUnavailableError)
    assert denied_result.product_id == denied and "403" in str(denied_result)
    assert isinstance(allowed_result, list) and allowed_result


def test_a_vanished_product_is_a_typed_error(simulator: SimulatorServer) -> None:
    gone = simulator.account.active_products()[0].id
    simulator.remove_product(gone)
    with pytest.raises(ProductUnavailableError, match="404"):
        run(client_for(simulator), lambda s: all_tests(s, gone))


def test_sectioned_products_fall_back_to_section_endpoints(simulator: SimulatorServer) -> None:
    sectioned, plain = sectioned_and_plain(simulator)

    async def features(session: ApiSession) -> Any:
        products = {p.id: p for p in await session.list_products()}
        # Pretend we do not know it is sectioned: a 422 must switch to the sections.
        bare = products[sectioned].model_copy(update={"sections": [], "sections_with_default": []})
        return (
            await session.product_features(bare),
            await session.product_features(products[plain]),
        )

    (by_section, flat), stats = run(client_for(simulator), features)
    truth = simulator.account.products[sectioned].features
    assert sorted(f.id for f in by_section.features) == sorted(truth)  # complete, de-duplicated
    assert {fid: sorted(s) for fid, s in by_section.section_ids.items()} == {
        fid: sorted(f.section_ids) for fid, f in truth.items()
    }
    assert all(f.user_stories is not None for f in by_section.features)
    assert sorted(f.id for f in flat.features) == sorted(simulator.account.products[plain].features)
    assert stats.requests["features"] == 2  # one 422, one plain product


def test_request_counts_match_on_both_sides(simulator: SimulatorServer) -> None:
    product = simulator.account.active_products()[0]
    test_ids = [t.id for t in product.tests]

    async def work(session: ApiSession) -> Any:
        pages = await session.bug_pages(test_ids, product.id, shape=list)
        return [bug for page in pages for bug in page]

    bugs, stats = run(client_for(simulator, bug_batch_size=10), work)
    expected_batches = -(-len(test_ids) // 10)
    assert stats.requests["bugs"] == simulator.requests["bugs"] == expected_batches
    truth = sum(len(simulator.account.bugs_by_test[t]) for t in test_ids)
    assert len(bugs) == truth


def test_the_token_never_shows_in_repr_or_errors(simulator: SimulatorServer) -> None:
    secret = "tok-SECRET-4242"
    client = client_for(simulator, api_token=secret)
    assert secret not in repr(client) and secret not in str(client)
    with pytest.raises(TokenRefusedError) as caught:
        run(client, lambda s: s.list_products())
    assert secret not in str(caught.value) and secret not in repr(caught.value)


def test_the_strategies_work_on_their_own() -> None:
    """Page splitting and bug batching are plain functions of their inputs."""
    from testio_assets.api.bug_batches import batches
    from testio_assets.api.test_pages import largest_proper_divisor

    assert [largest_proper_divisor(n) for n in (25, 5, 7, 1, 12)] == [5, 1, 1, 1, 6]
    assert batches(list(range(7)), 3) == [[0, 1, 2], [3, 4, 5], [6]]
    assert batches([], 15) == []
