"""The analytics tables equal the same figures computed here, in Python, from the raw
tables; the step that changed their data rebuilds them, and declarative automation
follows the changes other runs leave; health follows its thresholds."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import replace
from datetime import timedelta
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
from testio_assets.defs.assets.analytics_preview import (
    PREVIEW_ROWS,
    SHOWN,
    metadata_by_product,
    run_metadata,
)
from testio_assets.defs.automation.partitions import contiguous_ranges
from testio_assets.names import (
    ANALYTICS,
    ANALYTICS_UPSTREAM,
    BUGS,
    FEATURE_QUALITY,
    PARTITIONED_ANALYTICS,
    PRODUCT_QUALITY_SUMMARY,
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
        executed_ids = {t["id"] for t in executed}
        product_bugs = [b for b in bugs if b["product_id"] == pid]
        of_executed = [b for b in product_bugs if b["test_id"] in executed_ids]
        known = sum(1 for b in product_bugs if b["known"])
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
            # like by like: bugs of executed tests over executed tests
            "bugs_of_executed_tests": len(of_executed),
            "bugs_per_test": ratio(len(of_executed), len(executed)),
            "known_bugs": known,
            "known_bug_share": ratio(known, len(product_bugs)),
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


@pytest.mark.parametrize("unit", ["month", "week"])
def test_quality_over_time_counts_bugs_when_reported_and_tests_when_ended(
    synced_db: Path, unit: str
) -> None:
    db = synced_db
    tests = {t["id"]: t for t in rows(db, "SELECT * FROM tests")}
    bugs = rows(db, "SELECT * FROM bugs")

    def period(when: Any) -> Any:
        if when is None:
            return None
        day = when.date()
        return day.replace(day=1) if unit == "month" else day - timedelta(days=day.weekday())

    def test_period(test: dict[str, Any]) -> Any:
        return period(test["end_at"] or test["start_at"])

    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = defaultdict(list)
    test_groups: Counter[tuple[Any, ...]] = Counter()
    executed: Counter[tuple[Any, ...]] = Counter()
    for test in tests.values():
        key = (test["product_id"], test_period(test), test["testing_type"] or "unknown")
        test_groups[key] += 1
        executed[key] += test["status"] not in NOT_EXECUTED
    for bug in bugs:
        test = tests[bug["test_id"]]
        when = period(bug["reported_at"]) if bug["reported_at"] else test_period(test)
        groups[(bug["product_id"], when, test["testing_type"] or "unknown")].append(bug)
    table = {
        (r["product_id"], r[unit], r["testing_type"]): r
        for r in rows(db, f"SELECT * FROM analytics.quality_by_{unit}")
    }
    assert set(table) == set(test_groups) | set(groups)
    moved = 0
    for key, actual in table.items():
        of_executed = [b for b in groups[key] if tests[b["test_id"]]["status"] not in NOT_EXECUTED]
        expected = {
            **rates(groups[key]),
            "tests": test_groups[key],
            "tests_executed": executed[key],
            "bugs_per_test": ratio(len(of_executed), executed[key]),
        }
        same(expected, actual, f"{unit} {key}")
        moved += sum(
            1 for b in groups[key] if period(b["reported_at"]) != test_period(tests[b["test_id"]])
        )
    assert moved, "no bug reported outside its test's period: the test proves less"


def test_bugs_by_platform_count_each_bug_once_per_operating_system(synced_db: Path) -> None:
    db = synced_db
    bugs = rows(db, "SELECT * FROM bugs")
    groups: dict[tuple[int, str], list[dict[str, Any]]] = defaultdict(list)
    several = 0
    for bug in bugs:
        systems = {d["operating_system"] for d in bug["devices"] or []} or {"unknown"}
        several += len(systems) > 1
        for system in systems:
            groups[(bug["product_id"], system)].append(bug)
    table = {
        (r["product_id"], r["operating_system"]): r
        for r in rows(db, "SELECT * FROM analytics.bugs_by_platform")
    }
    assert set(table) == set(groups)
    for key, actual in table.items():
        expected = rates(groups[key])
        same(expected, actual, f"platform {key}")
    assert several, "no bug on two operating systems: the test proves less"


INDICATORS = {
    "rejection": ("rejection_rate", True),
    "auto": ("auto_acceptance_rate", True),
    "active": ("active_acceptance_rate", False),
    "review": ("review_rate", False),
}


def _thresholds(indicator: str, warning: float, critical: float) -> HealthThresholds:
    """Thresholds at which only `indicator` can ever trip."""
    never = {name: (1.1, 1.2) if high else (-0.1, -0.2) for name, (_, high) in INDICATORS.items()}
    never[indicator] = (warning, critical)
    values = {f"{name}_{level}": pair[i] for name, pair in never.items()
              for i, level in enumerate(("warning", "critical"))}  # fmt: skip
    return HealthThresholds(**values)


@pytest.mark.parametrize("indicator", list(INDICATORS))
def test_health_follows_each_of_the_four_indicators_at_its_thresholds(
    synced_db: Path, indicator: str
) -> None:
    """Each indicator alone: healthy on the good side of its warning threshold, warning
    at it, critical at its critical threshold, and the reason names the indicator."""
    db = synced_db
    column, high_is_bad = INDICATORS[indicator]
    summary = rows(db, "SELECT * FROM analytics.product_quality_summary")
    rated = [r for r in summary if r[column] is not None]
    assert rated, f"no product has a {column}: the test proves nothing"
    row = rated[0]
    value, ids = row[column], [row["product_id"]]
    step = 0.01 if high_is_bad else -0.01
    cases = {  # (warning, critical) -> expected health
        (value + step, value + 2 * step): "healthy",
        (value, value + step): "warning",
        (value - step, value): "critical",
    }
    label = column.replace("_rate", " rate").replace("_", "-" if indicator == "auto" else " ")
    for (warning, critical), expected in cases.items():
        with duckdb.connect(str(db)) as conn:
            refresh(conn, "product_quality_summary", ids, _thresholds(indicator, warning, critical))
            health, reasons = conn.execute(
                "SELECT health, health_reasons FROM analytics.product_quality_summary "
                "WHERE product_id = ?",
                ids,
            ).fetchone()
        assert health == expected, (indicator, warning, critical, value)
        assert (expected == "healthy") == (reasons == [])
        if reasons:
            assert reasons[0].startswith(f"{expected}: ") and label in reasons[0], reasons


# Columns that name what a row is about rather than measure it.
KEYS = {"product_id", "product", "feature_id", "feature", "tester", "operating_system"}
KEYS |= {"month", "week", "testing_type"}


def test_the_readme_defines_every_analytics_measure(synced_db: Path) -> None:
    """The README's analytics section names every table and defines every column."""
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    section = readme.split("## Analytics", 1)[1].split("\n## ", 1)[0]
    measures = section.split("| measure | definition |", 1)[1].split("\n\n", 1)[0]
    defined = set(re.findall(r"`([a-z_]+)`", measures))
    for table in ANALYTICS:
        assert f"`analytics.{table}`" in section, table
        columns = {r["column_name"] for r in rows(synced_db, f"DESCRIBE analytics.{table}")}
        undefined = columns - KEYS - defined
        assert not undefined, f"analytics.{table}: {sorted(undefined)} not in the README"


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


