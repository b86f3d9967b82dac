"""The store as a DuckLake (catalog in the real PostgreSQL server the suite starts, data
files in a directory): several writers at once, readers any time, upkeep on a schedule."""

from __future__ import annotations

import subprocess
import time
import uuid
from pathlib import Path

import pytest
from dagster import DagsterInstance

from testio_assets.defs.pipeline import build_definitions
from testio_assets.settings import Settings
from testio_assets.simulator.server import SimulatorServer
from testio_assets.store.database import DuckDBStore
from tests.conftest import TEST_PROFILE
from tests.pipeline_helpers import BIN, process_env
from tools.throwaway_postgres import ThrowawayPostgres

COUNT_TESTS = "SELECT count(*) FROM tests"


@pytest.fixture
def lake(postgres_server: ThrowawayPostgres, tmp_path: Path) -> dict[str, str]:
    """The settings of a new, empty DuckLake."""
    catalog = postgres_server.create_database(f"lake_{uuid.uuid4().hex[:10]}")
    return {
        "TESTIO_DUCKLAKE_CATALOG": catalog,
        "TESTIO_DUCKLAKE_DATA_PATH": str(tmp_path / "lake") + "/",
    }


def lake_store(lake: dict[str, str]) -> DuckDBStore:
    return DuckDBStore(
        lake_catalog=lake["TESTIO_DUCKLAKE_CATALOG"],
        lake_data_path=lake["TESTIO_DUCKLAKE_DATA_PATH"],
    )


def _ids(store: DuckDBStore, table: str, products: list[int]) -> set[int]:
    rows = store.query(
        lambda conn: conn.execute(
            f"SELECT id FROM {table} WHERE product_id IN (SELECT unnest(?))", [products]
        ).fetchall()
    )
    return {row[0] for row in rows}


def test_two_writers_on_two_dagster_homes_and_a_reader_at_once(
    lake: dict[str, str], tmp_path: Path
) -> None:
    with SimulatorServer(TEST_PROFILE, seed=11, latency_ms=15) as server:
        products = [p.id for p in server.account.active_products()]
        halves = [products[: len(products) // 2], products[len(products) // 2 :]]
        writers = []
        for index, half in enumerate(halves):
            env = process_env(tmp_path, home=f"home{index}", server=server, **lake)
            args = [arg for pid in half for arg in ("--product", str(pid))]
            writers.append(
                subprocess.Popen(
                    [str(BIN / "testio-assets"), "sync", *args],
                    env=env,
                    cwd=tmp_path,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
            )
        reader, reads = lake_store(lake), 0
        while any(writer.poll() is None for writer in writers):
            try:  # a reader meanwhile: any committed snapshot, never an error
                reader.query(lambda conn: conn.execute(COUNT_TESTS).fetchall())
                reads += 1
            except Exception as exc:
                assert "does not exist" in str(exc), exc  # before the first commit
            time.sleep(0.2)
        for writer in writers:
            out, err = writer.communicate(timeout=60)
            assert writer.returncode == 0, out + err[-3000:]
        assert reads > 0
        account = server.account
        truth = {
            "tests": {t.id for pid in products for t in account.products[pid].tests},
            "bugs": {
                b.id
                for pid in products
                for t in account.products[pid].tests
                for b in account.bugs_by_test[t.id]
            },
            "features": {f for pid in products for f in account.products[pid].features},
        }
    store = lake_store(lake)
    for table, ids in truth.items():
        assert _ids(store, table, products) == ids, table


def test_read_commands_and_upkeep_work_on_the_lake(
    lake: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from testio_assets.cli import main

    with SimulatorServer(TEST_PROFILE, seed=11) as server:
        env = process_env(tmp_path, server=server, **lake)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        assert main(["sync"]) == 0
        server.advance(2)
        assert main(["sync"]) == 0  # a second sync: more files and snapshots
        capsys.readouterr()
        assert main(["sql", COUNT_TESTS, "--json"]) == 0
        assert capsys.readouterr().out.count('"count_star()"') == 1
        product = server.account.active_products()[0].id
        assert main(["users", "--product", str(product), "--json"]) == 0
        assert '"users"' in capsys.readouterr().out
        settings = Settings(
            api_token=server.token,
            base_url=server.base_url,
            ducklake_catalog=lake["TESTIO_DUCKLAKE_CATALOG"],
            ducklake_data_path=lake["TESTIO_DUCKLAKE_DATA_PATH"],
        )  # type: ignore[call-arg]
        defs = build_definitions(settings)
        before = lake_store(lake).query(lambda conn: conn.execute(COUNT_TESTS).fetchall())
        with DagsterInstance.ephemeral() as instance:
            job = defs.resolve_job_def("lake_maintenance")
            keep_none = {"ops": {"maintain_lake": {"config": {"keep_hours": 0}}}}
            result = job.execute_in_process(instance=instance, run_config=keep_none)
        assert result.success
    store = lake_store(lake)
    assert store.query(lambda conn: conn.execute(COUNT_TESTS).fetchall()) == before
    figures = store.query(
        lambda conn: conn.execute("SELECT count(*) FROM ducklake_snapshots('testio')").fetchall()
    )
    assert figures[0][0] == 1  # every older snapshot expired
    assert "lake_maintenance_daily" in {s.name for s in defs.schedules or []}
