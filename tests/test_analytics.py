"""The analytics tables equal the same figures computed here, in Python, from the raw
tables; the step that changed their data rebuilds them, and declarative automation
follows the changes other runs leave; health follows its thresholds."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import replace
from pathlib import Path
from typing import Any

import duckdb
import pytest
from dagster import (
    AssetKey,
    AssetSelection,
    DagsterEventType,
    DagsterInstance,
    evaluate_automation_conditions,
    materialize,
)

from testio_assets.commands.runs import run_sync
from testio_assets.defs.assets.analytics_preview import PREVIEW_ROWS, SHOWN, metadata_by_product
from testio_assets.defs.automation.partitions import contiguous_ranges
from testio_assets.names import (
    ANALYTICS,
    ANALYTICS_UPSTREAM,
    BUGS,
    FEATURE_QUALITY,
    PARTITIONED_ANALYTICS,
    PRODUCT_QUALITY_SUMMARY,
    QUALITY_BY_MONTH,
    TESTER_ACTIVITY,
    TESTS,
)
from testio_assets.simulator.faults import Fault
from testio_assets.simulator.server import SimulatorServer
from testio_assets.store.analytics import HealthThresholds, refresh, rows_of
from testio_assets.store.merge import WriteCounts
from tests.conftest import TEST_PROFILE
from tests.pipeline_helpers import edit, pipeline_for, query, sync

WEIGHTS = {"critical": 5, "high": 3, "low": 1, "visual": 1, "content": 1}
NOT_EXECUTED = {"initialized", "cancelled"}


def rows(db: Path, sql: str) -> list[dict[str, Any]]:
    with duckdb.connect(str(db), read_only=True) as conn:
        cursor = conn.execute(sql)
        names = [c[0] for c in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def ratio(num: int, den: int) -> float | None:
    return None if den == 0 else num / den


def bug_measures(bugs: list[dict[str, Any]]) -> dict[str, Any]:
    """Counts and rates of a group of bugs, written independently of the SQL."""
    active = sum(1 for b in bugs if b["status"] == "accepted" and not b["auto_accepted"])
    auto = sum(1 for b in bugs if b["status"] == "accepted" and b["auto_accepted"])
    rejected = sum(1 for b in bugs if b["status"] == "rejected")
    severities = Counter(b["severity"] for b in bugs)
    return {
        "bugs": len(bugs),
        "bugs_critical": severities["critical"],
        "bugs_high": severities["high"],
        "bugs_accepted": active,
        "bugs_auto_accepted": auto,
        "bugs_rejected": rejected,
        "bugs_awaiting_review": len(bugs) - active - auto - rejected,
        "severity_score": sum(WEIGHTS.get(b["severity"], 0) for b in bugs),
        "overall_acceptance_rate": ratio(active + auto, len(bugs)),
        "rejection_rate": ratio(rejected, len(bugs)),
    }


def rates(bugs: list[dict[str, Any]]) -> dict[str, Any]:
    m = bug_measures(bugs)
    accepted = m["bugs_accepted"] + m["bugs_auto_accepted"]
    return {
        **m,
        "active_acceptance_rate": ratio(m["bugs_accepted"], len(bugs)),
        "auto_acceptance_rate": ratio(m["bugs_auto_accepted"], accepted),
        "review_rate": ratio(m["bugs_accepted"] + m["bugs_rejected"], len(bugs)),
    }


def same(expected: dict[str, Any], actual: dict[str, Any], where: str) -> None:
    for key, value in expected.items():
        got = actual[key]
        if isinstance(value, float) or isinstance(got, float):
            assert got == pytest.approx(value), f"{where}: {key}"
        else:
            assert got == value, f"{where}: {key}"


@pytest.fixture
def synced_db(simulator: SimulatorServer, db: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    defs = pipeline_for(simulator, db, monkeypatch)
    with DagsterInstance.ephemeral() as instance:
        summary = sync(defs, instance)
    assert summary.failure is None
    return db


def test_product_summary_equals_figures_computed_from_the_raw_tables(synced_db: Path) -> None:
    db = synced_db
    bugs = rows(db, "SELECT * FROM bugs")
    tests = rows(db, "SELECT * FROM tests")
    features = rows(db, "SELECT * FROM features")
    summary = {
        r["product_id"]: r for r in rows(db, "SELECT * FROM analytics.product_quality_summary")
    }
    assert set(summary) == {r[0] for r in query(db, "SELECT id FROM products WHERE is_active")}
    for pid, actual in summary.items():
        mine = [t for t in tests if t["product_id"] == pid]
        executed = [t for t in mine if t["status"] not in NOT_EXECUTED]
        product_bugs = [b for b in bugs if b["product_id"] == pid]
        tested = {f for t in mine for f in t["feature_ids"] or []}
        product_features = [f for f in features if f["product_id"] == pid]
        expected = {
            **rates(product_bugs),
            "tests": len(mine),
            "tests_executed": len(executed),
            "tests_open": sum(1 for t in mine if not t["is_final"]),
            "tests_by_status": dict(Counter(t["status"] for t in mine)),
            "tests_created_by_customers": sum(1 for t in mine if t["created_by"]),
            "tests_submitted_by_customers": sum(1 for t in mine if t["submitted_by"]),
            "bugs_per_test": ratio(len(product_bugs), len(executed)),
            "active_testers": len({b["author_name"] for b in product_bugs if b["author_name"]}),
            "features": len(product_features),
            "features_tested": sum(1 for f in product_features if f["id"] in tested),
            "features_never_tested": sum(1 for f in product_features if f["id"] not in tested),
        }
        same(expected, actual, f"product {pid}")


def test_feature_and_tester_tables_equal_figures_computed_from_the_raw_tables(
    synced_db: Path,
) -> None:
    db = synced_db
    bugs = rows(db, "SELECT * FROM bugs")
    tests = rows(db, "SELECT * FROM tests")
    by_feature = defaultdict(list)
    for bug in bugs:
        by_feature[bug["feature_id"]].append(bug)
    feature_rows = rows(db, "SELECT * FROM analytics.feature_quality")
    assert len(feature_rows) == query(db, "SELECT count(*) FROM features")[0][0]
    for actual in feature_rows:
        fid = actual["feature_id"]
        covering = [t for t in tests if fid in (t["feature_ids"] or [])]
        expected = {
            **bug_measures(by_feature[fid]),
            "tests": len(covering),
            "never_tested": not covering,
            "bugs_per_test": ratio(len(by_feature[fid]), len(covering)),
        }
        same(expected, actual, f"feature {fid}")

    testers = rows(db, "SELECT * FROM users WHERE role = 'tester'")
    activity = {
        (r["product_id"], r["tester"]): r
        for r in rows(db, "SELECT * FROM analytics.tester_activity")
    }
    assert set(activity) == {(u["product_id"], u["name"]) for u in testers}
    for user in testers:
        key = (user["product_id"], user["name"])
        theirs = [b for b in bugs if (b["product_id"], b["author_name"]) == key]
        expected = {
            **bug_measures(theirs),
            "reproductions": user["reproductions"],
            "comments": user["comments_written"],
        }
        del expected["bugs"], expected["bugs_high"]
        expected["bugs_reported"] = len(theirs)
        same(expected, activity[key], f"tester {key}")


def test_quality_by_month_slices_by_month_and_testing_type(synced_db: Path) -> None:
    db = synced_db
    tests = {t["id"]: t for t in rows(db, "SELECT * FROM tests")}
    bugs = rows(db, "SELECT * FROM bugs")

    def month_of(test: dict[str, Any]) -> Any:
        when = test["end_at"] or test["start_at"]
        return when.date().replace(day=1) if when else None

    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = defaultdict(list)
    test_groups: Counter[tuple[Any, ...]] = Counter()
    for test in tests.values():
        test_groups[(test["product_id"], month_of(test), test["testing_type"] or "unknown")] += 1
    for bug in bugs:
        test = tests[bug["test_id"]]
        groups[(bug["product_id"], month_of(test), test["testing_type"] or "unknown")].append(bug)
    table = {
        (r["product_id"], r["month"], r["testing_type"]): r
        for r in rows(db, "SELECT * FROM analytics.quality_by_month")
    }
    assert set(table) == set(test_groups) | set(groups)
    for key, actual in table.items():
        same({**rates(groups[key]), "tests": test_groups[key]}, actual, f"month {key}")


def test_health_follows_the_thresholds(synced_db: Path) -> None:
    db = synced_db
    summary = rows(db, "SELECT * FROM analytics.product_quality_summary")
    strict = HealthThresholds(0.0, 0.0, 0.0, 0.0)  # any rejected bug is critical
    lenient = HealthThresholds(1.0, 1.0, 1.0, 1.0)  # only a rate of 100 % counts
    ids = [r["product_id"] for r in summary]
    with duckdb.connect(str(db)) as conn:
        refresh(conn, "product_quality_summary", ids, strict)
        critical = conn.execute(
            "SELECT product_id, health, health_reasons FROM analytics.product_quality_summary"
        ).fetchall()
        refresh(conn, "product_quality_summary", ids, lenient)
        healthy = conn.execute(
            "SELECT product_id, health FROM analytics.product_quality_summary"
        ).fetchall()
    rejected = {r["product_id"]: r["rejection_rate"] for r in summary}
    for pid, health, reasons in critical:
        assert health == ("critical" if rejected[pid] is not None else "healthy"), pid
        assert (health == "critical") == any(r.startswith("critical: rejection") for r in reasons)
    assert {h for _, h in healthy} <= {"healthy", "critical"}
    assert all(h == "healthy" for pid, h in healthy if (rejected[pid] or 0) < 1.0)


def test_an_older_table_shape_is_rebuilt_for_every_product(synced_db: Path) -> None:
    db = synced_db
    before = query(db, "SELECT * FROM analytics.feature_quality ORDER BY feature_id")
    one = before[0][0]
    with duckdb.connect(str(db)) as conn:
        conn.execute("ALTER TABLE analytics.feature_quality DROP COLUMN never_tested")
        counts = refresh(conn, "feature_quality", [one], HealthThresholds())
    assert query(db, "SELECT * FROM analytics.feature_quality ORDER BY feature_id") == before
    assert counts[one].updated == 0 and counts[one].rows > 0


def requested(result: Any) -> set[tuple[str, str | None]]:
    """(table, partition) the automation requested; None for a table spanning products."""
    found = set()
    for name in ANALYTICS:
        key = AssetKey(name)
        if name in PARTITIONED_ANALYTICS:
            found |= {(name, p) for p in result.get_requested_partitions(key)}
        elif result.get_num_requested(key):
            found.add((name, None))
    return found


def test_analytics_follow_a_run_that_did_not_plan_them(
    simulator: SimulatorServer,
    db: Path,
    project_instance: DagsterInstance,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Automation, evaluated as the daemon would (without waiting for it): nothing after
    a sync (it rebuilt them itself), then exactly the changed product's summary and the
    tables spanning products after a run that changed data without planning analytics."""
    defs = pipeline_for(simulator, db, monkeypatch)
    analytics = AssetSelection.assets(*ANALYTICS)
    instance = project_instance
    assert sync(defs, instance).failure is None  # materializes analytics too
    first = evaluate_automation_conditions(defs, instance, analytics)
    assert first.total_requested == 0  # nothing is missing or behind
    product = simulator.account.active_products()[0].id
    simulator.advance(3)
    assert run_sync(defs, instance, [product], analytics=False).failure is None
    second = evaluate_automation_conditions(defs, instance, analytics, cursor=first.cursor)
    spanning = {(name, None) for name in ANALYTICS if name not in PARTITIONED_ANALYTICS}
    assert requested(second) == {(PRODUCT_QUALITY_SUMMARY, str(product))} | spanning
    third = evaluate_automation_conditions(defs, instance, analytics, cursor=second.cursor)
    assert third.total_requested == 0


