"""One kept connection per process to Dagster's PostgreSQL storage, instead of one per
operation.

Stock dagster-postgres opens a new connection for every storage operation: a TCP
connection, a server process and a password exchange (SCRAM), about 9 ms each on the
reference machine, and two of them for every planned materialization and check
evaluation it stores (docs/benchmarks.md). dagster-webserver avoids that by calling
`DagsterInstance.optimize_for_webserver` when it starts, which gives the storage a pool
of kept connections. Every process of this project that records many events does the
same: `testio-assets` (commands/instance.py) and each step that syncs, in whichever run
worker runs it. The method is not in Dagster's documented API, but it is no private
name (nothing imports `dagster._`), and on SQLite storage it does nothing.
"""

from __future__ import annotations

import threading
import weakref

from dagster import DagsterInstance

STATEMENT_TIMEOUT_MS = 0  # none, as with Dagster's own connections outside the webserver
POOL_RECYCLE_SECONDS = 3600
MAX_OVERFLOW = 4  # connections beyond the kept one, for threads that overlap briefly

_pooled: weakref.WeakSet[DagsterInstance] = weakref.WeakSet()
_lock = threading.Lock()


def keep_storage_connections(instance: DagsterInstance) -> None:
    """Let `instance`'s storage keep its connections (once per instance)."""
    with _lock:
        if instance in _pooled:
            return
        instance.optimize_for_webserver(
            statement_timeout=STATEMENT_TIMEOUT_MS,
            pool_recycle=POOL_RECYCLE_SECONDS,
            max_overflow=MAX_OVERFLOW,
        )
        _pooled.add(instance)
