"""Whole processes: the sensor preview CLI and `dagster dev` end to end."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import duckdb
import httpx
import pytest

from testio_assets.settings import load_settings, settings_digest
from tests.pipeline_helpers import BIN, ROOT, process_env
from tools.bench.instance import instance_yaml
from tools.ports import free_loopback_port

pytestmark = pytest.mark.slow


def read_db(path: Path, sql: str, timeout: float = 60) -> list[tuple]:
    """Read while other processes may hold the file: wait for the lock like the pipeline."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with duckdb.connect(str(path), read_only=True) as conn:
                return conn.execute(sql).fetchall()
        except duckdb.IOException:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_sensor_preview_requests_stale_and_skips_fresh_products(tmp_path: Path) -> None:
    env = process_env(tmp_path, TESTIO_SIMULATOR="1")
    sync = subprocess.run(
        [str(BIN / "testio-assets"), "sync"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert sync.returncode == 0, sync.stderr[-3000:]
    preview = [
        str(BIN / "dagster"),
        "sensor",
        "preview",
        "stale_features_sensor",
        "-w",
        str(ROOT / "workspace.yaml"),
        "--location",
        "testio_assets",
    ]
    fresh = subprocess.run(preview, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert "0 stale, 0 requested, 5 fresh" in fresh.stdout + fresh.stderr
    time.sleep(2)
    stale = subprocess.run(
        preview,
        env={**env, "FEATURE_CACHE_TTL_SECONDS": "1"},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = stale.stdout + stale.stderr
    assert "5 stale, 5 requested" in output
    requested = output.split("requested: ", 2)[-1].splitlines()[0]
    assert sorted(requested.split(", ")) == ["1001", "1002", "1003", "1004", "1005"]
    assert "Sensor returning run requests" in output


BACKFILL = """
mutation($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message }
  }
}"""

BACKFILL_STATUS = """
query($id: String!) {
  partitionBackfillOrError(backfillId: $id) {
    ... on PartitionBackfill { status runs: runs(limit: 10) { runId status tags { key value } } }
  }
}"""


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def graphql(port: int, query: str, variables: dict) -> dict:
    answer = httpx.post(
        f"http://127.0.0.1:{port}/graphql",
        json={"query": query, "variables": variables},
        timeout=30,
    )
    answer.raise_for_status()
    body = answer.json()
    assert "errors" not in body, body
    return body["data"]


def backfill_through_the_daemon(port: int, partitions: list[str], timeout: float) -> dict:
    """A backfill of `tests` and `bugs` over `partitions`, launched as from the UI, run by
    the daemon; returns the finished backfill."""
    params = {
        "partitionNames": partitions,
        "assetSelection": [{"path": ["tests"]}, {"path": ["bugs"]}],
    }
    launched = graphql(port, BACKFILL, {"params": params})["launchPartitionBackfill"]
    assert launched["__typename"] == "LaunchBackfillSuccess", launched
    deadline = time.monotonic() + timeout
    while True:
        found = graphql(port, BACKFILL_STATUS, {"id": launched["backfillId"]})
        backfill = found["partitionBackfillOrError"]
        if backfill["status"] not in ("REQUESTED", "CANCELING", "FAILING"):
            return backfill
        assert time.monotonic() < deadline, f"backfill still {backfill['status']}"
        time.sleep(2)


RUNS_AND_TICKS = """
from dagster import DagsterInstance
i = DagsterInstance.get()
for t in i.all_instigator_state():
    print("tick", t.name, len(i.get_ticks(t.instigator_origin_id, t.selector_id)))
for r in i.get_run_records():
    warned = any("settings differ" in e.message for e in i.all_logs(r.dagster_run.run_id))
    tags = r.dagster_run.tags
    print("run", tags.get("testio/trigger", "-"), tags.get("testio/settings", "-"), warned)
"""


@pytest.mark.parametrize("storage", ["postgres-stock"])
def test_dg_dev_ticks_sensors_fills_tables_backfills_and_stops_cleanly(
    tmp_path: Path, storage: str, request: pytest.FixtureRequest
) -> None:
    """`dg dev -w workspace.yaml` (the quick start's) on Dagster's own PostgreSQL storage, as
    the Helm chart configures it; the runs the daemon launches see the settings it sees.
    `dagster dev` on Dagster's own SQLite storage (the shipped instance) is what the soak
    runs (tests/test_soak.py): its sensors, schedule and runs for two minutes."""
    port = free_loopback_port()
    # A setting away from its default, which every launched run must see as well.
    extra = {"TESTIO_SIMULATOR": "1", "TESTIO_RECORD_EVERY_HOURS": "5"}
    if storage == "postgres-stock":
        from tests.conftest import postgres_database

        extra["TESTIO_DAGSTER_POSTGRES_URL"] = postgres_database(request)
    env = process_env(tmp_path, **extra)
    (tmp_path / "home" / "dagster.yaml").write_text(instance_yaml(storage))
    log = (tmp_path / "dagster-dev.log").open("w")
    process = subprocess.Popen(
        [
            str(BIN / "dg"),
            "dev",
            "-w",
            str(ROOT / "workspace.yaml"),
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
        ],
        env=env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        # Ctrl-C as from a terminal: a test run started in the background (`cmd &` in a
        # script) inherits SIGINT ignored, and Python then never raises KeyboardInterrupt.
        preexec_fn=_default_sigint,
    )
    db = tmp_path / "testio.duckdb"
    try:
        deadline = time.monotonic() + 240
        answered = filled = False
        while time.monotonic() < deadline and not (answered and filled):
            time.sleep(2)
            assert process.poll() is None, (tmp_path / "dagster-dev.log").read_text()[-3000:]
            if not answered:
                try:
                    answered = (
                        httpx.get(f"http://127.0.0.1:{port}/server_info", timeout=2).status_code
                        == 200
                    )
                except httpx.HTTPError:
                    pass
            if db.exists() and not filled:
                try:
                    filled = read_db(
                        db,
                        "SELECT (SELECT count(*) FROM tests) > 0 AND "
                        "(SELECT count(*) FROM features) > 0",
                        timeout=5,
                    )[0][0]
                except (duckdb.Error, IndexError):
                    pass
        log_text = (tmp_path / "dagster-dev.log").read_text()
        assert answered, log_text[-3000:]
        assert filled, log_text[-3000:]
        found = subprocess.run(
            [str(BIN / "python"), "-c", RUNS_AND_TICKS],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        lines = [line.split() for line in found.stdout.splitlines()]
        ticked = {line[1]: int(line[2]) for line in lines if line[0] == "tick"}
        assert ticked.get("product_discovery_sensor", 0) >= 1, found.stdout + found.stderr
        assert ticked.get("stale_features_sensor", 0) >= 1, found.stdout + found.stderr
        # Every run a sensor launched carries the daemon's settings, and its worker had the
        # same ones (no warning in its log).
        digest = settings_digest(load_settings(env))
        launched = [line for line in lines if line[0] == "run" and line[1].endswith("_sensor")]
        assert launched, found.stdout
        assert all(line[2] == digest and line[3] == "False" for line in launched), found.stdout
        # A multi-partition backfill, as from the UI: one run (single-run backfill policy).
        backfill = backfill_through_the_daemon(port, ["1001", "1002", "1003"], timeout=180)
        assert backfill["status"] == "COMPLETED_SUCCESS", backfill
        (run,) = backfill["runs"]
        tags = {tag["key"]: tag["value"] for tag in run["tags"]}
        assert (tags["dagster/asset_partition_range_start"],
                tags["dagster/asset_partition_range_end"]) == ("1001", "1003")  # fmt: skip
    finally:
        os.killpg(process.pid, signal.SIGINT)
        try:
            code = process.wait(timeout=90)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            raise
        log.close()
    output = (tmp_path / "dagster-dev.log").read_text()
    assert code in (0, -signal.SIGINT, 130), output[-3000:]
    # The quick start's command prints no deprecation warning, and both code locations (the
    # project and examples/weekly_bug_report.py) loaded in the UI's server.
    assert "SupersessionWarning" not in output and "DeprecationWarning" not in output
    assert "Error loading repository location" not in output, output[-3000:]
