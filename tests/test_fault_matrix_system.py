"""The fault matrix, system side: killed processes, overlapping runs, full disks, bad
settings, and secrets. (The API side is `test_fault_matrix.py`.)

Every test runs the real pipeline against the simulator over loopback, on a real DuckDB
file, and asserts what was stored and what was reported.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dagster import DagsterInstance

from testio_assets.settings import SettingsError, load_settings
from testio_assets.simulator.faults import Fault
from testio_assets.simulator.server import SimulatorServer
from tests.pipeline_helpers import (
    BIN,
    ROOT,
    pipeline_for,
    process_env,
    query,
    run_cli,
    snapshot,
    sync,
)

# -- the process dies, the disk fills up ----------------------------------------------------


def _sync_process(env: dict[str, str], cwd: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(BIN / "testio-assets"), "sync", *args],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _slices(db: Path) -> dict[tuple[str, int], list[tuple[Any, ...]]]:
    """Each table's rows per product (bookkeeping aside)."""
    result: dict[tuple[str, int], list[tuple[Any, ...]]] = {}
    for table, rows in snapshot(db).items():
        if table == "products":
            continue
        column = 0 if table == "users" else (3 if table == "user_stories" else 1)
        for row in rows:
            result.setdefault((table, row[column]), []).append(row)
    return result


@pytest.mark.slow
def test_sigkill_in_the_middle_of_writes_leaves_each_partition_old_or_new_never_a_mix(
    tmp_path: Path,
) -> None:
    with SimulatorServer("small", seed=21, latency_ms=2) as server:
        old_db, new_db = tmp_path / "old.duckdb", tmp_path / "new.duckdb"
        first = _sync_process(process_env(tmp_path, "h0", db=old_db, server=server), tmp_path)
        assert first.wait(300) == 0, first.communicate()[1][-2000:]
        server.advance(4)
        shutil.copy(old_db, new_db)
        complete = _sync_process(process_env(tmp_path, "h1", db=new_db, server=server), tmp_path)
        assert complete.wait(300) == 0
        old, new = _slices(old_db), _slices(new_db)
        assert old != new

        for attempt, delay in enumerate((2.4, 3.2)):
            victim_db = tmp_path / f"victim{attempt}.duckdb"
            shutil.copy(old_db, victim_db)
            victim = _sync_process(
                process_env(tmp_path, f"v{attempt}", db=victim_db, server=server), tmp_path
            )
            time.sleep(delay)
            victim.send_signal(signal.SIGKILL)
            victim.wait(30)
            after = _slices(victim_db)  # the file opens
            for key in set(old) | set(new) | set(after):
                assert after.get(key) in (old.get(key), new.get(key)), key
            resumed = _sync_process(
                process_env(tmp_path, f"v{attempt}", db=victim_db, server=server), tmp_path
            )
            assert resumed.wait(300) == 0, resumed.communicate()[1][-2000:]
            assert _slices(victim_db) == new


@pytest.mark.slow
@pytest.mark.parametrize("storage", ["sqlite", "postgres"])
def test_overlapping_runs_on_one_duckdb_file_never_fail_on_the_lock(
    tmp_path: Path, storage: str, request: pytest.FixtureRequest
) -> None:
    """Three syncs at once on one DuckDB file: with SQLite, each in an instance of its own
    (so they collide on the file and wait); with PostgreSQL, all in one shared instance
    (so their DuckDB steps take turns through the `duckdb` pool)."""
    shared = {}
    if storage == "postgres":
        from tests.conftest import postgres_database

        shared["TESTIO_DAGSTER_POSTGRES_URL"] = postgres_database(request)
    with SimulatorServer("small", seed=4, latency_ms=3) as server:
        db = tmp_path / "testio.duckdb"
        products = [str(p.id) for p in server.account.active_products()]
        runs = [
            _sync_process(
                process_env(tmp_path, f"home{index}", db=db, server=server, **shared),
                tmp_path,
                *args,
            )
            for index, args in enumerate(
                [
                    (),
                    ("--product", products[0]),
                    ("--product", products[1], "--product", products[2]),
                ]
            )
        ]
        outputs = [run.communicate(timeout=300) for run in runs]
        truth = server.account.counts()
    for run, (out, err) in zip(runs, outputs, strict=True):
        assert run.returncode == 0, f"{out}\n{err[-3000:]}"
        assert "Could not set lock" not in err
    if storage == "sqlite":
        # The runs did collide on the file, and waited instead of failing.
        assert any("for another process to release the database" in out for out, _ in outputs)
    assert query(db, "SELECT count(*) FROM tests")[0][0] == truth["tests"]
    assert query(db, "SELECT count(*) FROM bugs")[0][0] == truth["bugs"]
    assert query(db, "SELECT count(*) FROM features")[0][0] == truth["features"]


