"""Merging staged rows into a table: the one bulk upsert every writer uses.

DuckDB's cost is per statement far more than per row, so a merge is a handful of bulk
statements over an Arrow table of staged rows (never a Python loop of inserts), scoped to
the partitions being written, and it counts per product how many rows it created,
updated (content changed, bookkeeping timestamps aside) and removed.
Table and column names in the SQL come from `tables.py`; every value is a parameter.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import pyarrow as pa
from duckdb import DuckDBPyConnection

from testio_assets.store.sql import run
from testio_assets.store.tables import BOOKKEEPING

STAGED = "staged_rows"
WHOLE_TABLE_SQL = "0"  # the group of a count over a whole table
IN_PRODUCTS = "product_id IN (SELECT unnest($products))"  # the partitions being written
WHOLE_TABLE = 0  # the counts key of a merge that is not scoped to partitions


@dataclass(frozen=True)
class WriteCounts:
    """What one write did to one table for one product."""

    created: int = 0
    updated: int = 0
    removed: int = 0
    rows: int = 0  # rows the product has in the table afterwards
    table_rows: int = 0  # rows the whole table has afterwards

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated or self.removed)


def change_counted(
    conn: DuckDBPyConnection,
    change: str,
    table: str,
    where: str,
    params: Mapping[str, object] | None = None,
    group: str = WHOLE_TABLE_SQL,
) -> Counter[int]:
    """Count the rows of `table` matching `where` (per `group`), then apply `change` (an
    UPDATE's SET clause, or DELETE) to them: what `... RETURNING` would tell, which a
    DuckLake does not support."""
    counts = per_product(
        conn, f"SELECT {group}, count(*) FROM {table} t WHERE {where} GROUP BY ALL", params or {}
    )
    if counts:
        if change == "DELETE":
            run(conn, f"DELETE FROM {table} t WHERE {where}", params or {})
        else:
            run(conn, f"UPDATE {table} t SET {change} WHERE {where}", params or {})
    return counts


def per_product(conn: DuckDBPyConnection, sql: str, params: Mapping[str, object]) -> Counter[int]:
    """Product id -> count, from `(product, count)` rows."""
    rows = conn.execute(sql, params).fetchall()
    return Counter({int(product): int(count) for product, count in rows})


@dataclass(frozen=True)
class _Plan:
    """The SQL pieces of one merge of staged rows (`s`) into a table's rows in scope (`t`)."""

    table: str
    columns: list[str]
    key: Sequence[str]
    keep: frozenset[str]
    products: Sequence[int] | None

    @property
    def scope(self) -> str:
        # Only the partitions' rows are compared, not the whole table per write.
        return "" if self.products is None else f"WHERE {IN_PRODUCTS}"

    @property
    def group(self) -> str:
        return str(WHOLE_TABLE) if self.products is None else "product_id"

    @property
    def params(self) -> dict[str, object]:
        return {} if self.products is None else {"products": list(self.products)}

    @property
    def target(self) -> str:
        return f"(SELECT * FROM {self.table} {self.scope})"

    @property
    def on_key(self) -> str:
        return " AND ".join(f"t.{k} = s.{k}" for k in self.key)

    @property
    def column_list(self) -> str:
        return ", ".join(self.columns)

    @property
    def content_differs(self) -> str:
        """True where a row's content changed: bookkeeping and kept columns aside (a kept
        column is never overwritten, so a difference there is no update)."""
        skip = set(self.key) | BOOKKEEPING | self.keep
        content = [c for c in self.columns if c not in skip]
        if not content:
            return "false"
        return (
            f"ROW({', '.join('s.' + c for c in content)}) IS DISTINCT FROM "
            f"ROW({', '.join('t.' + c for c in content)})"
        )


def merge(
    conn: DuckDBPyConnection,
    table: str,
    staged: pa.Table,
    key: Sequence[str],
    *,
    products: Sequence[int] | None = None,
    remove_missing: bool = False,
    keep: Iterable[str] = (),
) -> dict[int, WriteCounts]:
    """Upsert `staged` into `table` by `key`; returns counts per product.

    Args:
        products: the partitions being written (staged rows carry `product_id`): only
            their rows are compared, removed and counted, each product on its own.
            Without it the whole table is one scope, counted under `WHOLE_TABLE`.
        remove_missing: delete the rows in scope that are not in `staged`.
        keep: columns the upsert must not overwrite on existing rows.
    """
    plan = _Plan(table, staged.column_names, key, frozenset(keep), products)
    conn.register(STAGED, staged)
    try:
        before = per_product(
            conn,
            f"SELECT {plan.group}, count(*) FROM {table} {plan.scope} GROUP BY ALL",
            plan.params,
        )
        if products is not None and not before:
            # None of these partitions has rows yet (a first sync): every staged row is
            # new, and one plain insert is all there is to do.
            return _insert_all(conn, plan, staged, products)
        created, updated = _compare(conn, plan)
        removed = _remove_missing(conn, plan) if remove_missing else Counter()
        _write_changes(conn, plan, created.total(), updated.total())
        if len(staged) > created.total() + updated.total():
            _confirm_unchanged(conn, plan)
    finally:
        conn.unregister(STAGED)
    total = table_rows(conn, table)
    return {
        product: WriteCounts(
            created[product],
            updated[product],
            removed[product],
            before[product] + created[product] - removed[product],
            total,
        )
        for product in (products if products is not None else [WHOLE_TABLE])
    }


def table_rows(conn: DuckDBPyConnection, table: str) -> int:
    return int(conn.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0])


