"""The run's database session: queued writes are batched, and a bad item fails alone."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from testio_assets.api.models import ExploratoryTest
from testio_assets.defs.resources import build_resources
from testio_assets.settings import Settings
from testio_assets.store import rows
from testio_assets.store.database import DuckDBStore
from testio_assets.store.session import StoreSession, store_session
from testio_assets.store.writers import TestsWrite, write_tests

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def _insert(conn: duckdb.DuckDBPyConnection, items: Sequence[int]) -> list[int]:
    """A batch writer: one INSERT for all items; each item's result is its square."""
    conn.execute("CREATE TABLE IF NOT EXISTS seen (id INTEGER PRIMARY KEY)").fetchall()
    conn.execute("INSERT INTO seen SELECT unnest(?)", [list(items)]).fetchall()
    return [item * item for item in items]


async def _queue_behind_a_slow_read(
    db: StoreSession, items: Sequence[int]
) -> list[int | BaseException]:
    """Submit `items` while the session is busy, so they wait together."""
    slow = asyncio.ensure_future(db.read(lambda conn: time.sleep(0.3)))
    await asyncio.sleep(0.05)
    results = await asyncio.gather(
        *(db.write_batched(_insert, item) for item in items), return_exceptions=True
    )
    await slow
    return results


def _stored(path: Path, sql: str) -> list[tuple[object, ...]]:
    with duckdb.connect(str(path)) as conn:
        return conn.execute(sql).fetchall()


def test_items_waiting_together_are_written_in_one_transaction(db: Path) -> None:
    async def scenario() -> tuple[list[int | BaseException], int]:
        async with store_session(DuckDBStore(path=str(db))) as session:
            results = await _queue_behind_a_slow_read(session, list(range(1, 21)))
            return results, session.batches

    results, batches = asyncio.run(scenario())
    assert results == [i * i for i in range(1, 21)]
    assert batches == 1
    assert _stored(db, "SELECT count(*) FROM seen") == [(20,)]


def test_a_failing_item_fails_alone_and_the_others_are_stored(db: Path) -> None:
    async def scenario() -> list[int | BaseException]:
        async with store_session(DuckDBStore(path=str(db))) as session:
            await session.write_batched(_insert, 5)  # so that a second 5 breaks the key
            return await _queue_behind_a_slow_read(session, [1, 2, 5, 7])

    results = asyncio.run(scenario())
    assert results[:2] == [1, 4] and results[3] == 49
    assert isinstance(results[2], duckdb.ConstraintException)
    assert _stored(db, "SELECT id FROM seen ORDER BY id") == [(1,), (2,), (5,), (7,)]


def _tests(product_id: int, ids: list[int]) -> TestsWrite:
    tests = [ExploratoryTest(id=i, title=f"test {i}", status="running") for i in ids]
    skipped = rows.skipped_rows(product_id, "tests", [], NOW)
    return TestsWrite(product_id, rows.test_rows(product_id, tests, NOW), skipped)


def test_real_writer_batches_products_with_counts_each_and_isolates_a_bad_one(db: Path) -> None:
    """Three products' tests in one batch; one product's rows are broken (a repeated id)."""

    async def scenario() -> list[object]:
        async with store_session(DuckDBStore(path=str(db))) as session:
            await session.write_batched(write_tests, _tests(1, [10]))  # one stored already
            slow = asyncio.ensure_future(session.read(lambda conn: time.sleep(0.3)))
            await asyncio.sleep(0.05)
            results = await asyncio.gather(
                session.write_batched(write_tests, _tests(1, [10, 11, 12])),
                session.write_batched(write_tests, _tests(2, [20, 20])),
                session.write_batched(write_tests, _tests(3, [30])),
                return_exceptions=True,
            )
            await slow
            return results

    first, broken, third = asyncio.run(scenario())
    assert not isinstance(first, BaseException) and not isinstance(third, BaseException)
    assert (first.created, first.updated, first.rows) == (2, 0, 3)
    assert (third.created, third.rows) == (1, 1)
    assert isinstance(broken, duckdb.Error)
    stored = _stored(db, "SELECT product_id, count(*) FROM tests GROUP BY ALL ORDER BY 1")
    assert stored == [(1, 3), (3, 1)]


def test_opening_failure_fails_the_waiting_jobs_without_hanging(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where a directory should be")
    store = DuckDBStore(path=str(blocker / "testio.duckdb"))

    async def scenario() -> None:
        async with store_session(store) as session:
            await session.write_batched(_insert, 1)

    with pytest.raises(Exception, match="not-a-directory"):
        asyncio.run(scenario())


def test_connections_use_the_memory_limit_setting(tmp_path: Path) -> None:
    """A limit for DuckDB's buffers when set; DuckDB's own default (80 % of RAM) when not."""
    store = build_resources(
        Settings(
            duckdb_path=str(tmp_path / "t.duckdb"), duckdb_memory_limit="300MB", simulator=True
        )  # type: ignore[call-arg]
    )["store"]
    assert isinstance(store, DuckDBStore)
    setting = "SELECT current_setting('memory_limit')"
    limit = store.read(lambda conn: conn.execute(setting).fetchone())
    assert limit is not None and limit[0] == "286.1 MiB"  # 300 MB, as DuckDB shows it
    default = DuckDBStore(path=str(tmp_path / "t.duckdb")).read(
        lambda conn: conn.execute(setting).fetchone()
    )
    with duckdb.connect() as plain:
        duckdbs_own = plain.execute("SELECT current_setting('memory_limit')").fetchone()
    assert default == duckdbs_own  # unset: DuckDB's own default


def test_every_write_lands_in_small_row_groups(tmp_path: Path) -> None:
    """Written in many small transactions, as a sync writes, a table still ends in row
    groups of at most `ROW_GROUP_SIZE` rows: a checkpoint then rewrites one small group,
    not DuckDB's 122,880-row ones (200+ MiB for the bugs table)."""
    from testio_assets.store.database import ROW_GROUP_SIZE

    store = DuckDBStore(path=str(tmp_path / "t.duckdb"))
    rows_per_write = 7_000

    def write(conn: duckdb.DuckDBPyConnection, start: int) -> None:
        conn.execute("CREATE TABLE IF NOT EXISTS wide (id BIGINT, body VARCHAR)").fetchall()
        conn.execute(
            "INSERT INTO wide SELECT range, repeat('x', 50) FROM range(?, ?)",
            [start, start + rows_per_write],
        ).fetchall()

    for start in range(0, 5 * rows_per_write, rows_per_write):
        store.write(write, start)  # each write alone, published (so checkpointed) at its end
    with duckdb.connect(str(tmp_path / "t.duckdb"), read_only=True) as conn:
        groups = conn.execute(
            "SELECT row_group_id, max(start + count) - min(start) FROM pragma_storage_info('wide') "
            "WHERE column_name = 'id' GROUP BY ALL"
        ).fetchall()
        total = conn.execute("SELECT count(*) FROM wide").fetchone()
    assert total == (5 * rows_per_write,)
    assert len(groups) >= 3
    assert max(size for _, size in groups) <= ROW_GROUP_SIZE, groups


def test_a_path_with_a_quote_is_attached(tmp_path: Path) -> None:
    """The file is attached by an SQL literal, not a parameter: a quote in the path stays
    part of the name."""
    store = DuckDBStore(path=str(tmp_path / "o'brien" / "t.duckdb"))
    assert store.read(lambda conn: conn.execute("SELECT 42").fetchone()) == (42,)
    assert (tmp_path / "o'brien" / "t.duckdb.writer").exists()
