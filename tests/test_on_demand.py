"""`testio-assets features` and `users`: the cache, the TTL, and what they print."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from testio_assets.cli import main
from testio_assets.simulator.server import SimulatorServer
from tests.pipeline_helpers import ROOT, edit, query

FEATURE_LABELS = {"features", "section_features", "user_stories"}


@pytest.fixture
def synced(
    simulator: SimulatorServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, db: Path
) -> SimulatorServer:
    """The simulator's account synced into `db` by `testio-assets sync`, and the
    environment the commands read (token, URL, database, DAGSTER_HOME)."""
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(ROOT / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("TESTIO_API_TOKEN", simulator.token)
    monkeypatch.setenv("TESTIO_BASE_URL", simulator.base_url)
    monkeypatch.setenv("TESTIO_DUCKDB_PATH", str(db))
    monkeypatch.setenv("TESTIO_RETRY_BUDGET_SECONDS", "2")
    assert main(["sync", "--no-analytics"]) == 0
    simulator.app.reset_counts()
    return simulator


def features_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    capsys.readouterr()
    assert main(["features", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def age_features(db: Path, product_id: int, hours: int = 2) -> None:
    edit(
        db,
        f"UPDATE products SET features_synced_at = now() - INTERVAL {hours} HOUR WHERE id = ?",
        [product_id],
    )


def synced_at(db: Path, product_id: int) -> Any:
    return query(db, "SELECT features_synced_at FROM products WHERE id = ?", [product_id])[0][0]


def first_product(server: SimulatorServer, sectioned: bool) -> int:
    return next(p.id for p in server.account.active_products() if p.is_sectioned == sectioned)


def test_fresh_features_are_served_from_duckdb_with_zero_api_calls(
    synced: SimulatorServer, db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    product = first_product(synced, sectioned=True)
    answer = features_json(capsys, "--product", str(product))
    assert answer["source"] == "cache" and answer["api_requests"] == 0
    assert sum(synced.requests.values()) == 0
    stored = query(db, "SELECT id FROM features WHERE product_id = ? ORDER BY id", [product])
    assert [f["id"] for f in answer["features"]] == [row[0] for row in stored]
    assert 0 <= answer["age_seconds"] < 300 and answer["ttl_seconds"] == 3600


@pytest.mark.parametrize("sectioned", [True, False])
def test_stale_features_make_exactly_the_products_feature_calls(
    synced: SimulatorServer, db: Path, capsys: pytest.CaptureFixture[str], sectioned: bool
) -> None:
    product = first_product(synced, sectioned)
    age_features(db, product)
    before = synced_at(db, product)
    answer = features_json(capsys, "--product", str(product))
    calls = synced.app.requests_by_product
    assert answer["source"] == "api" and answer["api_requests"] == sum(synced.requests.values())
    assert {pid for _, pid in calls} == {product}
    assert {label for label, _ in calls} <= FEATURE_LABELS
    assert synced_at(db, product) > before
    # The same calls as a forced refresh of a fresh product: nothing more, nothing less.
    synced.app.reset_counts()
    forced = features_json(capsys, "--product", str(product), "--force-refresh")
    assert forced["source"] == "api" and forced["api_requests"] == answer["api_requests"]


def test_force_refresh_re_reads_a_fresh_product(
    synced: SimulatorServer, db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    product = first_product(synced, sectioned=False)
    before = synced_at(db, product)
    answer = features_json(capsys, "--product", str(product), "--force-refresh")
    assert answer["source"] == "api" and answer["api_requests"] > 0
    assert synced_at(db, product) > before
    # Recorded in DAGSTER_HOME like every sync: the next plain read is from the cache.
    assert features_json(capsys, "--product", str(product))["source"] == "cache"


def test_section_filters_the_features(
    synced: SimulatorServer, db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    product = first_product(synced, sectioned=True)
    sim = next(p for p in synced.account.active_products() if p.id == product)
    sections = [section_id for section_id, _ in sim.sections]
    for section in sections:
        answer = features_json(capsys, "--product", str(product), "--section", str(section))
        expected = query(
            db,
            "SELECT id FROM features WHERE product_id = ? AND list_contains(section_ids, ?) "
            "ORDER BY id",
            [product, section],
        )
        assert [f["id"] for f in answer["features"]] == [row[0] for row in expected]
        assert all(section in f["section_ids"] for f in answer["features"])
    assert sum(synced.requests.values()) == 0


def test_bad_input_exits_2_and_a_refused_refresh_exits_1_keeping_the_data(
    synced: SimulatorServer,
    db: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    product = first_product(synced, sectioned=True)
    assert main(["features", "--product", "999999"]) == 2
    assert "999999 is not in the catalogue" in capsys.readouterr().err
    assert main(["features", "--product", str(product), "--section", "424242"]) == 2
    assert "has no section 424242" in capsys.readouterr().err
    assert main(["users", "--product", "999999"]) == 2

    stored = query(db, "SELECT * FROM features ORDER BY id")
    monkeypatch.setenv("TESTIO_API_TOKEN", "a-wrong-token")
    assert main(["features", "--product", str(product), "--force-refresh"]) == 1
    err = capsys.readouterr().err
    assert "refresh failed" in err and "a-wrong-token" not in err
    assert query(db, "SELECT * FROM features ORDER BY id") == stored


def test_users_come_from_duckdb_by_role(
    synced: SimulatorServer, db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    product = first_product(synced, sectioned=False)
    for role in ("tester", "customer"):
        capsys.readouterr()
        assert main(["users", "--product", str(product), "--role", role, "--json"]) == 0
        answer = json.loads(capsys.readouterr().out)
        names = query(
            db, "SELECT name FROM users WHERE product_id = ? AND role = ?", [product, role]
        )
        assert sorted(u["name"] for u in answer["users"]) == sorted(r[0] for r in names)
        assert {u["role"] for u in answer["users"]} == {role}
    assert main(["users", "--product", str(product)]) == 0
    text = capsys.readouterr().out
    assert text.startswith(f"product {product}: ") and "customer" in text and "tester" in text
    assert sum(synced.requests.values()) == 0


def test_reads_answer_while_the_pipeline_holds_its_file(
    synced: SimulatorServer, db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The pipeline holds its own file (a sync in progress); `users` reads the published
    one at once instead of waiting."""
    writer = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('held', "
            "flush=True); time.sleep(30)",
            f"{db}.writer",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert writer.stdout is not None and writer.stdout.readline().strip() == "held"
        product = first_product(synced, sectioned=False)
        started = time.monotonic()
        assert main(["users", "--product", str(product), "--json"]) == 0
        assert time.monotonic() - started < 2
        assert json.loads(capsys.readouterr().out)["users"]
    finally:
        writer.kill()
        writer.wait(30)