def _insert_all(
    conn: DuckDBPyConnection, plan: _Plan, staged: pa.Table, products: Sequence[int]
) -> dict[int, WriteCounts]:
    run(
        conn,
        f"INSERT INTO {plan.table} ({plan.column_list}) SELECT {plan.column_list} FROM {STAGED}",
    )
    created = Counter(int(p) for p in staged.column("product_id").to_pylist())
    total = table_rows(conn, plan.table)
    return {p: WriteCounts(created=created[p], rows=created[p], table_rows=total) for p in products}


def _compare(conn: DuckDBPyConnection, plan: _Plan) -> tuple[Counter[int], Counter[int]]:
    """(new rows, changed rows) per product."""
    created: Counter[int] = Counter()
    updated: Counter[int] = Counter()
    group = plan.group if plan.products is None else "s." + plan.group
    for product, new, changed in conn.execute(
        f"SELECT {group}, "
        f"count(*) FILTER (WHERE t.{plan.key[0]} IS NULL), "
        f"count(*) FILTER (WHERE t.{plan.key[0]} IS NOT NULL AND {plan.content_differs}) "
        f"FROM {STAGED} s LEFT JOIN {plan.target} t ON {plan.on_key} GROUP BY ALL",
        plan.params,
    ).fetchall():
        created[int(product)] += int(new)
        updated[int(product)] += int(changed)
    return created, updated


def _remove_missing(conn: DuckDBPyConnection, plan: _Plan) -> Counter[int]:
    missing = f"NOT EXISTS (SELECT 1 FROM {STAGED} s WHERE {plan.on_key})"
    where = f"{IN_PRODUCTS} AND {missing}" if plan.scope else missing
    group = "t.product_id" if plan.products is not None else WHOLE_TABLE_SQL
    return change_counted(conn, "DELETE", plan.table, where, plan.params, group)


def _write_changes(conn: DuckDBPyConnection, plan: _Plan, created: int, updated: int) -> None:
    if created:
        # New rows: a plain insert (no conflict handling) is twice as fast.
        run(
            conn,
            f"INSERT INTO {plan.table} ({plan.column_list}) SELECT {plan.column_list} "
            f"FROM {STAGED} s WHERE NOT EXISTS (SELECT 1 FROM {plan.target} t WHERE {plan.on_key})",
            plan.params,
        )
    if updated:
        # UPDATE ... FROM rather than INSERT ... ON CONFLICT: the same statement works on
        # a DuckLake, whose tables have no keys.
        overwrite = [c for c in plan.columns if c not in plan.key and c not in plan.keep]
        run(
            conn,
            f"UPDATE {plan.table} t SET "
            + ", ".join(f"{c} = s.{c}" for c in overwrite)
            + f" FROM {STAGED} s WHERE {plan.on_key} AND {plan.content_differs}"
            + (f" AND t.{IN_PRODUCTS}" if plan.scope else ""),
            plan.params,
        )


def _confirm_unchanged(conn: DuckDBPyConnection, plan: _Plan) -> None:
    """Unchanged rows were confirmed by the API just now: move their timestamps only."""
    bookkeeping = [c for c in plan.columns if c in BOOKKEEPING and c not in plan.keep]
    if bookkeeping:
        run(
            conn,
            f"UPDATE {plan.table} t SET "
            + ", ".join(f"{c} = s.{c}" for c in bookkeeping)
            + f" FROM {STAGED} s WHERE {plan.on_key}"
            + (f" AND t.{IN_PRODUCTS}" if plan.scope else ""),
            plan.params,
        )
