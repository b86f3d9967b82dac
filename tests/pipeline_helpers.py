"""Running the real pipeline against a simulator, and reading back what it stored."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pytest
from dagster import DagsterInstance, Definitions

from testio_assets.definitions import build_definitions
from testio_assets.headless_sync import SyncSummary, run_sync
from testio_assets.settings import Settings
from testio_assets.simulator.server import SimulatorServer
from testio_assets.store.schema import BOOKKEEPING, TABLES

KEYS = {"user_stories": "feature_id, ordinal", "users": "product_id, name, role"}


def pipeline_for(
    server: SimulatorServer, db_path: Path, monkeypatch: pytest.MonkeyPatch, **settings: Any
) -> Definitions:
    """Definitions wired to `server` and a DuckDB file, as `.env` would wire them."""
    monkeypatch.setenv("TESTIO_API_TOKEN", server.token)
    options: dict[str, Any] = {
        "api_token": server.token,
        "base_url": server.base_url,
        "duckdb_path": str(db_path),
        "retry_budget_seconds": 5.0,
    }
    options.update(settings)
    return build_definitions(Settings(**options))


def sync(defs: Definitions, instance: DagsterInstance, *products: int) -> SyncSummary:
    return run_sync(defs, instance, list(products) or None)


def snapshot(db_path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's content without bookkeeping timestamps, in key order."""
    with duckdb.connect(str(db_path), read_only=True) as conn:
        result = {}
        for table, columns in TABLES.items():
            names = [c for c in columns if c not in BOOKKEEPING]
            order = KEYS.get(table, "id")
            result[table] = conn.execute(
                f"SELECT {', '.join(names)} FROM {table} ORDER BY {order}"
            ).fetchall()
        return result


def query(db_path: Path, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(db_path), read_only=True) as conn:
        return conn.execute(sql, params or []).fetchall()
