"""The asset graph end to end: simulator over loopback HTTP -> Dagster -> a real DuckDB file."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from dagster import AssetKey, DagsterEventType, DagsterInstance

from testio_assets.names import ANALYTICS, PARTITIONED_ANALYTICS, analytics_of
from testio_assets.simulator.faults import Fault
from testio_assets.simulator.server import SimulatorServer
from testio_assets.store.database import DuckDBStore
from testio_assets.sync.engine import SyncPlan, sync_product_partitions
from testio_assets.sync.products import sync_products
from tests.conftest import client_for
from tests.pipeline_helpers import pipeline_for, query, snapshot, sync


def truth_tests(server: SimulatorServer) -> dict[int, str]:
    return {t.id: t.status for p in server.account.active_products() for t in p.tests}


def truth_bugs(server: SimulatorServer) -> set[int]:
    return {
        b.id
        for p in server.account.active_products()
        for t in p.tests
        for b in server.account.bugs_by_test[t.id]
    }


def truth_features(server: SimulatorServer) -> dict[int, str]:
    return {f.id: f.title for p in server.account.active_products() for f in p.features.values()}


def test_first_sync_stores_exactly_the_simulators_data(
    simulator: SimulatorServer,
    db: Path,
    project_instance: DagsterInstance,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    instance = project_instance
    summary = sync(pipeline_for(simulator, db, monkeypatch), instance)
    assert summary.failure is None, summary.failure
    counts = simulator.account.counts()
    assert summary.rows["products"] == counts["products"]
    assert summary.rows["tests"] == counts["tests"]
    assert summary.rows["bugs"] == counts["bugs"]
    assert summary.rows["features"] == counts["features"]
    assert summary.rows["user_stories"] == counts["user_stories"]
    assert dict(query(db, "SELECT id, status FROM tests")) == truth_tests(simulator)
    assert {r[0] for r in query(db, "SELECT id FROM bugs")} == truth_bugs(simulator)
    assert dict(query(db, "SELECT id, title FROM features")) == truth_features(simulator)

    # A sample of fields, typed: UTC timestamps, lists, booleans, nulls.
    sample = next(
        t
        for p in simulator.account.active_products()
        for t in p.tests
        if t.start_at and t.end_at and t.created_by
    )
    row = query(
        db,
        "SELECT start_at, end_at, created_by, feature_ids, product_id, is_final "
        "FROM tests WHERE id = ?",
        [sample.id],
    )[0]
    assert row[0] == sample.start_at and row[1] == sample.end_at
    assert row[2] == sample.created_by and row[3] == sample.feature_ids
    assert row[4] == sample.product_id and row[5] == (not sample.can_change)
    bug = next(
        b for bugs in simulator.account.bugs_by_test.values() for b in bugs if b.steps_as_text
    )
    steps, author, reported = query(
        db, "SELECT steps, author_name, reported_at FROM bugs WHERE id = ?", [bug.id]
    )[0]
    assert steps == bug.steps and author == bug.author and reported == bug.reported_at

    # Every bug and test is tied to its product; users are derived from them.
    assert query(
        db,
        "SELECT count(*) FROM bugs b JOIN tests t ON b.test_id = t.id "
        "WHERE b.product_id <> t.product_id",
    ) == [(0,)]
    testers = query(db, "SELECT count(DISTINCT author_name) FROM bugs")[0][0]
    assert (
        query(db, "SELECT count(*) FROM users WHERE role = 'tester' AND bugs_reported > 0 ")[0][0]
        >= testers
    )
    creators = {
        t.created_by for p in simulator.account.active_products() for t in p.tests if t.created_by
    }
    stored_customers = {r[0] for r in query(db, "SELECT name FROM users WHERE role = 'customer'")}
    assert creators <= stored_customers


def test_no_credentials_are_stored(
    simulator: SimulatorServer, db: Path, instance: DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    sync(pipeline_for(simulator, db, monkeypatch), instance)
    raw = db.read_bytes()
    assert b"s3cret-" not in raw and b"qa-1001" not in raw
    columns = {r[0] for r in query(db, "SELECT column_name FROM duckdb_columns()")}
    assert not columns & {"password", "username", "access"}


def test_a_second_sync_without_changes_asks_only_what_can_change(
    simulator: SimulatorServer,
    db: Path,
    project_instance: DagsterInstance,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    instance = project_instance
    defs = pipeline_for(simulator, db, monkeypatch)
    sync(defs, instance)
    before = snapshot(db)
    simulator.app.reset_counts()
    summary = sync(defs, instance)
    assert summary.failure is None
    assert snapshot(db) == before  # no row changed
    requests = simulator.requests
    assert requests["features"] == requests["section_features"] == 0  # features are fresh
    final_ids = {
        t.id for p in simulator.account.active_products() for t in p.tests if not t.can_change
    }
    # No final test is read by id; pages: at most two per product (the overlap rule).
    for product in simulator.account.active_products():
        assert simulator.app.requests_by_product[("exploratory_tests", product.id)] <= 2
    # Bugs: only batches of changeable tests.
    changeable = sum(
        1 for t in truth_tests(simulator).values() if t not in ("archived", "cancelled")
    )
    assert requests["bugs"] <= changeable
    assert requests["exploratory_test"] <= changeable
    assert not final_ids & simulator.app.tests_read_by_id  # no final test is re-read
    assert summary.requests == sum(requests.values())
    # Every product's features fresh: the run leaves them out (no planned event).
    data = ["tests", "bugs", "users"]
    assert planned_assets(instance, summary.run_ids[-1]) == {*data, *analytics_of(data)}


def test_a_plain_sync_reads_stale_features_again(
    simulator: SimulatorServer, db: Path, instance: DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    defs = pipeline_for(simulator, db, monkeypatch, feature_ttl_seconds=1)
    sync(defs, instance)
    time.sleep(1.5)  # every product's features now older than the TTL
    simulator.app.reset_counts()
    summary = sync(defs, instance)
    assert summary.failure is None
    assert "features" in planned_assets(instance, summary.run_ids[-1])
    products = simulator.account.active_products()
    assert simulator.requests["features"] + simulator.requests["section_features"] >= len(products)


def planned_assets(instance: DagsterInstance, run_id: str) -> set[str]:
    """The assets a run planned to materialize."""
    return {
        record.event_log_entry.dagster_event.asset_key.path[-1]
        for record in instance.get_records_for_run(
            run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION_PLANNED
        ).records
        if record.event_log_entry.dagster_event is not None
        and record.event_log_entry.dagster_event.asset_key is not None
    }


def test_a_second_sync_without_changes_counts_no_change_in_any_asset(
    simulator: SimulatorServer, db: Path, instance: DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ "updated" means the content changed: a no-change sync of given products (which
    records every partition) reports 0 everywhere."""
    defs = pipeline_for(simulator, db, monkeypatch)
    products = [p.id for p in simulator.account.active_products()][:3]
    sync(defs, instance, *products)
    run_ids = sync(defs, instance, *products).run_ids
    seen: dict[str, int] = {}
    for run_id in run_ids:
        for record in instance.get_records_for_run(run_id).records:
            event = record.event_log_entry.dagster_event
            if event is None or not event.is_step_materialization:
                continue
            materialization = event.step_materialization_data.materialization
            meta = {k: v.value for k, v in materialization.metadata.items()}
            name = materialization.asset_key.path[-1]
            seen[name] = seen.get(name, 0) + 1
            changes = (meta["rows_created"], meta["rows_updated"], meta["rows_removed"])
            assert changes == (0, 0, 0), (name, materialization.partition, meta)
    # products, and every per-product asset (`--product` re-reads features too) and the
    # analytics of every product given.
    per_product = {name: len(products) for name in ("tests", "bugs", "features", "users")}
    # The summary is partitioned; the other analytics tables are recorded once per run.
    spanning = {name: 1 for name in ANALYTICS if name not in PARTITIONED_ANALYTICS}
    summary = dict.fromkeys(PARTITIONED_ANALYTICS, len(products))
    assert seen == {"products": 1, **per_product, **spanning, **summary}