def test_previews_show_the_worst_rows_first_and_the_summary_plots_each_products_figures(
    synced_db: Path,
) -> None:
    """The metadata the UI shows: a run's preview of a table spanning products (its worst
    rows first, the rest counted, days without times); each product's summary with the
    health and the rates Dagster plots over time."""
    with duckdb.connect(str(synced_db), read_only=True) as conn:
        ids = [r[0] for r in conn.execute("SELECT id FROM products WHERE is_active").fetchall()]
        found = {table: rows_of(conn, table, ids) for table in ANALYTICS}

    def counts(table: str) -> dict[int, WriteCounts]:
        per_product = Counter(r["product_id"] for r in found[table])
        return {pid: WriteCounts(rows=per_product[pid]) for pid in ids}

    features = run_metadata(FEATURE_QUALITY, found[FEATURE_QUALITY], counts(FEATURE_QUALITY))
    header, *shown = _cells(features["preview"].value)
    assert header == SHOWN[FEATURE_QUALITY] and len(shown) == PREVIEW_ROWS
    worst = max(found[FEATURE_QUALITY], key=lambda r: (r["severity_score"], r["bugs"]))
    assert shown[0][1] == worst["feature"]
    assert all(re.fullmatch(r"\d{4}-\d{2}-\d{2}|-", row[9]) for row in shown)
    more = len(found[FEATURE_QUALITY]) - PREVIEW_ROWS
    assert features["preview"].value.endswith(
        f"... and {more} more row(s) in `analytics.{FEATURE_QUALITY}`"
    )
    assert features["products_rebuilt"] == len(ids) and features["products"].value == sorted(ids)

    summaries = found[PRODUCT_QUALITY_SUMMARY]
    overview = run_metadata(PRODUCT_QUALITY_SUMMARY, summaries, counts(PRODUCT_QUALITY_SUMMARY))
    first = _cells(overview["preview"].value)[1]
    levels = {"critical": 2, "warning": 1, "healthy": 0}
    assert levels[first[1]] == max(levels[r["health"]] for r in summaries)  # worst first
    assert sum(overview[f"products_{level}"] for level in levels) == len(ids)

    per_product = metadata_by_product(
        PRODUCT_QUALITY_SUMMARY, summaries, counts(PRODUCT_QUALITY_SUMMARY)
    )
    for row in summaries:
        figures = per_product[row["product_id"]]
        pairs = dict(_cells(figures["preview"].value)[1:])
        assert pairs["health"] == row["health"] == figures["health"]
        assert figures["health_level"] == levels[row["health"]]
        assert pairs["tests"] == str(row["tests"])
        for rate in ("rejection_rate", "auto_acceptance_rate", "active_acceptance_rate",
                     "review_rate", "bugs_per_test", "known_bug_share"):  # fmt: skip
            if row[rate] is None:
                assert rate not in figures  # not plotted as 0
            else:
                assert figures[rate].value == pytest.approx(row[rate], abs=1e-4)


def test_the_readmes_example_queries_run_and_count_what_they_say(synced_db: Path) -> None:
    """Every SQL example in the README runs on a synced database; the 'waiting for a
    review' one counts exactly the bugs whose status is neither accepted nor rejected."""
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    blocks = re.findall(r"```sql\n(.*?)```", readme, re.DOTALL)
    blocks += re.findall(r'testio-assets sql "([^"]+)"', readme)
    statements = [s.strip() for block in blocks for s in block.split(";") if s.strip()]
    assert len(statements) >= 4
    for statement in statements:
        sql = "\n".join(line for line in statement.splitlines() if not line.startswith("--"))
        assert rows(synced_db, sql) is not None, sql
    waiting = next(s for s in statements if "waiting for a review" in s)
    counted = sum(r["bugs"] for r in rows(synced_db, waiting.split("\n", 1)[1]))
    expected = rows(
        synced_db,
        "SELECT count(*) AS n FROM bugs WHERE status NOT IN ('accepted', 'rejected')",
    )[0]["n"]
    assert counted == expected > 0