def _mount_tmpfs(path: Path, size: str, *options: str) -> bool:
    path.mkdir(parents=True, exist_ok=True)
    opts = ",".join([f"size={size}", *options])
    return (
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(path)], capture_output=True
        ).returncode
        == 0
    )


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "disk"
    if not _mount_tmpfs(mount, "32m"):
        pytest.skip("mounting a small tmpfs needs root")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_fails_with_the_path_named_and_keeps_what_was_stored(
    simulator: SimulatorServer,
    small_disk: Path,
    instance: DagsterInstance,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    db = small_disk / "testio.duckdb"
    defs = pipeline_for(simulator, db, monkeypatch)
    assert sync(defs, instance).failure is None
    before = snapshot(db)
    filler = small_disk / "filler"
    with filler.open("wb") as handle:  # fill the disk to the last byte
        try:
            while True:
                handle.write(b"\0" * 65536)
                handle.flush()
        except OSError:
            pass
    simulator.advance(3)
    summary = sync(pipeline_for(simulator, db, monkeypatch, feature_ttl_seconds=1), instance)
    assert summary.failure is not None
    assert str(db) in summary.failure
    filler.unlink()
    after = snapshot(db)
    for table, rows in before.items():  # rows that were stored are not lost
        assert len(after[table]) >= len(rows), table
    assert sync(defs, instance).failure is None  # and the next run completes


def test_a_read_only_database_path_fails_with_the_path_named(
    simulator: SimulatorServer,
    tmp_path: Path,
    instance: DagsterInstance,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    mount = tmp_path / "ro"
    if not _mount_tmpfs(mount, "1m", "ro"):
        pytest.skip("mounting a read-only tmpfs needs root")
    try:
        db = mount / "testio.duckdb"
        summary = sync(pipeline_for(simulator, db, monkeypatch), instance)
        assert summary.failure is not None
        assert f"cannot open DuckDB file {db}" in summary.failure
        assert "Read-only file system" in summary.failure
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


# -- bad configuration ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "name,value,message",
    [
        ("FEATURE_CACHE_TTL_SECONDS", "-5", "FEATURE_CACHE_TTL_SECONDS=-5 is out of range"),
        ("FEATURE_CACHE_TTL_SECONDS", "an hour", "is not a whole number"),
        ("TESTIO_MAX_CONCURRENCY", "0", "TESTIO_MAX_CONCURRENCY=0 is out of range"),
        (
            "TESTIO_BASE_URL",
            "api.test.io/customer/v2",
            "TESTIO_BASE_URL='api.test.io/customer/v2' is not an http(s) URL",
        ),
        ("TESTIO_BASE_URL", "ftp://api.test.io", "is not an http(s) URL"),
        (
            "TESTIO_DUCKDB_PATH",
            "/no/such/dir/testio.duckdb",
            "directory '/no/such/dir' does not exist",
        ),
        ("TESTIO_HTTP_TIMEOUT_SECONDS", "0", "TESTIO_HTTP_TIMEOUT_SECONDS=0.0 is too small"),
        ("TESTIO_HTTP_TIMEOUT_SECONDS", "fast", "is not a number"),
        ("TESTIO_RETRY_BUDGET_SECONDS", "-1", "TESTIO_RETRY_BUDGET_SECONDS=-1.0 is too small"),
        ("TESTIO_PAGE_SIZE", "0", "TESTIO_PAGE_SIZE=0 is out of range"),
        ("TESTIO_BUG_BATCH_SIZE", "1000", "TESTIO_BUG_BATCH_SIZE=1000 is out of range"),
        ("TESTIO_SIMULATOR", "maybe", "TESTIO_SIMULATOR='maybe' is not a yes/no value"),
        ("TESTIO_REFRESH_CRON", "every day", "TESTIO_REFRESH_CRON='every day' is not a cron"),
        ("TESTIO_SENSOR_MAX_PARTITIONS", "0", "TESTIO_SENSOR_MAX_PARTITIONS=0 is out of range"),
        ("TESTIO_DUCKDB_MEMORY_LIMIT", "lots", "TESTIO_DUCKDB_MEMORY_LIMIT='lots' is not a size"),
        ("TESTIO_DUCKDB_MEMORY_LIMIT", "256", "use a number and a unit, such as 256MB"),
        ("TESTIO_DISCOVERY_INTERVAL_SECONDS", "1", "TESTIO_DISCOVERY_INTERVAL_SECONDS=1 is out"),
    ],
)
def test_nonsense_settings_are_refused_naming_the_setting(
    name: str, value: str, message: str
) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({name: value})
    assert message in str(caught.value)


def test_an_unknown_simulator_profile_is_refused_when_the_simulator_is_asked_for() -> None:
    from testio_assets.defs.resources import build_client

    settings = load_settings({"TESTIO_SIMULATOR": "1", "TESTIO_SIMULATOR_PROFILE": "huge"})
    with pytest.raises(SettingsError, match="TESTIO_SIMULATOR_PROFILE='huge' is unknown"):
        build_client(settings)


def load_code_location(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`dagster definitions validate` of the project's workspace in `env`."""
    return run_cli(
        ["dagster", "definitions", "validate", "-w", str(ROOT / "workspace.yaml")],
        env,
        ROOT,
        timeout=120,
    )


def test_a_bad_setting_fails_the_code_location_at_load_time(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TESTIO_")}
    env.update(DAGSTER_HOME=str(tmp_path), TESTIO_MAX_CONCURRENCY="0")
    result = load_code_location(env)
    assert result.returncode != 0
    assert "TESTIO_MAX_CONCURRENCY=0 is out of range" in result.stdout + result.stderr
    cli = run_cli(["testio-assets", "sync"], env, tmp_path, timeout=120)
    assert cli.returncode == 2
    assert cli.stderr.strip() == (
        "testio-assets sync: TESTIO_MAX_CONCURRENCY=0 is out of range: use 1..200"
    )


@pytest.mark.parametrize("fault", ["wrong password", "no server", "not set"])
def test_a_bad_postgres_instance_stops_the_cli_with_one_line_and_no_password(
    tmp_path: Path, fault: str, request: pytest.FixtureRequest
) -> None:
    """Dagster's own `storage: postgres` (deploy/dagster.yaml) with a URL that does not
    work: the command stops with one line naming the file and the server's reason, the
    password masked; the code location does not open the instance at all."""
    from tests.conftest import postgres_database

    good = postgres_database(request)
    secret = good.split(":")[2].split("@")[0]
    url = {
        "wrong password": good.replace(f":{secret}@", ":not-the-password@"),
        "no server": f"postgresql://dagster:{secret}@127.0.0.1:1/dagster",
        "not set": "",
    }[fault]
    env = process_env(tmp_path, server=None)
    shutil.copy(ROOT / "deploy" / "dagster.yaml", Path(env["DAGSTER_HOME"]) / "dagster.yaml")
    env.update(TESTIO_SIMULATOR="1", TESTIO_DAGSTER_POSTGRES_URL=url)
    if not url:
        del env["TESTIO_DAGSTER_POSTGRES_URL"]
    cli = run_cli(["testio-assets", "sync"], env, tmp_path, timeout=120)
    assert cli.returncode == 2
    line = cli.stderr.strip()
    assert "\n" not in line and line.startswith("testio-assets sync: cannot open the Dagster")
    reason = {
        "wrong password": "password authentication failed",
        "no server": "Connection refused",
        "not set": "TESTIO_DAGSTER_POSTGRES_URL",
    }[fault]
    assert reason in line
    assert secret not in cli.stdout + cli.stderr and "not-the-password" not in cli.stderr
    assert not (tmp_path / "testio.duckdb").exists()


# -- security ---------------------------------------------------------------------------------


@pytest.mark.slow
def test_the_token_appears_nowhere_a_run_writes_even_when_requests_fail(tmp_path: Path) -> None:
    secret = "tok-9f3a7c1e-SECRET"
    with SimulatorServer("demo", seed=7, token=secret) as server:
        products = server.account.active_products()
        server.arm(
            Fault(endpoint="exploratory_tests", status=500, times=3),
            Fault(endpoint="bugs", status=429, retry_after="0", times=3),
            Fault(status=403, product_id=products[1].id, times=None),
        )
        db = tmp_path / "testio.duckdb"
        env = process_env(tmp_path, "home", db=db, server=server)
        env["TESTIO_API_TOKEN"] = secret
        run = run_cli(["testio-assets", "sync"], env, tmp_path, timeout=300)
        assert run.returncode == 1  # the 403 product failed; the others were stored
        wrong = subprocess.run(
            [str(BIN / "testio-assets"), "sync"],
            env={**env, "TESTIO_API_TOKEN": secret + "-wrong"},
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert "refused the token" in wrong.stdout + wrong.stderr
    produced = [run.stdout, run.stderr, wrong.stdout, wrong.stderr]
    for path in tmp_path.rglob("*"):
        if path.is_file():
            produced.append(path.read_bytes().decode("latin-1"))
    assert db.exists() and len(produced) > 6
    for text in produced:
        assert secret not in text
    # Test-environment credentials never reach the database either.
    assert "s3cret-" not in db.read_bytes().decode("latin-1")


def test_sql_in_titles_is_stored_as_text(
    simulator: SimulatorServer, db: Path, instance: DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    evil = "'); DROP TABLE bugs; --"
    product = simulator.account.active_products()[0]
    product.name = evil
    next(iter(product.features.values())).title = evil
    product.tests[0].title = evil
    summary = sync(pipeline_for(simulator, db, monkeypatch), instance)
    assert summary.failure is None
    assert query(db, "SELECT name FROM products WHERE id = ?", [product.id]) == [(evil,)]
    assert query(db, "SELECT count(*) FROM features WHERE title = ?", [evil]) == [(1,)]
    assert query(db, "SELECT count(*) FROM tests WHERE title = ?", [evil]) == [(1,)]
    assert query(db, "SELECT count(*) FROM bugs")[0][0] == simulator.account.counts()["bugs"]


def test_servers_bind_to_loopback_unless_asked_otherwise() -> None:
    from testio_assets.cli import build_parser

    with SimulatorServer("demo") as server:
        assert server.host == "127.0.0.1" and server.base_url.startswith("http://127.0.0.1:")
    assert build_parser().parse_args(["simulator"]).host == "127.0.0.1"
    assert build_parser().parse_args(["demo"]).host == "127.0.0.1"
    demo_script = (ROOT / "scripts" / "demo.sh").read_text()
    assert "0.0.0.0" not in demo_script
