"""On Dagster's own PostgreSQL storage a sync keeps its connection instead of opening one
per stored event (defs/storage_connections.py), counted by the server itself."""

from __future__ import annotations

import time
from pathlib import Path

import psycopg2
import pytest
from dagster import DagsterInstance

from testio_assets.commands.instance import open_instance
from testio_assets.defs.storage_connections import keep_storage_connections
from testio_assets.simulator.server import SimulatorServer
from tests.conftest import postgres_database
from tests.pipeline_helpers import pipeline_for, sync
from tools.bench.instance import instance_yaml


def sessions(url: str) -> int:
    """Sessions the server has opened on the database of `url` so far."""
    time.sleep(1.5)  # the server publishes a backend's statistics at most once a second
    server, database = url.rsplit("/", 1)
    with psycopg2.connect(server + "/postgres") as conn, conn.cursor() as cur:
        cur.execute("SELECT sessions FROM pg_stat_database WHERE datname = %s", [database])
        return int(cur.fetchone()[0])


def test_a_sync_on_dagsters_postgres_storage_opens_a_few_connections_not_one_per_event(
    simulator: SimulatorServer,
    db: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> None:
    url = postgres_database(request)
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text(instance_yaml("postgres-stock"))
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("TESTIO_DAGSTER_POSTGRES_URL", url)
    with open_instance() as instance:  # what every `testio-assets` command opens
        before = sessions(url)  # creating the tables took its own
        summary = sync(pipeline_for(simulator, db, monkeypatch), instance)
        assert summary.failure is None, summary.failure
        during = sessions(url) - before
        events = len(instance.get_records_for_run(summary.run_ids[-1], limit=10_000).records)
    assert events > 50  # each of them once took a connection or two
    assert during < 20, (during, events)


def test_keeping_connections_is_done_once_and_is_harmless_on_sqlite(tmp_path: Path) -> None:
    (tmp_path / "home").mkdir()
    with DagsterInstance.local_temp(str(tmp_path / "home")) as instance:
        keep_storage_connections(instance)
        keep_storage_connections(instance)  # a run's step after the command did it
        instance.add_dynamic_partitions("p", ["1"])
        assert instance.get_dynamic_partitions("p") == ["1"]
