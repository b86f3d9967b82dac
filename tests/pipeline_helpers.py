"""Running the real pipeline against a simulator, and reading back what it stored."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import pytest
from dagster import DagsterInstance, Definitions

from testio_assets.commands.runs import SyncSummary, run_sync
from testio_assets.defs.pipeline import build_definitions
from testio_assets.settings import Settings
from testio_assets.simulator.server import SimulatorServer
from testio_assets.store.publication import writer_path
from testio_assets.store.tables import BOOKKEEPING, TABLES

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
KEYS = {
    "user_stories": "feature_id, ordinal",
    "users": "product_id, name, role",
    "skipped_records": "product_id, asset, endpoint, record_id",
}


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
    """What a reader sees: the published file."""
    with duckdb.connect(str(db_path), read_only=True) as conn:
        return conn.execute(sql, params or []).fetchall()


def edit(db_path: Path, sql: str, params: list[Any] | None = None) -> None:
    """Change the data by hand, as if the pipeline had written it and published it: in the
    pipeline's own file (`.writer`), then copied to what readers open."""
    writer = Path(writer_path(str(db_path)))
    with duckdb.connect(str(writer)) as conn:
        conn.execute(sql, params or [])
        conn.execute("CHECKPOINT")
    shutil.copyfile(writer, db_path)


def process_env(
    tmp_path: Path,
    home: str = "home",
    db: Path | None = None,
    server: SimulatorServer | None = None,
    **extra: str,
) -> dict[str, str]:
    """Environment for a child process: its own DAGSTER_HOME with the project's instance
    settings, a DuckDB file, and (given a server) the simulator's URL and token."""
    dagster_home = tmp_path / home
    dagster_home.mkdir(exist_ok=True)
    shutil.copy(ROOT / "dagster_home" / "dagster.yaml", dagster_home / "dagster.yaml")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("TESTIO_") and k != "FEATURE_CACHE_TTL_SECONDS"
    }
    env.update(
        DAGSTER_HOME=str(dagster_home), TESTIO_DUCKDB_PATH=str(db or tmp_path / "testio.duckdb")
    )
    if server is not None:
        env.update(TESTIO_API_TOKEN=server.token, TESTIO_BASE_URL=server.base_url)
    env.update(extra)
    return env


def run_cli(
    args: list[str], env: dict[str, str], cwd: Path, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """`testio-assets ARGS` (or another console script of the venv) to completion."""
    return subprocess.run(
        [str(BIN / args[0]), *args[1:]],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def stored_test_ids(db: Path) -> set[int]:
    return {row[0] for row in query(db, "SELECT id FROM tests")}


def all_test_ids(server: SimulatorServer) -> set[int]:
    return {t.id for p in server.account.active_products() for t in p.tests}
