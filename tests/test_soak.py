"""The soak (`scripts/soak.sh`): its truth comparison, its random faults, and a 2-minute
run of the real thing with `dagster dev`."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import duckdb
import pytest
from dagster import DagsterInstance

from testio_assets.simulator.faults import CHAOS_KINDS, Chaos
from testio_assets.simulator.server import SimulatorServer
from tests.pipeline_helpers import ROOT, all_test_ids, pipeline_for, stored_test_ids, sync
from tools.soak.truth import compare_with_reference, compare_with_simulator, reference_sync


def test_the_truth_comparison_counts_each_row_that_differs(
    simulator: SimulatorServer,
    tmp_path: Path,
    instance: DagsterInstance,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    db = tmp_path / "soaked.duckdb"
    sync(pipeline_for(simulator, db, monkeypatch), instance)
    ids = [p.id for p in simulator.account.active_products()]
    reference = tmp_path / "reference.duckdb"
    reference_sync(simulator, reference, ids)
    assert compare_with_reference(db, reference, ids).total == 0
    assert compare_with_simulator(db, simulator.account, ids).total == 0

    with duckdb.connect(str(db)) as conn:
        bug = conn.execute("SELECT id FROM bugs ORDER BY id LIMIT 1").fetchone()[0]
        conn.execute("UPDATE bugs SET status = 'invented', title = 'x' WHERE id = ?", [bug])
        test = conn.execute("SELECT max(id) FROM tests").fetchone()[0]
        conn.execute("DELETE FROM tests WHERE id = ?", [test])
        conn.execute(
            "UPDATE features SET description = 'edited' WHERE id = (SELECT min(id) FROM features)"
        )
        # An analytics row left behind its data (not rebuilt after a change).
        conn.execute(
            "UPDATE analytics.product_quality_summary SET tests = tests + 1 "
            "WHERE product_id = (SELECT min(product_id) FROM analytics.product_quality_summary)"
        )
    versus_reference = compare_with_reference(db, reference, ids)
    assert {t: n for t, n in versus_reference.differing.items() if n} == {
        "bugs": 1,
        "tests": 1,
        "features": 1,
        "analytics.product_quality_summary": 1,
    }
    assert versus_reference.compared["analytics.feature_quality"] > 0
    versus_simulator = compare_with_simulator(db, simulator.account, ids)
    # The simulator check looks at ids, statuses and titles: not at descriptions.
    assert {t: n for t, n in versus_simulator.differing.items() if n} == {"bugs": 1, "tests": 1}
    # Out of scope: a product left out of the comparison is not counted.
    other = [i for i in ids if i != simulator.account.tests[test].product_id]
    assert compare_with_reference(db, reference, other).differing["tests"] == 0


def test_random_faults_of_every_kind_lose_nothing(
    simulator: SimulatorServer, db: Path, instance: DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    simulator.faults.chaos = Chaos(rate=0.3, seed=3, slow_seconds=(0.2, 0.5))
    # Small pages and batches: a few hundred requests, so that every kind comes up.
    defs = pipeline_for(
        simulator, db, monkeypatch, retry_budget_seconds=60.0, page_size=2, bug_batch_size=2
    )
    summary = sync(defs, instance)
    assert summary.failure is None, summary.failure
    assert stored_test_ids(db) == all_test_ids(simulator)
    injected = simulator.faults.injected
    assert sum(injected.values()) > 20
    assert len(injected) == len(CHAOS_KINDS), injected  # every kind was met at least once
    simulator.faults.chaos = None
    ids = [p.id for p in simulator.account.active_products()]
    assert compare_with_simulator(db, simulator.account, ids).total == 0


@pytest.mark.slow
def test_a_two_minute_soak_ends_equal_to_the_truth(tmp_path: Path) -> None:
    """`scripts/soak.sh 2`: the quick start's `dg dev -w workspace.yaml` on Dagster's own
    SQLite storage (the shipped instance) and a fast, faulty simulator; then the verdict.
    Two minutes are four simulated days: each scripted event, a refresh tick a minute and
    the features' 120 s TTL run out at least once (a 30-minute soak: docs/reliability.md).
    On the way it shows what a user of the UI relies on: the runs the daemon launches see
    its settings, a backfill from the UI is one run over its range, both code locations
    load, and Ctrl-C stops it all cleanly."""
    figures = tmp_path / "soak.json"
    command = ["bash", str(ROOT / "scripts" / "soak.sh"), "2",
               "--workdir", str(tmp_path / "soak"), "--json", str(figures)]  # fmt: skip
    soak = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        stdout, stderr = soak.communicate(timeout=20 * 60)
    except subprocess.TimeoutExpired:
        soak.terminate()  # the soak stops its `dagster dev` on SIGTERM
        stdout, stderr = soak.communicate(timeout=120)
        pytest.fail(f"the soak ran past 20 minutes:\n{stdout[-8000:]}")
    completed = subprocess.CompletedProcess(command, soak.returncode, stdout, stderr)
    output = completed.stdout[-8000:] + completed.stderr[-2000:]
    assert figures.exists(), output
    result = json.loads(figures.read_text())
    output = "\n".join(result["problems"]) + "\n" + completed.stdout[-8000:]
    # The data: equal to the truth but for the product answering 403.
    assert result["settled"], output
    assert not any(result["rows_differing"]["reference"].values()), output
    assert not any(result["rows_differing"]["simulator"].values()), output
    assert sum(result["rows_compared"]["reference"].values()) > 1000
    # The runs: automation did run, and nothing failed but the 403 product's runs.
    assert result["unexplained_failures"] == 0, output
    assert result["lock_failures"] == 0, output
    assert result["stuck"] == [], output
    triggers = result["runs_by_trigger"]
    assert triggers.get("refresh_tests_and_bugs", 0) >= 2, triggers
    assert triggers.get("stale_features_sensor", 0) >= 1, triggers
    assert triggers.get("product_discovery_sensor", 0) >= 1, triggers
    forbidden = result["forbidden_product"]
    assert forbidden is not None
    assert all(run["products"] == [forbidden] for run in result["failed_runs"]), output
    # The hostile parts happened.
    assert sum(result["faults"].values()) >= 10, result["faults"]
    assert len(result["events"]) == 4
    # What the UI and the daemon promise (tools/soak/ui_backfill.py, outcomes.py).
    assert result["settings_mismatches"] == [], output
    backfill = result["backfill"]
    assert backfill["status"] == "COMPLETED_SUCCESS", backfill
    (run,) = backfill["runs"]
    assert (run["dagster/asset_partition_range_start"],
            run["dagster/asset_partition_range_end"]) == (backfill["partitions"][0],
                                                          backfill["partitions"][-1])  # fmt: skip
    assert result["dev_problems"] == [], output
    assert result["stale_left"] == [], output
    assert completed.returncode == (0 if result["passed"] else 1)
