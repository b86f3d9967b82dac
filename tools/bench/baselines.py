"""What a benchmark run is measured against: the requests a perfect client needs, and
the floor (the same data fetched by nothing but httpx and asyncio)."""

from __future__ import annotations

import asyncio

import httpx

from testio_assets.simulator.data import SimulatedAccount
from testio_assets.sync.test_reread import plan_reread


def needed_requests(account: SimulatedAccount, page_size: int, batch: int) -> dict[str, int]:
    """What a perfect client must ask for a full sync of this account."""
    pages = bugs = features = 0
    for product in account.active_products():
        tests = len(product.tests)
        pages += tests // page_size + 1  # full pages, then a short (or empty) one
        bugs += -(-tests // batch)
        features += len(product.sections) if product.is_sectioned else 1
    return {
        "products": 1,
        "pages": pages,
        "bug batches": bugs,
        "feature calls": features,
        "total": 1 + pages + bugs + features,
    }


def needed_for_refresh(account: SimulatedAccount, page_size: int, batch: int) -> int:
    """What a no-change refresh may ask: the overlap pages, the cheaper re-read of the
    changeable tests (more pages or ids, `sync/test_reread.py`), their bugs."""
    total = 1
    for product in account.active_products():
        newest = product.tests[::-1]
        pages = 1 if len(newest) < page_size else 2
        on_pages = {t.id for t in newest[: pages * page_size]}
        changeable = [t for t in newest if t.can_change]
        missing = [t.id for t in changeable if t.id not in on_pages]
        plan = plan_reread([t.id for t in newest], missing, 0, pages, page_size)
        total += pages + plan.requests(pages)
        total += -(-len(changeable) // batch)
    return total


async def bare_client(
    base_url: str, token: str, concurrency: int, page_size: int, batch: int
) -> int:
    """The floor: fetch the same data with nothing but httpx and asyncio."""
    slots = asyncio.Semaphore(concurrency)
    count = 0
    async with httpx.AsyncClient(
        base_url=base_url,
        headers={"Authorization": f"Token {token}"},
        limits=httpx.Limits(max_connections=concurrency),
        timeout=60,
    ) as http:

        async def get(path: str, **params: object) -> dict:
            nonlocal count
            async with slots:
                count += 1
                response = await http.get(path, params=params)
            response.raise_for_status()
            return response.json()

        async def product(item: dict) -> None:
            pid = item["id"]
            ids: list[int] = []
            page = 1
            while True:
                tests = (
                    await get(f"/products/{pid}/exploratory_tests", page=page, per_page=page_size)
                )["exploratory_tests"]
                ids += [t["id"] for t in tests]
                if len(tests) < page_size:
                    break
                page += 1
            chunks = [ids[i : i + batch] for i in range(0, len(ids), batch)]
            sections = [s["id"] for s in item["sections"]]
            calls = [get("/bugs", filter_test_cycle_ids=",".join(map(str, c))) for c in chunks]
            calls += (
                [
                    get(f"/products/{pid}/sections/{s}/features", **{"includes[]": "user_stories"})
                    for s in sections
                ]
                if sections
                else [get(f"/products/{pid}/features", **{"includes[]": "user_stories"})]
            )
            await asyncio.gather(*calls)

        products = (await get("/products"))["products"]
        await asyncio.gather(*(product(p) for p in products))
    return count