def test_a_failed_blocking_check_holds_the_partitions_analytics_back(
    simulator: SimulatorServer, db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    defs = pipeline_for(simulator, db, monkeypatch)
    analytics = AssetSelection.assets(*ANALYTICS)
    with DagsterInstance.ephemeral() as instance:
        assert sync(defs, instance).failure is None
        first = evaluate_automation_conditions(defs, instance, analytics)
        product, test_id = query(db, "SELECT product_id, test_id FROM bugs LIMIT 1")[0]
        edit(db, "DELETE FROM tests WHERE id = ?", [test_id])  # a bug's test, deleted by hand
        summary = run_sync(defs, instance, [product], assets=[BUGS])
        assert summary.failure is not None and "bugs_have_a_test" in summary.failure
        # The step that recorded the failed check does not rebuild them ...
        done = materialized(instance, summary.run_ids[-1])
        assert done[BUGS] == {str(product)}
        assert not any(done[table] for table in ANALYTICS)
        # ... nor do the runs the automation asks for (what the CLI's run does not show
        # Dagster: `materialize` records no asset selection), nor Materialize in the UI.
        second = evaluate_automation_conditions(defs, instance, analytics, cursor=first.cursor)
        assert (PRODUCT_QUALITY_SUMMARY, str(product)) in requested(second)
        resources = defs.resources
        own = materialize(
            list(defs.assets or []),
            instance=instance,
            resources=resources,
            selection=[AssetKey(PRODUCT_QUALITY_SUMMARY)],
            partition_key=str(product),
        )
        assert not own.get_asset_materialization_events()
        alone = materialize(
            list(defs.assets or []),
            instance=instance,
            resources=resources,
            selection=[AssetKey(FEATURE_QUALITY)],
        )
        assert rebuilt_products(alone) == active_ids(db) - {product}


def active_ids(db: Path) -> set[int]:
    return {r[0] for r in query(db, "SELECT id FROM products WHERE is_active")}


def rebuilt_products(result: Any) -> set[int]:
    """The products a run's one materialization of a table spanning products rebuilt."""
    (event,) = result.get_asset_materialization_events()
    meta = event.materialization.metadata
    products = set(meta["products"].value)
    assert meta["products_rebuilt"].value == len(products)
    return products


def materialized(instance: DagsterInstance, run_id: str) -> defaultdict[str, set[str]]:
    """Per asset, the partitions that the run materialized ("" for no partition)."""
    done: defaultdict[str, set[str]] = defaultdict(set)
    events = instance.get_records_for_run(
        run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION
    ).records
    for record in events:
        materialization = record.asset_materialization
        assert materialization is not None
        done[materialization.asset_key.path[-1]].add(materialization.partition or "")
    return done


def rebuilt_with_their_data(done: dict[str, set[str]]) -> None:
    """The summary was rebuilt for exactly the products whose upstream data the run
    recorded; each table spanning products once if any of them changed."""
    for table in ANALYTICS:
        changed = set().union(*(done[dep] for dep in ANALYTICS_UPSTREAM[table]))
        if table in PARTITIONED_ANALYTICS:
            assert done[table] == changed, table
        else:
            assert done[table] == ({""} if changed else set()), table


def test_a_sync_rebuilds_the_analytics_of_what_changed_in_its_own_step(
    db: Path, project_instance: DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Changes scattered through the account: one step records them and rebuilds their
    analytics (not a run per stretch of products), and automation has nothing left."""
    instance = project_instance
    analytics = AssetSelection.assets(*ANALYTICS)
    with SimulatorServer(replace(TEST_PROFILE, products=12), seed=5) as simulator:
        defs = pipeline_for(simulator, db, monkeypatch)
        assert sync(defs, instance).failure is None
        before = evaluate_automation_conditions(defs, instance, analytics)
        ordered = instance.get_dynamic_partitions("products")
        changed = {ordered[1], ordered[4], ordered[9]}
        with simulator.app.lock:
            for key in changed:  # a test still running gets a new title
                tests = simulator.account.products[int(key)].tests
                next(t for t in reversed(tests) if t.can_change).title += " (renamed)"
            simulator.account.changed()
        summary = sync(defs, instance)
    assert summary.failure is None
    assert len(summary.run_ids) == 2  # the catalogue, then one run of every product
    done = materialized(instance, summary.run_ids[-1])
    assert done[TESTS] == changed
    rebuilt_with_their_data(done)
    assert done[PRODUCT_QUALITY_SUMMARY] == changed
    assert len(contiguous_ranges(ordered, changed)) == 3
    after = evaluate_automation_conditions(defs, instance, analytics, cursor=before.cursor)
    assert after.total_requested == 0


def test_a_failed_product_leaves_the_others_analytics_current(
    simulator: SimulatorServer, db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A step that fails for one product (403) still rebuilds, before failing, the
    analytics of every product it recorded; automation has nothing left to do."""
    defs = pipeline_for(simulator, db, monkeypatch)
    analytics = AssetSelection.assets(*ANALYTICS)
    with DagsterInstance.ephemeral() as instance:
        assert sync(defs, instance).failure is None
        before = evaluate_automation_conditions(defs, instance, analytics)
        failing = simulator.account.active_products()[1].id
        simulator.arm(Fault(status=403, times=None, product_id=failing))
        simulator.advance(2)
        summary = sync(defs, instance)
        assert summary.failure is not None and summary.failed_products == [failing]
        done = materialized(instance, summary.run_ids[-1])
        keys = set(instance.get_dynamic_partitions("products"))
        # A failed run records every summary it planned but the failed product's.
        assert done[PRODUCT_QUALITY_SUMMARY] == keys - {str(failing)}
        after = evaluate_automation_conditions(defs, instance, analytics, cursor=before.cursor)
        assert after.total_requested == 0


def _cells(markdown: str) -> list[list[str]]:
    """The header and data rows of a pipe table (the separator line left out)."""
    lines = [line for line in markdown.splitlines() if line.startswith("|")]
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[:1] + lines[2:]]


def test_previews_show_each_products_top_rows_and_figures(synced_db: Path) -> None:
    """The metadata the UI shows per analytics partition: the top rows by the table's
    ranking (the rest counted), days without times, and the figures it plots."""
    with duckdb.connect(str(synced_db), read_only=True) as conn:
        ids = [r[0] for r in conn.execute("SELECT id FROM products WHERE is_active").fetchall()]
        found = {table: rows_of(conn, table, ids) for table in ANALYTICS}

    def metadata(table: str) -> dict[int, dict[str, Any]]:
        per_product = Counter(r["product_id"] for r in found[table])
        counts = {pid: WriteCounts(rows=per_product[pid]) for pid in ids}
        return metadata_by_product(table, found[table], counts)

    features, testers = metadata(FEATURE_QUALITY), metadata(TESTER_ACTIVITY)
    months, summary = metadata(QUALITY_BY_MONTH), metadata(PRODUCT_QUALITY_SUMMARY)
    longer = 0
    for pid in ids:
        mine = [r for r in found[FEATURE_QUALITY] if r["product_id"] == pid]
        header, *shown = _cells(features[pid]["preview"].value)
        assert header == SHOWN[FEATURE_QUALITY] and len(shown) == min(len(mine), PREVIEW_ROWS)
        best = max(mine, key=lambda r: (r["severity_score"], r["bugs"], -r["feature_id"]))
        assert shown[0][0] == best["feature"]
        assert all(re.fullmatch(r"\d{4}-\d{2}-\d{2}|-", row[8]) for row in shown)
        assert features[pid]["features_never_tested"] == sum(r["never_tested"] for r in mine)
        assert features[pid]["bugs"] == sum(r["bugs"] for r in mine)

        people = [r for r in found[TESTER_ACTIVITY] if r["product_id"] == pid]
        assert testers[pid]["testers"] == len(people)
        header, *shown = _cells(testers[pid]["preview"].value)
        assert header == SHOWN[TESTER_ACTIVITY] and len(shown) == min(len(people), PREVIEW_ROWS)
        if len(people) > PREVIEW_ROWS:
            longer += 1
            more = (
                f"... and {len(people) - PREVIEW_ROWS} more row(s) in `analytics.{TESTER_ACTIVITY}`"
            )
            assert testers[pid]["preview"].value.endswith(more)
        assert testers[pid]["bugs_accepted"] == sum(r["bugs_accepted"] for r in people)

        slices = [r for r in found[QUALITY_BY_MONTH] if r["product_id"] == pid]
        dated = {r["month"] for r in slices if r["month"] is not None}  # None: never run
        assert months[pid]["months"] == len(dated)
        latest = max(dated).strftime("%Y-%m-%d")
        assert _cells(months[pid]["preview"].value)[1][0] == latest

        (row,) = (r for r in found[PRODUCT_QUALITY_SUMMARY] if r["product_id"] == pid)
        pairs = dict(_cells(summary[pid]["preview"].value)[1:])
        assert pairs["health"] == row["health"] == summary[pid]["health"]
        assert pairs["tests"] == str(row["tests"])
        assert summary[pid]["accepted_bugs"] == row["bugs_accepted"] + row["bugs_auto_accepted"]
    assert longer, "no product with more rows than the preview shows: the test proves less"
