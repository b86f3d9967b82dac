"""Asset checks: each passes on good data and fails on data made bad on purpose.

The pipeline runs for real (simulator over loopback HTTP, Dagster, a DuckDB file); data is
broken by hand in DuckDB or by a simulator fault, and the checks are read back from the
Dagster instance, per partition.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from dagster import (
    AssetCheckKey,
    AssetKey,
    AssetSelection,
    DagsterEventType,
    DagsterInstance,
    Definitions,
    materialize,
)

from testio_assets.checks.definitions import CHECKS
from testio_assets.checks.evaluate import features_checks
from testio_assets.commands.runs import run_sync
from testio_assets.defs.automation.partition_records import unsettled_check_partitions
from testio_assets.defs.automation.partitions import range_tags
from testio_assets.names import ANALYTICS
from testio_assets.simulator.server import SimulatorServer
from testio_assets.store.check_facts import ProductFacts
from tests.pipeline_helpers import edit, pipeline_for, query, sync

Verdicts = dict[tuple[str, str, str | None], tuple[bool, str, dict[str, Any]]]


def evaluations(instance: DagsterInstance, run_ids: list[str]) -> Verdicts:
    """(asset, check, partition) -> (passed, description, metadata) of the runs' checks."""
    found: Verdicts = {}
    for run_id in run_ids:
        for record in instance.get_records_for_run(
            run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION
        ).records:
            data = record.event_log_entry.dagster_event.event_specific_data  # type: ignore[union-attr]
            key = (data.asset_key.path[-1], data.check_name, data.partition)
            meta = {k: v.value for k, v in data.metadata.items()}
            found[key] = (data.passed, data.description or "", meta)
    return found


def run_checks(
    defs: Definitions, instance: DagsterInstance, asset: str, partitions: list[str]
) -> Verdicts:
    """The checks of `asset` alone ("Execute checks" in the UI), over `partitions`."""
    ordered = [k for k in instance.get_dynamic_partitions("products") if k in partitions]
    tags = range_tags(ordered[0], ordered[-1]) if ordered else {}
    result = materialize(
        list(defs.assets or []),
        instance=instance,
        resources=defs.resources,
        selection=AssetSelection.checks_for_assets(asset),
        tags=tags,
        raise_on_error=False,
    )
    return evaluations(instance, [result.run_id])


def partitions_of(server: SimulatorServer) -> list[str]:
    return [str(p.id) for p in server.account.active_products()]


