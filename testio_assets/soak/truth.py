"""Is the DuckDB copy equal to the account? Two independent answers.

1. Against a reference: a fresh sync of the frozen simulator into an empty file, every
   table and every column of the data (not the sync's own timestamps) compared row by row.
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

import duckdb
from dagster import DagsterInstance

from testio_assets.definitions import build_definitions
from testio_assets.headless_sync import run_sync
from testio_assets.settings import Settings
from testio_assets.simulator.data import SimulatedAccount
from testio_assets.simulator.server import SimulatorServer
from testio_assets.store.tables import BOOKKEEPING, PRIMARY_KEYS, TABLES

# When our sync first saw something: not the account's data, differs from a fresh sync.
SEEN = frozenset({"first_seen_at", "seen_at"})


@dataclass
class TruthComparison:
    """Rows that differ per table (missing, extra or changed), and a few examples."""

    differing: dict[str, int] = field(default_factory=dict)
    compared: dict[str, int] = field(default_factory=dict)
    examples: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.differing.values())


def _scope(table: str, product_ids: Iterable[int]) -> str:
    column = "id" if table == "products" else "product_id"
    ids = ",".join(str(int(p)) for p in product_ids) or "NULL"
    return f"{column} IN ({ids})"


def compare_with_reference(
    stored: Path, reference: Path, product_ids: Iterable[int]
) -> TruthComparison:
    """Every table of `stored` against `reference`, for `product_ids`."""
    ids = sorted(product_ids)
    result = TruthComparison()
    with duckdb.connect() as conn:
        conn.execute(f"ATTACH '{stored}' AS stored (READ_ONLY)")
        conn.execute(f"ATTACH '{reference}' AS truth (READ_ONLY)")
        for table, columns in TABLES.items():
            names = ", ".join(c for c in columns if c not in BOOKKEEPING | SEEN)
            key = ", ".join(PRIMARY_KEYS[table] or ("product_id", "record_id"))
            where = _scope(table, ids)
            left = f"SELECT {names} FROM stored.{table} WHERE {where}"
            right = f"SELECT {names} FROM truth.{table} WHERE {where}"
            rows = conn.execute(
                f"SELECT DISTINCT {key} FROM (({left}) EXCEPT ({right})) "
                f"UNION SELECT DISTINCT {key} FROM (({right}) EXCEPT ({left})) ORDER BY ALL"
            ).fetchall()
            result.differing[table] = len(rows)
            result.compared[table] = int(
                conn.execute(f"SELECT count(*) FROM truth.{table} WHERE {where}").fetchone()[0]  # type: ignore[index]
            )
            result.examples += [f"{table} {row}" for row in rows[:3]]
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
    queries = {
        "products": "SELECT id, is_active FROM products",
        "tests": f"SELECT id, product_id, status FROM tests WHERE {_scope('tests', ids)}",
        "bugs": f"SELECT id, test_id, status FROM bugs WHERE {_scope('bugs', ids)}",
        "features": f"SELECT id, product_id, title FROM features WHERE {_scope('features', ids)}",
    }
    result = TruthComparison()
    with duckdb.connect(str(stored), read_only=True) as conn:
        for table, sql in queries.items():
            found = set(conn.execute(sql).fetchall())
            expected = truth[table]
            if table == "products":  # products the file never saw are not its fault
                known = {row[0] for row in found}
                expected = {row for row in expected if row[0] in known or row[1]}
            wrong = {row[0] for row in found ^ expected}
            result.differing[table] = len(wrong)
            result.compared[table] = len(expected)
            result.examples += [f"{table} id {row_id}" for row_id in sorted(wrong)[:3]]
    return result


def reference_sync(server: SimulatorServer, path: Path, product_ids: list[int]) -> None:
    """A fresh sync of `product_ids` from the (frozen) simulator into a new file."""
    settings = Settings(api_token=server.token, base_url=server.base_url, duckdb_path=str(path))  # type: ignore[call-arg]
    # The definitions read the token from the environment when a run starts.
    saved = os.environ.get("TESTIO_API_TOKEN")
    os.environ["TESTIO_API_TOKEN"] = server.token
    try:
        with DagsterInstance.ephemeral() as instance:
            summary = run_sync(
                build_definitions(settings), instance, product_ids, checks=False, analytics=False
            )
    finally:
        if saved is None:
            os.environ.pop("TESTIO_API_TOKEN", None)
        else:
            os.environ["TESTIO_API_TOKEN"] = saved
    if summary.failure:
        raise RuntimeError(f"the reference sync failed: {summary.failure}")
