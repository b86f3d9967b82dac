"""Is the DuckDB copy equal to the account? Two independent answers.

1. Against a reference: a fresh sync of the frozen simulator into an empty file, every
   table and every column of the data (not the sync's own timestamps) compared row by row,
   the analytics tables too (current only if rebuilt after every change of their data).
2. Against the simulator's own objects, without any of our parsing: each product's
   activity, each test's status, each bug's test and status, each feature's title.

Both cover the active products but the one answering 403 (its rows keep what was read
before it did). A row that differs counts once, whatever the number of its fields.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from dagster import DagsterInstance

from testio_assets.commands.runs import run_sync
from testio_assets.defs.pipeline import build_definitions
from testio_assets.settings import Settings
from testio_assets.simulator.data import SimulatedAccount
from testio_assets.simulator.server import SimulatorServer
from testio_assets.store.comparison import differing_keys, key_facts


@dataclass
class TruthComparison:
    """Rows that differ per table (missing, extra or changed), and a few examples."""

    differing: dict[str, int] = field(default_factory=dict)
    compared: dict[str, int] = field(default_factory=dict)
    examples: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.differing.values())


def compare_with_reference(
    stored: Path, reference: Path, product_ids: Iterable[int]
) -> TruthComparison:
    """Every table of `stored` against `reference`, for `product_ids`."""
    result = TruthComparison()
    for table, (count, keys) in differing_keys(stored, reference, product_ids).items():
        result.differing[table] = len(keys)
        result.compared[table] = count
        result.examples += [f"{table} {key}" for key in keys[:3]]
    return result


def compare_with_simulator(
    stored: Path, account: SimulatedAccount, product_ids: Iterable[int]
) -> TruthComparison:
    """Key facts of `stored` against the simulator's objects, for `product_ids`; every
    product the file knows must be (in)active as the account says."""
    ids = set(product_ids)
    products = [account.products[p] for p in sorted(ids)]
    tests = [t for p in products for t in p.tests]
    truth = {
        "products": {(p.id, p.active) for p in account.products.values()},
        "tests": {(t.id, t.product_id, t.status) for t in tests},
        "bugs": {(b.id, b.test_id, b.status) for t in tests for b in account.bugs_by_test[t.id]},
        "features": {(f.id, f.product_id, f.title) for p in products for f in p.features.values()},
    }
    result = TruthComparison()
    for table, found in key_facts(stored, ids).items():
        expected = truth[table]
        if table == "products":  # products the file never saw are not its fault
            known = {row[0] for row in found}
            expected = {row for row in expected if row[0] in known or row[1]}
        wrong = {row[0] for row in found ^ expected}
        result.differing[table] = len(wrong)
        result.compared[table] = len(expected)
        result.examples += [f"{table} id {row_id}" for row_id in sorted(wrong)[:3]]  # type: ignore[type-var]
    return result


def reference_sync(server: SimulatorServer, path: Path, product_ids: list[int]) -> None:
    """A fresh sync of `product_ids` from the (frozen) simulator into a new file, with
    their analytics."""
    settings = Settings(api_token=server.token, base_url=server.base_url, duckdb_path=str(path))  # type: ignore[call-arg]
    # The definitions read the token from the environment when a run starts.
    saved = os.environ.get("TESTIO_API_TOKEN")
    os.environ["TESTIO_API_TOKEN"] = server.token
    try:
        with DagsterInstance.ephemeral() as instance:
            summary = run_sync(build_definitions(settings), instance, product_ids, checks=False)
    finally:
        if saved is None:
            os.environ.pop("TESTIO_API_TOKEN", None)
        else:
            os.environ["TESTIO_API_TOKEN"] = saved
    if summary.failure:
        raise RuntimeError(f"the reference sync failed: {summary.failure}")