def test_every_check_passes_on_good_data_and_a_run_records_one_verdict_per_check(
    simulator: SimulatorServer,
    db: Path,
    project_instance: DagsterInstance,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A run over many products records one verdict per check (nothing failed, nothing
    to clear: no product's own evaluation); a run of one product records its own."""
    instance = project_instance
    defs = pipeline_for(simulator, db, monkeypatch)
    summary = sync(defs, instance)
    assert summary.failure is None, summary.failure
    found = evaluations(instance, summary.run_ids)
    assert set(found) == {(c.asset, c.name, None) for c in CHECKS}
    failed = {key: verdict[1] for key, verdict in found.items() if not verdict[0]}
    assert not failed, failed
    products = len(partitions_of(simulator))
    _, description, meta = found[("tests", "complete_against_api", None)]
    assert meta == {"products_checked": products, "products_failed": 0}
    assert description == f"passed for all {products} product(s) of this run"

    pid = partitions_of(simulator)[0]
    single = run_sync(defs, instance, [int(pid)])
    found = evaluations(instance, single.run_ids)
    per_product = {(c.asset, c.name, pid) for c in CHECKS if c.asset != "products"}
    assert per_product <= set(found) and all(found[key][0] for key in per_product)
    _, description, meta = found[("tests", "complete_against_api", pid)]
    assert meta["listing"] == "full" and meta["expected"] == meta["stored"] > 0
    assert "are stored" in description


def test_a_bug_whose_test_was_deleted_fails_the_integrity_check_naming_product_and_ids(
    simulator: SimulatorServer, db: Path, instance: DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    defs = pipeline_for(simulator, db, monkeypatch)
    sync(defs, instance)
    product_id, test_id = query(db, "SELECT product_id, test_id FROM bugs ORDER BY id LIMIT 1")[0]
    orphans = sorted(r[0] for r in query(db, "SELECT id FROM bugs WHERE test_id = ?", [test_id]))
    edit(db, "DELETE FROM tests WHERE id = ?", [test_id])
    simulator.app.reset_counts()

    found = run_checks(defs, instance, "bugs", partitions_of(simulator))
    passed, description, meta = found[("bugs", "bugs_have_a_test", str(product_id))]
    assert not passed
    assert f"product {product_id}" in description and str(orphans[0]) in description
    assert meta["orphan_bugs"] == len(orphans) and meta["orphan_bug_ids"] == orphans
    others = [
        k for k in found if k[2] not in (str(product_id), None) and k[1] == "bugs_have_a_test"
    ]
    assert others and all(found[k][0] for k in others)
    assert sum(simulator.requests.values()) == 0  # stored data only, no API call
    # Nothing was "repaired": the orphans are still there.
    assert query(db, "SELECT count(*) FROM bugs WHERE test_id = ?", [test_id])[0][0] == len(orphans)


def test_a_failed_blocking_check_holds_back_the_products_downstream_steps(
    simulator: SimulatorServer, db: Path, instance: DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    defs = pipeline_for(simulator, db, monkeypatch)
    sync(defs, instance)
    victim = partitions_of(simulator)[0]
    edit(
        db,
        "INSERT INTO bugs (id, product_id, test_id, synced_at) VALUES (1, ?, 424242, now())",
        [int(victim)],
    )
    edit(db, "UPDATE users SET bugs_reported = bugs_reported + 1 WHERE product_id = ?", [victim])
    summary = sync(defs, instance)
    assert summary.failure is not None and "bugs_have_a_test" in summary.failure
    found = evaluations(instance, summary.run_ids)
    assert not found[("bugs", "bugs_have_a_test", victim)][0]
    # users of the victim were not rebuilt (their hand edit stays, no check ran on them);
    # the other products were checked and pass, and only the victim has a check that did
    # not pass.
    assert ("users", "match_tests_and_bugs", victim) not in found
    assert found[("users", "match_tests_and_bugs", None)][0]
    _, description, meta = found[("bugs", "bugs_have_a_test", None)]
    assert meta["products_failed"] == 1 and victim in description
    keys = [
        AssetCheckKey(AssetKey(a), n)
        for a, n in (("bugs", "bugs_have_a_test"), ("users", "match_tests_and_bugs"))
    ]
    assert unsettled_check_partitions(instance, keys) == {victim}


def test_a_poisoned_page_warns_with_the_skipped_test_and_the_rest_passes(
    simulator: SimulatorServer, db: Path, instance: DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    product = simulator.account.active_products()[0]
    poisoned = product.tests[-3]  # newest first: third on the first page
    simulator.faults.poisoned_test_ids.add(poisoned.id)
    summary = sync(pipeline_for(simulator, db, monkeypatch), instance)
    found = evaluations(instance, summary.run_ids)
    pid = str(product.id)
    passed, description, meta = found[("tests", "no_skipped_records", pid)]
    assert not passed and meta["skipped"] == 1 and "position" in description
    assert ("tests", "complete_against_api", pid) not in found  # passed: in the verdict
    assert found[("tests", "complete_against_api", None)][0]
    assert all(v[0] for k, v in found.items() if k[:2] != ("tests", "no_skipped_records"))
    # The same warning, read from DuckDB alone, when the check runs on its own.
    again = run_checks(
        pipeline_for(simulator, db, monkeypatch), instance, "tests", partitions_of(simulator)
    )
    assert not again[("tests", "no_skipped_records", pid)][0]


def test_a_missing_test_fails_completeness_when_run_on_demand(
    simulator: SimulatorServer, db: Path, instance: DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    defs = pipeline_for(simulator, db, monkeypatch)
    sync(defs, instance)
    product = simulator.account.active_products()[1]
    gone = product.tests[0].id
    edit(db, "DELETE FROM tests WHERE id = ?", [gone])
    found = run_checks(defs, instance, "tests", [str(product.id)])
    passed, description, meta = found[("tests", "complete_against_api", str(product.id))]
    assert not passed and meta["missing_ids"] == [gone] and str(gone) in description
    assert meta["expected"] == len(product.tests) and meta["stored"] == len(product.tests) - 1
    assert found[("tests", "tests_have_a_product", str(product.id))][0]


def test_feature_integrity_and_completeness_fail_on_hand_edited_rows(
    simulator: SimulatorServer, db: Path, instance: DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    defs = pipeline_for(simulator, db, monkeypatch)
    sync(defs, instance)
    sectioned = next(p for p in simulator.account.active_products() if p.is_sectioned)
    plain = next(p for p in simulator.account.active_products() if not p.is_sectioned)
    with_stories = next(f for f in plain.features.values() if f.stories)
    edit(db, "DELETE FROM features WHERE id = ?", [with_stories.id])
    stripped = next(iter(sectioned.features))
    edit(db, "UPDATE features SET section_ids = [] WHERE id = ?", [stripped])
    found = run_checks(defs, instance, "features", [str(p.id) for p in (plain, sectioned)])

    passed, description, meta = found[
        ("features", "stories_and_sections_consistent", str(plain.id))
    ]
    assert not passed and str(with_stories.id) in description
    assert meta["stories_without_feature"] == 1
    passed, description, _ = found[
        ("features", "stories_and_sections_consistent", str(sectioned.id))
    ]
    assert not passed and str(stripped) in description and "section" in description
    passed, _, meta = found[("features", "complete_against_api", str(plain.id))]
    assert not passed and meta["missing_ids"] == [with_stories.id]


def test_users_that_differ_from_their_sources_fail_the_users_check(
    simulator: SimulatorServer, db: Path, instance: DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    defs = pipeline_for(simulator, db, monkeypatch)
    sync(defs, instance)
    pid, name = query(db, "SELECT product_id, name FROM users WHERE role = 'tester' LIMIT 1")[0]
    edit(db, "UPDATE users SET bugs_reported = 999 WHERE product_id = ? AND name = ?", [pid, name])
    found = run_checks(defs, instance, "users", [str(pid)])
    passed, description, _ = found[("users", "match_tests_and_bugs", str(pid))]
    assert not passed and f"tester:{name}" in description


def test_an_unnamed_product_and_a_stale_catalogue_fail_the_products_checks(
    simulator: SimulatorServer, db: Path, instance: DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    defs = pipeline_for(simulator, db, monkeypatch)
    sync(defs, instance)
    first = simulator.account.active_products()[0].id
    edit(db, "UPDATE products SET name = NULL WHERE id = ?", [first])
    added = simulator.add_product()  # upstream, not yet synced
    found = run_checks(defs, instance, "products", [])
    passed, description, _ = found[("products", "every_product_named", None)]
    assert not passed and str(first) in description
    passed, description, meta = found[("products", "active_equal_api_listing", None)]
    assert not passed and meta["missing_ids"] == [added] and str(added) in description


def test_feature_freshness_follows_the_ttl() -> None:
    now = datetime(2026, 6, 1, 12, tzinfo=UTC)
    ttl = timedelta(hours=1)
    fresh = ProductFacts(7, features_synced_at=now - timedelta(minutes=59))
    stale = ProductFacts(7, features_synced_at=now - timedelta(minutes=61))
    never = ProductFacts(7)
    verdicts = [
        features_checks(facts, None, {"fresh_within_ttl"}, ttl, now)[0]
        for facts in (fresh, stale, never)
    ]
    assert [v.passed for v in verdicts] == [True, False, False]
    assert verdicts[1].metadata["age_seconds"] == 3660 and "older than" in verdicts[1].description
    assert "never synced" in verdicts[2].description


def test_row_counts_are_per_partition_and_per_table(
    simulator: SimulatorServer, db: Path, instance: DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    summary = sync(pipeline_for(simulator, db, monkeypatch), instance)
    partition_rows: dict[tuple[str, str], int] = {}
    table_rows: dict[str, list[int]] = {}
    for run_id in summary.run_ids:
        for record in instance.get_records_for_run(
            run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION
        ).records:
            event = record.event_log_entry.dagster_event
            materialization = event.step_materialization_data.materialization  # type: ignore[union-attr]
            meta = {k: v.value for k, v in materialization.metadata.items()}
            table = materialization.asset_key.path[-1]
            table_rows.setdefault(table, []).append(meta["dagster/row_count"])
            if materialization.partition is not None:
                partition_rows[(table, materialization.partition)] = meta[
                    "dagster/partition_row_count"
                ]
                assert meta["dagster/row_count"] >= meta["dagster/partition_row_count"]
    for table, counts in table_rows.items():
        # The table's total as each write left it: the last one is the whole table.
        name = f"analytics.{table}" if table in ANALYTICS else table
        assert max(counts) == query(db, f"SELECT count(*) FROM {name}")[0][0], table
    for product in simulator.account.active_products():
        assert partition_rows[("tests", str(product.id))] == len(product.tests)
        stored = query(db, "SELECT count(*) FROM bugs WHERE product_id = ?", [product.id])[0][0]
        assert partition_rows[("bugs", str(product.id))] == stored
