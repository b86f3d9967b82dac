"""The `duckdb` pool's limit, set up safely by runs that start together on PostgreSQL.

The first time a step of a pool asks for a slot, Dagster writes the pool's row with the
instance's default limit (`concurrency.pools.default_limit`): an INSERT and, when another
process wrote the row first, an UPDATE in the same transaction. PostgreSQL aborts a
transaction at its first error, so the UPDATE fails too, and so does the step: two runs
whose first pooled steps start together on a new database lose one of them
(dagster-io/dagster#33552, open; seen here in CI, three overlapping syncs on one shared
instance: "duplicate key value violates unique constraint
concurrency_limits_concurrency_key_key", the products catalogue not read).

`initialize_pool_limit` writes the same row with one INSERT ... ON CONFLICT DO UPDATE:
the second process waits for the first's row, then keeps it (or sets the new default, as
Dagster does). The slot rows are then counted and topped up in that transaction, after the
row lock, so two processes cannot both add them.

dagster-postgres's event log takes it as its method (`project_storage.postgres_storage`);
SQLite keeps Dagster's own (a failed INSERT there leaves the transaction usable, and
writers take turns on the file).

Private Dagster names, and why: the tables and the slot bookkeeping are not exported and
no public hook sets up a pool's row. `tests/test_instance_storage.py` fingerprints the
method replaced here, so an upgrade that changes it (or fixes the issue) fails there.
"""

from __future__ import annotations

from typing import Any

from dagster._core.storage.event_log.schema import ConcurrencyLimitsTable
from dagster._core.storage.event_log.sql_event_log import SqlEventLogStorage
from sqlalchemy.dialects.postgresql import insert


def initialize_pool_limit(storage: Any, concurrency_key: str) -> bool:
    """`SqlEventLogStorage.initialize_concurrency_limit_to_default` for PostgreSQL, safe
    when processes call it at once: whether the pool has a limit from the default."""
    if not storage.has_concurrency_limits_table or not storage.has_default_pool_limit_col:
        return SqlEventLogStorage.initialize_concurrency_limit_to_default(storage, concurrency_key)
    storage._reconcile_concurrency_limits_from_slots()
    if not storage.has_instance:
        return False
    default_limit = storage._instance.global_op_concurrency_default_limit
    if default_limit is None:
        # Nothing is inserted: Dagster's way (delete the row and the slots) cannot collide.
        return SqlEventLogStorage.initialize_concurrency_limit_to_default(storage, concurrency_key)
    limit_column = ConcurrencyLimitsTable.c.limit
    statement = (
        insert(ConcurrencyLimitsTable)
        .values(concurrency_key=concurrency_key, limit=default_limit, using_default_limit=True)
        .on_conflict_do_update(
            index_elements=[ConcurrencyLimitsTable.c.concurrency_key],
            set_={"limit": default_limit},
            # An unchanged row is left as it is, but still locked until the commit.
            where=limit_column != default_limit,
        )
    )
    with storage.index_transaction() as conn:
        conn.execute(statement)
        storage._allocate_concurrency_slots(conn, concurrency_key, default_limit)
    return True
