"""The `duckdb` concurrency pool: declared by every DuckDB writer, limited by the shipped
instance settings, and never left claimed by a killed run."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest
from dagster import (
    DagsterInstance,
    DagsterRun,
    DagsterRunStatus,
    RunsFilter,
    in_process_executor,
)

from testio_assets.defs.automation.orphan_runs import (
    HOST_TAG,
    PROCESS_TAG,
    reap_orphaned_runs,
    run_process_id,
    this_process,
)
from testio_assets.defs.pipeline import build_definitions
from testio_assets.names import DUCKDB_POOL
from testio_assets.settings import Settings
from testio_assets.simulator.server import SimulatorServer
from tests.pipeline_helpers import BIN, process_env, query


def test_every_duckdb_writer_declares_the_pool() -> None:
    defs = build_definitions(Settings(simulator=True))
    writers = {
        node.op.name: node.op.pool
        for node in (defs.assets or [])
        if hasattr(node, "op")  # every asset of ours is a multi-asset
    }
    assert writers == {"products": DUCKDB_POOL, "product_data": DUCKDB_POOL}


def test_the_shipped_settings_allow_one_duckdb_step_at_a_time(
    project_instance: DagsterInstance,
) -> None:
    config = project_instance.get_concurrency_config()
    assert config.pool_config.default_pool_limit == 1
    assert config.run_queue_config is not None
    assert config.run_queue_config.max_concurrent_runs == 3


@pytest.mark.slow
def test_a_killed_sync_is_failed_by_the_next_one_so_it_no_longer_holds_the_pool(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sync killed mid-run leaves its run STARTED for good (Dagster cannot see the
    process die), and the run queue counts a started run as holding its pools: every
    later run that writes DuckDB would wait in the queue forever. The next sync fails it."""
    with SimulatorServer("small", seed=5, latency_ms=40) as server:
        env = process_env(tmp_path, server=server)
        monkeypatch.setenv("DAGSTER_HOME", env["DAGSTER_HOME"])
        victim = subprocess.Popen(
            [str(BIN / "testio-assets"), "sync", "--no-analytics"],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            with DagsterInstance.get() as instance:
                deadline = time.monotonic() + 120
                while not _tagged_run(instance, "product_data"):
                    assert victim.poll() is None, "the sync ended before it could be killed"
                    assert time.monotonic() < deadline, "no product step ever started"
                    time.sleep(0.1)
                victim.send_signal(signal.SIGKILL)
                victim.wait(30)
                orphan = _tagged_run(instance, "product_data")
                assert orphan is not None
                run = instance.get_run_by_id(orphan)
                assert run is not None and run.status == DagsterRunStatus.STARTED
                assert DUCKDB_POOL in (run.run_op_concurrency.all_pools or [])
        finally:
            if victim.poll() is None:
                victim.kill()
        resumed = subprocess.run(
            [str(BIN / "testio-assets"), "sync"],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=240,
        )
        assert resumed.returncode == 0, resumed.stdout + resumed.stderr[-3000:]
        with DagsterInstance.get() as instance:
            run = instance.get_run_by_id(orphan)
            assert run is not None and run.status == DagsterRunStatus.FAILURE
            assert reap_orphaned_runs(instance) == []  # nothing left to reap
        truth = server.account.counts()
    assert query(tmp_path / "testio.duckdb", "SELECT count(*) FROM bugs")[0][0] == truth["bugs"]


def _tagged_run(instance: DagsterInstance, step: str) -> str | None:
    """The in-flight run whose step `step` has recorded its process, if any."""
    records = instance.get_run_records(RunsFilter(statuses=[DagsterRunStatus.STARTED]))
    for record in records:
        run = record.dagster_run
        if PROCESS_TAG in run.tags and step in (run.step_keys_to_execute or [step]):
            return run.run_id
    return None


def test_runs_execute_their_steps_in_the_runs_own_process() -> None:
    """Every job of the project runs its steps in the run's process: no second
    interpreter per daemon-launched run (the reaper copes with either, below)."""
    defs = build_definitions(Settings(simulator=True))
    job = defs.resolve_implicit_global_asset_job_def()
    assert job.executor_def is in_process_executor


def _report_run_process(queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    queue.put((os.getpid(), run_process_id()))


@pytest.mark.parametrize("start_method", ["spawn", "forkserver"])
def test_a_step_in_a_child_process_records_the_runs_worker(start_method: str) -> None:
    """Dagster's multiprocess executor runs each step in a child of the run's worker: the
    step's own process ends between steps, the worker lives as long as the run. In-process
    runs record their own process."""
    context = multiprocessing.get_context(start_method)
    queue = context.Queue()
    child = context.Process(target=_report_run_process, args=(queue,))
    child.start()
    step_pid, recorded = queue.get(timeout=60)
    child.join(60)
    assert step_pid != os.getpid()
    assert recorded == os.getpid()
    assert run_process_id() == os.getpid()


def test_the_reaper_fails_only_runs_whose_process_is_gone(
    project_instance: DagsterInstance,
) -> None:
    instance = project_instance
    me = this_process()
    gone = {**me, PROCESS_TAG: "999999999:1"}  # no such process
    reused = {**me, PROCESS_TAG: f"{os.getpid()}:1"}  # this pid, another start time
    other_host = {HOST_TAG: "another-host", PROCESS_TAG: "999999999:1"}
    ids = {}
    for name, tags in [("me", me), ("gone", gone), ("reused", reused), ("other", other_host)]:
        ids[name] = str(uuid.uuid4())
        instance.add_run(
            DagsterRun(
                job_name="__ASSET_JOB",
                run_id=ids[name],
                status=DagsterRunStatus.STARTED,
                tags=tags,
            )
        )
    assert sorted(reap_orphaned_runs(instance)) == sorted([ids["gone"], ids["reused"]])
    status = {name: instance.get_run_by_id(run_id).status for name, run_id in ids.items()}
    assert status == {
        "me": DagsterRunStatus.STARTED,
        "gone": DagsterRunStatus.FAILURE,
        "reused": DagsterRunStatus.FAILURE,
        "other": DagsterRunStatus.STARTED,  # left to Dagster's run monitoring
    }
    assert reap_orphaned_runs(instance) == []