def test_changes_upstream_are_reflected_and_nothing_else_is_touched(
    simulator: SimulatorServer, db: Path, instance: DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    defs = pipeline_for(simulator, db, monkeypatch, feature_ttl_seconds=1)
    sync(defs, instance)
    final_before = query(
        db, "SELECT * EXCLUDE (synced_at, bugs_synced_at) FROM tests WHERE is_final ORDER BY id"
    )
    final_bugs_before = query(
        db,
        "SELECT b.* EXCLUDE (synced_at) FROM bugs b JOIN tests t "
        "ON b.test_id = t.id WHERE t.is_final ORDER BY b.id",
    )
    vanished = simulator.account.active_products()[-1].id
    simulator.advance(3)
    simulator.remove_product(vanished)
    time.sleep(1.1)  # let the 1 s feature TTL pass
    summary = sync(defs, instance)
    assert summary.failure is None, summary.failure

    active = [p.id for p in simulator.account.active_products()]
    scope = f"product_id IN ({','.join(map(str, active))})"
    assert dict(query(db, f"SELECT id, status FROM tests WHERE {scope}")) == truth_tests(simulator)
    assert {r[0] for r in query(db, f"SELECT id FROM bugs WHERE {scope}")} == truth_bugs(simulator)
    assert dict(query(db, f"SELECT id, title FROM features WHERE {scope}")) == truth_features(
        simulator
    )
    # Vanished products are inactive, their data kept, their partitions gone.
    gone = [p.id for p in simulator.account.products.values() if not p.active]
    assert vanished in gone
    assert dict(query(db, "SELECT id, is_active FROM products")) == {
        p.id: p.active for p in simulator.account.products.values()
    }
    assert query(db, "SELECT count(*) FROM tests WHERE product_id = ?", [vanished])[0][0] > 0
    assert set(instance.get_dynamic_partitions("products")) == set(map(str, active))
    # Final tests and their bugs were not touched.
    assert (
        query(
            db,
            "SELECT * EXCLUDE (synced_at, bugs_synced_at) FROM tests "
            "WHERE id IN (SELECT id FROM tests WHERE is_final) AND id IN "
            f"({','.join(str(r[0]) for r in final_before)}) ORDER BY id",
        )
        == final_before
    )
    assert (
        query(
            db,
            "SELECT b.* EXCLUDE (synced_at) FROM bugs b JOIN tests t "
            "ON b.test_id = t.id WHERE t.is_final AND b.id IN "
            f"({','.join(str(r[0]) for r in final_bugs_before) or 0}) "
            "ORDER BY b.id",
        )
        == final_bugs_before
    )


def test_rerunning_a_partition_is_idempotent(
    simulator: SimulatorServer, db: Path, instance: DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    defs = pipeline_for(simulator, db, monkeypatch)
    sync(defs, instance)
    product = simulator.account.active_products()[0].id
    first = snapshot(db)
    summary = sync(defs, instance, product)  # forced: re-reads everything for the product
    assert summary.failure is None and summary.products == [product]
    assert snapshot(db) == first
    assert simulator.app.requests_by_product[("exploratory_tests", product)] >= 2


def test_sectioned_products_have_complete_deduplicated_features(
    simulator: SimulatorServer, db: Path, instance: DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    sync(pipeline_for(simulator, db, monkeypatch), instance)
    sectioned = [p for p in simulator.account.active_products() if p.is_sectioned]
    assert sectioned, "the test profile must have sectioned products"
    for product in sectioned:
        stored = dict(
            query(db, "SELECT id, section_ids FROM features WHERE product_id = ?", [product.id])
        )
        assert stored == {fid: sorted(f.section_ids) for fid, f in product.features.items()}
    assert (
        query(db, "SELECT count(*), count(DISTINCT id) FROM features")[0]
        == (sum(len(p.features) for p in simulator.account.active_products()),) * 2
    )
    # The product endpoint is not even asked for known-sectioned products.
    assert all(simulator.app.requests_by_product[("features", p.id)] == 0 for p in sectioned)
    assert query(db, "SELECT count(*) FROM features WHERE len(section_ids) > 1")[0][0] > 0


def test_a_forbidden_product_fails_alone(
    simulator: SimulatorServer, db: Path, instance: DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    products = simulator.account.active_products()
    denied = products[1].id
    simulator.arm(
        Fault(endpoint="exploratory_tests", status=403, product_id=denied, times=None),
        Fault(endpoint="section_features", status=403, product_id=denied, times=None),
        Fault(endpoint="features", status=403, product_id=denied, times=None),
    )
    summary = sync(pipeline_for(simulator, db, monkeypatch), instance)
    assert summary.failed_products == [denied]
    assert summary.failure is not None and f"product {denied}" in summary.failure
    assert "403" in summary.failure
    stored = {r[0] for r in query(db, "SELECT DISTINCT product_id FROM tests")}
    assert stored == {p.id for p in products} - {denied}
    materialized = instance.get_materialized_partitions(AssetKey("tests"))
    assert materialized == {str(p.id) for p in products} - {str(denied)}


def test_a_sync_of_an_unknown_product_is_refused(
    simulator: SimulatorServer, db: Path, instance: DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Refused after the first listing when nothing is stored yet, and before any API call
    once a catalogue is stored."""
    from testio_assets.commands.runs import SyncError

    defs = pipeline_for(simulator, db, monkeypatch)
    with pytest.raises(SyncError, match="not a product of this account's catalogue: 999"):
        sync(defs, instance, 999)
    simulator.app.reset_counts()
    with pytest.raises(SyncError, match="not a product of this account's catalogue: 999"):
        sync(defs, instance, 999)
    assert sum(simulator.requests.values()) == 0


def test_more_than_150_tests_are_all_stored(
    db: Path, instance: DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    from testio_assets.simulator.profiles import Profile

    big = Profile(
        products=2,
        tests_per_product=(160, 170),
        bugs_per_test=(0, 1),
        features_per_product=(2, 3),
        sectioned_share=0.0,
    )
    with SimulatorServer(big, seed=2) as server:
        summary = sync(pipeline_for(server, db, monkeypatch), instance)
        assert summary.rows["tests"] == server.account.counts()["tests"] > 300


def test_bug_pages_parsed_in_a_worker_process_store_the_same_rows(
    simulator: SimulatorServer, tmp_path: Path
) -> None:
    """Large runs parse bug pages in another process: same rows, same skipped records."""
    product = simulator.account.active_products()[0]
    bad = next(b for t in product.tests for b in simulator.account.bugs_by_test[t.id])
    bad.title = 12345  # type: ignore[assignment]  # a number where the API sends text
    simulator.account.changed()
    now = datetime.now(UTC)
    ids = [p.id for p in simulator.account.active_products()]
    plan = SyncPlan(ids, frozenset({"tests", "bugs"}), now)
    tables, skipped = [], []
    for in_worker in (False, True):
        client = client_for(simulator, parse_in_worker_from=1 if in_worker else 10**6)
        store = DuckDBStore(path=str(tmp_path / f"worker-{in_worker}.duckdb"))
        asyncio.run(sync_products(client, store, now))
        outcome = asyncio.run(sync_product_partitions(client, store, plan))
        assert not outcome.failures
        tables.append(snapshot(Path(store.path))["bugs"])
        skipped.append(outcome.reports[("bugs", product.id)].skipped_records)
    in_process, in_worker = tables
    assert in_worker == in_process and len(in_process) == simulator.account.counts()["bugs"] - 1
    assert bad.id not in {row[0] for row in in_worker}
    assert skipped[0] == skipped[1] and f"id {bad.id}" in skipped[1][0]


def test_a_run_requested_with_other_settings_says_so_in_its_log(
    simulator: SimulatorServer, db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run worker that did not receive every setting computes with others than the
    process that requested the run (defs/launch_tags.py): its log says so."""
    from dagster import AssetSelection, materialize

    from testio_assets.defs.pipeline import build_definitions
    from testio_assets.names import PRODUCTS, SETTINGS_TAG
    from testio_assets.settings import Settings, settings_digest

    monkeypatch.setenv("TESTIO_API_TOKEN", simulator.token)
    settings = Settings(api_token=simulator.token, base_url=simulator.base_url, duckdb_path=str(db))
    defs = build_definitions(settings)
    ours, other = settings_digest(settings), "0" * 12
    warnings = {}
    for digest in (ours, other):
        with DagsterInstance.ephemeral() as instance:
            result = materialize(
                list(defs.assets or []),
                selection=AssetSelection.assets(PRODUCTS),
                instance=instance,
                resources=defs.resources,
                tags={SETTINGS_TAG: digest},
            )
            assert result.success
            logs = instance.all_logs(result.run_id)
            warnings[digest] = [e.message for e in logs if "settings differ" in e.message]
    assert warnings[ours] == []
    assert len(warnings[other]) == 1 and other in warnings[other][0]
