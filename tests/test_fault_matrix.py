"""The fault matrix: what the pipeline survives, with nothing lost and nothing leaked.

Every test runs the real pipeline (Dagster execution, the HTTP client, DuckDB) against the
simulator over loopback, on a real DuckDB file, and asserts what was stored and what was
reported.
"""

from __future__ import annotations

import time
from email.utils import formatdate
from pathlib import Path
from typing import Any

import pytest
from dagster import AssetKey, AssetRecordsFilter, DagsterInstance

from testio_assets.simulator.faults import Fault
from testio_assets.simulator.server import SimulatorServer
from tests.pipeline_helpers import (
    all_test_ids,
    pipeline_for,
    query,
    stored_test_ids,
    sync,
)


def latest_metadata(instance: DagsterInstance, asset: str, partition: str) -> dict[str, Any]:
    records = instance.fetch_materializations(
        AssetRecordsFilter(AssetKey(asset), asset_partitions=[partition]), limit=1
    ).records
    assert records, f"no materialization of {asset}[{partition}]"
    materialization = records[0].asset_materialization
    assert materialization is not None
    return {k: v.value for k, v in materialization.metadata.items()}


# -- rate limits -----------------------------------------------------------------------


@pytest.mark.parametrize("retry_after", ["1", "http-date", "0"])
def test_a_429_storm_with_retry_after_in_seconds_as_a_date_or_zero_loses_nothing(
    simulator: SimulatorServer,
    db: Path,
    instance: DagsterInstance,
    monkeypatch: pytest.MonkeyPatch,
    retry_after: str,
) -> None:
    value = formatdate(time.time() + 1, usegmt=True) if retry_after == "http-date" else retry_after
    simulator.arm(
        Fault(endpoint="exploratory_tests", status=429, retry_after=value, times=6),
        Fault(endpoint="bugs", status=429, retry_after=value, times=4),
    )
    summary = sync(pipeline_for(simulator, db, monkeypatch), instance)
    assert summary.failure is None
    assert stored_test_ids(db) == all_test_ids(simulator)
    assert query(db, "SELECT count(*) FROM bugs")[0][0] == simulator.account.counts()["bugs"]


