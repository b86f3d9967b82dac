"""Progress for people watching a long sync: the figures, the log line, the live feed."""

from __future__ import annotations

from pathlib import Path

import pytest
from dagster import DagsterInstance

from testio_assets.names import PER_PRODUCT
from testio_assets.simulator.server import SimulatorServer
from testio_assets.store.merge import WriteCounts
from testio_assets.sync import progress as progress_module
from testio_assets.sync.progress import LISTENERS, Progress
from testio_assets.sync.report import StepReport
from tests.pipeline_helpers import edit, pipeline_for, sync


def report(requests: int, created: int) -> StepReport:
    result = StepReport(counts=WriteCounts(created=created, rows=created))
    result.requests = requests
    return result


def test_the_line_says_what_is_done_and_what_is_left() -> None:
    progress = Progress.of(["tests", "bugs"], products=4)
    assert progress.seconds_left() is None
    progress.add("tests", report(3, 10))
    progress.add("tests", report(2, 5))
    progress.started -= 10  # ten seconds ago
    assert progress.fraction == pytest.approx(2 / 8)
    assert progress.seconds_left() == pytest.approx(30, abs=1)
    line = progress.line()
    assert line.startswith("progress: bugs 0/4, tests 2/4 products; 5 requests, 15 rows changed")
    assert "about 30 s left" in line
    progress._logged -= progress_module.LOG_EVERY_SECONDS
    assert progress.due() and not progress.due()  # at most one line per interval


def test_a_sync_feeds_listeners_and_logs_progress_lines(
    simulator: SimulatorServer,
    db: Path,
    instance: DagsterInstance,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[Progress] = []
    monkeypatch.setattr(progress_module, "LOG_EVERY_SECONDS", 0.0)
    monkeypatch.setattr(progress_module, "LISTENERS", LISTENERS)
    LISTENERS.append(seen.append)
    try:
        summary = sync(pipeline_for(simulator, db, monkeypatch), instance)
    finally:
        LISTENERS.remove(seen.append)
    products = len(simulator.account.active_products())
    final = seen[-1]
    assert final.done == {name: products for name in PER_PRODUCT}
    assert final.fraction == 1.0 and final.requests == summary.requests - 1  # + products
    logged = [
        record.user_message
        for run_id in summary.run_ids
        for record in instance.all_logs(run_id)
        if record.user_message.startswith("progress: ")
    ]
    assert logged and logged[-1].startswith(
        f"progress: bugs {products}/{products}, features {products}/{products}"
    )


def test_fresh_features_count_as_done(
    simulator: SimulatorServer,
    db: Path,
    instance: DagsterInstance,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A plain sync reads stale features and keeps fresh ones without a request: the
    progress counts the fresh ones done (it showed "features 0/N" and an estimate that
    never reached zero)."""
    defs = pipeline_for(simulator, db, monkeypatch)
    assert sync(defs, instance).failure is None
    # One product's features stale, the others fresh (all fresh: the run leaves them out).
    edit(
        db,
        "UPDATE products SET features_synced_at = TIMESTAMP '2000-01-01' "
        "WHERE id = (SELECT min(id) FROM products)",
    )
    seen: list[Progress] = []
    monkeypatch.setattr(progress_module, "LISTENERS", LISTENERS)
    LISTENERS.append(seen.append)
    try:
        assert sync(defs, instance).failure is None
    finally:
        LISTENERS.remove(seen.append)
    products = len(simulator.account.active_products())
    assert seen[-1].done == {name: products for name in PER_PRODUCT}
    assert seen[-1].fraction == 1.0