def test_a_429_that_never_ends_fails_its_partition_at_the_time_cap(
    simulator: SimulatorServer, db: Path, instance: DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    victim = simulator.account.active_products()[0].id
    simulator.arm(
        Fault(
            endpoint="exploratory_tests", status=429, retry_after="1", times=None, product_id=victim
        )
    )
    started = time.monotonic()
    summary = sync(pipeline_for(simulator, db, monkeypatch, retry_budget_seconds=3.0), instance)
    assert time.monotonic() - started < 30
    assert summary.failed_products == [victim]
    assert summary.failure is not None
    assert f"product {victim} tests" in summary.failure and "429" in summary.failure
    assert "retry budget" in summary.failure
    others = all_test_ids(simulator) - {t.id for t in simulator.account.products[victim].tests}
    assert stored_test_ids(db) == others


# -- broken pages and bodies -------------------------------------------------------------


def test_a_500_page_is_split_and_the_poisoned_test_skipped_and_reported(
    one_product: SimulatorServer,
    db: Path,
    instance: DagsterInstance,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    product = one_product.account.active_products()[0]
    poisoned = product.tests[-30].id  # on page 2 of the newest-first listing
    one_product.faults.poisoned_test_ids.add(poisoned)
    summary = sync(pipeline_for(one_product, db, monkeypatch), instance)
    assert summary.failure is None
    assert stored_test_ids(db) == all_test_ids(one_product) - {poisoned}
    meta = latest_metadata(instance, "tests", str(product.id))
    assert meta["records_skipped"] == 1
    assert "always fails" in meta["skipped_records"]


def test_a_malformed_record_is_skipped_and_reported(
    one_product: SimulatorServer,
    db: Path,
    instance: DagsterInstance,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    product = one_product.account.active_products()[0]
    broken = product.tests[5].id
    one_product.faults.malformed_test_ids.add(broken)
    sync(pipeline_for(one_product, db, monkeypatch), instance)
    assert stored_test_ids(db) == all_test_ids(one_product) - {broken}
    meta = latest_metadata(instance, "tests", str(product.id))
    assert meta["records_skipped"] == 1 and f"broken-{broken}" in meta["skipped_records"]


def test_timeouts_are_retried_and_nothing_is_lost(
    one_product: SimulatorServer,
    db: Path,
    instance: DagsterInstance,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    one_product.arm(
        Fault(endpoint="exploratory_tests", status=200, delay_seconds=3, times=2),
        Fault(endpoint="bugs", status=200, delay_seconds=3, times=1),
    )
    summary = sync(pipeline_for(one_product, db, monkeypatch, http_timeout_seconds=0.5), instance)
    assert summary.failure is None
    assert stored_test_ids(db) == all_test_ids(one_product)
    assert query(db, "SELECT count(*) FROM bugs")[0][0] == one_product.account.counts()["bugs"]


def test_dropped_connections_and_truncated_bodies_are_retried(
    one_product: SimulatorServer,
    db: Path,
    instance: DagsterInstance,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    one_product.arm(
        Fault(endpoint="exploratory_tests", truncate=True, times=2),
        Fault(endpoint="bugs", truncate=True, times=1),
        Fault(endpoint="features", truncate=True, times=1),
    )
    summary = sync(pipeline_for(one_product, db, monkeypatch), instance)
    assert summary.failure is None
    assert stored_test_ids(db) == all_test_ids(one_product)
    assert (
        query(db, "SELECT count(*) FROM features")[0][0] == one_product.account.counts()["features"]
    )


@pytest.mark.parametrize(
    "body,content_type",
    [
        ("<html><body><h1>502 Bad Gateway</h1></body></html>", "text/html"),
        ('{"exploratory_tests": [{"id": 1, ', "application/json"),
        ("", "application/json"),
    ],
)
def test_non_json_bodies_and_html_pages_with_status_200_are_retried(
    one_product: SimulatorServer,
    db: Path,
    instance: DagsterInstance,
    monkeypatch: pytest.MonkeyPatch,
    body: str,
    content_type: str,
) -> None:
    one_product.arm(
        Fault(
            endpoint="exploratory_tests", status=200, body=body, content_type=content_type, times=2
        )
    )
    summary = sync(pipeline_for(one_product, db, monkeypatch), instance)
    assert summary.failure is None
    assert stored_test_ids(db) == all_test_ids(one_product)


# -- schema drift -----------------------------------------------------------------------


def test_schema_drift_extra_missing_null_fields_and_unknown_statuses_are_absorbed(
    one_product: SimulatorServer,
    db: Path,
    instance: DagsterInstance,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    product = one_product.account.active_products()[0]
    drifted = {t.id for t in product.tests[::7]}
    one_product.faults.drifted_test_ids.update(drifted)
    summary = sync(pipeline_for(one_product, db, monkeypatch), instance)
    assert summary.failure is None
    assert stored_test_ids(db) == all_test_ids(one_product)
    rows = query(
        db,
        "SELECT status, title, start_at, feature_ids, is_final FROM tests "
        f"WHERE id IN ({','.join(map(str, drifted))})",
    )
    assert {r[0] for r in rows} == {"paused_by_customer"}  # kept as text
    assert all(r[1] is None and r[2] is None and r[3] == [] for r in rows)
    assert not any(r[4] for r in rows)  # an unknown status counts as changeable
    # ... so the next sync reads them again: on the two newest pages, and the two beyond
    # them (on page 3 of 60 tests) with one more page rather than two requests by id.
    one_product.app.reset_counts()
    sync(pipeline_for(one_product, db, monkeypatch), instance)
    on_first_pages = {t.id for t in product.tests[::-1][:50]}
    assert len(drifted - on_first_pages) == 2
    assert one_product.app.requests_by_product[("exploratory_tests", product.id)] == 3
    assert not one_product.app.tests_read_by_id


def test_an_id_repeated_across_pages_is_stored_once(
    one_product: SimulatorServer,
    db: Path,
    instance: DagsterInstance,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    one_product.faults.shift_pages = True
    summary = sync(pipeline_for(one_product, db, monkeypatch), instance)
    assert summary.failure is None
    assert query(db, "SELECT count(*), count(DISTINCT id) FROM tests")[0] == (60, 60)
    assert stored_test_ids(db) == all_test_ids(one_product)


# -- refused access -----------------------------------------------------------------------


def test_401_stops_the_run_at_the_first_call_and_writes_nothing(
    simulator: SimulatorServer, db: Path, instance: DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TESTIO_API_TOKEN", "not-the-token")
    from testio_assets.commands.runs import run_sync
    from testio_assets.defs.pipeline import build_definitions
    from testio_assets.settings import Settings

    defs = build_definitions(
        Settings(api_token="not-the-token", base_url=simulator.base_url, duckdb_path=str(db))
    )
    summary = run_sync(defs, instance)
    assert summary.failure is not None
    assert summary.failure.splitlines()[0].endswith(
        "the Test IO API refused the token (401). Check TESTIO_API_TOKEN."
    )
    assert "not-the-token" not in summary.failure
    assert sum(simulator.requests.values()) == 1  # the first call, not retried
    assert not db.exists()  # nothing written


def test_403_and_404_fail_only_their_product(
    simulator: SimulatorServer, db: Path, instance: DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    products = simulator.account.active_products()
    forbidden, missing = products[0].id, products[2].id
    simulator.arm(
        Fault(status=403, product_id=forbidden, times=None),
        Fault(endpoint="exploratory_tests", status=404, product_id=missing, times=None),
    )
    summary = sync(pipeline_for(simulator, db, monkeypatch), instance)
    assert summary.failed_products == sorted([forbidden, missing])
    assert summary.failure is not None
    assert "403 (access forbidden)" in summary.failure and "404 (not found)" in summary.failure
    healthy = {p.id for p in products} - {forbidden, missing}
    assert {r[0] for r in query(db, "SELECT DISTINCT product_id FROM tests")} == healthy
    assert instance.get_materialized_partitions(AssetKey("bugs")) == {str(p) for p in healthy}
