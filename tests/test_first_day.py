"""A real user's first day, scripted: the token path against the simulator served over
HTTP (the way a real account is reached), every command, and every way the first hour
went wrong before: a forgotten token, a wrong one, an unreachable URL, a base URL without
`/customer/v2`, a sync from another source. Each refusal is short, names the URL or the
setting, shows no traceback, and leaves the database exactly as it was."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from dagster import DagsterInstance

from testio_assets.simulator.server import SimulatorServer
from tests.pipeline_helpers import BIN, process_env, query
from tools.ports import free_loopback_port

TOKEN = "tk-first-day-6f1c2b9e"  # not the simulator's default: the token path for real
MOST_LINES = 4  # what "short" means for a failure's output


@dataclass
class Account:
    server: SimulatorServer
    workdir: Path
    env: dict[str, str]

    @property
    def db(self) -> Path:
        return Path(self.env["TESTIO_DUCKDB_PATH"])

    def run(self, *args: str, **env: str | None) -> subprocess.CompletedProcess[str]:
        """`testio-assets ARGS` with this account's settings, changed by `env` (None unsets)."""
        settings = dict(self.env)
        for name, value in env.items():
            if value is None:
                settings.pop(name, None)
            else:
                settings[name] = value
        done = subprocess.run(
            [str(BIN / "testio-assets"), *args],
            env=settings,
            cwd=self.workdir,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert TOKEN not in done.stdout + done.stderr, "the token reached the output"
        return done


@pytest.fixture(scope="module")
def account(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Account]:
    """An account synced once with a token, the way a new user starts."""
    workdir = tmp_path_factory.mktemp("first-day")
    with SimulatorServer("demo", seed=5, token=TOKEN) as server:
        env = process_env(workdir, TESTIO_API_TOKEN=TOKEN, TESTIO_BASE_URL=server.base_url)
        user = Account(server, workdir, env)
        done = user.run("sync")
        assert done.returncode == 0, done.stdout + done.stderr[-3000:]
        yield user


def stored(db: Path) -> dict[str, Any]:
    """What must survive every refusal: row counts, and the products' ids, names and
    active flags."""
    tables = ("products", "tests", "bugs", "features", "user_stories", "users")
    return {
        "counts": {t: query(db, f"SELECT count(*) FROM {t}")[0][0] for t in tables},
        "products": query(db, "SELECT id, name, is_active FROM products ORDER BY id"),
    }


def refused(done: subprocess.CompletedProcess[str], code: int, *named: str) -> str:
    """The failure's output, checked: its exit code, short, naming `named`, no traceback."""
    output = (done.stdout + done.stderr).strip()
    assert done.returncode == code, output
    assert len(output.splitlines()) <= MOST_LINES, output
    assert "Traceback" not in output and 'File "' not in output, output
    assert "0 of 0" not in output, output  # no summary of a sync that never listed
    for text in named:
        assert text in output, f"{text!r} not in: {output}"
    return output


def test_the_first_sync_with_a_token_stores_the_account(account: Account) -> None:
    truth = account.server.account.counts()
    now = stored(account.db)
    assert now["counts"]["products"] == truth["products"]
    assert now["counts"]["tests"] == truth["tests"]
    assert now["counts"]["bugs"] == truth["bugs"]
    source = query(account.db, "SELECT * FROM store_source")
    assert account.server.base_url in str(source)
    assert TOKEN.encode() not in account.db.read_bytes()


def test_products_lists_the_account_with_a_token(account: Account) -> None:
    done = account.run("products")
    assert done.returncode == 0, done.stderr
    ids = [int(line.split()[0]) for line in done.stdout.splitlines()]
    assert ids == sorted(p.id for p in account.server.account.active_products())
    assert account.server.base_url in done.stderr


@pytest.mark.parametrize(
    "forgotten",
    [
        pytest.param({"TESTIO_API_TOKEN": None}, id="base-url-still-set"),
        pytest.param({"TESTIO_API_TOKEN": None, "TESTIO_BASE_URL": None}, id="nothing-set"),
        pytest.param({"TESTIO_API_TOKEN": ""}, id="empty-token"),
    ],
)
@pytest.mark.parametrize("command", [["sync"], ["products"], ["sync", "--product", "1"]])
def test_a_forgotten_token_is_refused_and_writes_nothing(
    account: Account, forgotten: dict[str, str | None], command: list[str]
) -> None:
    before = stored(account.db)
    output = refused(account.run(*command, **forgotten), 2, "TESTIO_API_TOKEN", "demo")
    assert "simulator" in output
    assert stored(account.db) == before


def test_a_wrong_token_names_the_url_and_writes_nothing(account: Account) -> None:
    before = stored(account.db)
    for command in (["sync"], ["products"]):
        output = refused(
            account.run(*command, TESTIO_API_TOKEN="tk-wrong"),
            1,
            f"{account.server.base_url}/products",
            "TESTIO_API_TOKEN",
        )
        assert "tk-wrong" not in output
    assert stored(account.db) == before


def test_an_unreachable_url_names_it_and_writes_nothing(account: Account) -> None:
    before = stored(account.db)
    url = f"http://127.0.0.1:{free_loopback_port()}/customer/v2"
    started = time.monotonic()
    refused(account.run("products", TESTIO_BASE_URL=url), 1, f"{url}/products", "TESTIO_BASE_URL")
    assert time.monotonic() - started < 60  # three attempts, not the whole retry budget
    # A first sync into a new file: the same error, and no database left behind.
    new = account.workdir / "unreachable.duckdb"
    refused(
        account.run("sync", TESTIO_BASE_URL=url, TESTIO_DUCKDB_PATH=str(new)),
        1,
        f"{url}/products",
        "TESTIO_BASE_URL",
    )
    assert not new.exists() or not query(new, "SELECT count(*) FROM products")[0][0]
    # Into the account's file: refused before any call, naming both URLs.
    refused(account.run("sync", TESTIO_BASE_URL=url), 2, url, account.server.base_url)
    assert stored(account.db) == before


def test_a_base_url_without_customer_v2_says_so_and_writes_nothing(account: Account) -> None:
    before = stored(account.db)
    root = account.server.base_url.removesuffix("/customer/v2")
    refused(account.run("products", TESTIO_BASE_URL=root), 1, f"{root}/products", "/customer/v2")
    new = account.workdir / "no-v2.duckdb"
    refused(
        account.run("sync", TESTIO_BASE_URL=root, TESTIO_DUCKDB_PATH=str(new)),
        1,
        f"{root}/products",
        "/customer/v2",
    )
    refused(account.run("sync", TESTIO_BASE_URL=root), 2, root, account.server.base_url)
    assert stored(account.db) == before


def test_a_sync_from_another_source_is_refused_naming_both(account: Account) -> None:
    """The forgotten-token story of before, replayed with the simulator asked for: the
    database holds the account's data, so the demo's is refused before any write."""
    before = stored(account.db)
    output = refused(
        account.run("sync", TESTIO_API_TOKEN=None, TESTIO_SIMULATOR="1"),
        2,
        account.server.base_url,
        "simulator",
        "--start-over",
    )
    assert "demo" in output  # the simulator's profile, named as the other source
    assert stored(account.db) == before


def test_an_unknown_product_is_refused_before_any_api_call(account: Account) -> None:
    before = stored(account.db)
    calls = sum(account.server.requests.values())
    refused(account.run("sync", "--product", "999999"), 2, "999999")
    assert sum(account.server.requests.values()) == calls
    assert stored(account.db) == before


def test_every_read_command_works_with_a_token(account: Account) -> None:
    product = query(account.db, "SELECT min(id) FROM products WHERE is_active")[0][0]
    features = account.run("features", "--product", str(product), "--json")
    assert features.returncode == 0, features.stderr
    answer = json.loads(features.stdout)
    assert answer["product_id"] == product and answer["source"] == "cache"
    stored_features = query(
        account.db, f"SELECT count(*) FROM features WHERE product_id = {product}"
    )[0][0]
    assert len(answer["features"]) == stored_features

    users = account.run("users", "--product", str(product), "--role", "tester", "--json")
    assert users.returncode == 0, users.stderr
    testers = json.loads(users.stdout)["users"]
    assert testers and all(u["role"] == "tester" for u in testers)

    table = account.run("sql", "SELECT id, name FROM products ORDER BY id")
    assert table.returncode == 0 and str(product) in table.stdout
    as_json = json.loads(account.run("sql", "FROM products ORDER BY id", "--json").stdout)
    assert [row["id"] for row in as_json] == [r[0] for r in stored(account.db)["products"]]
    as_csv = list(csv.DictReader(io.StringIO(account.run("sql", "FROM tests", "--csv").stdout)))
    assert len(as_csv) == stored(account.db)["counts"]["tests"]

    before = stored(account.db)
    refused(account.run("sql", "DELETE FROM bugs"), 2, "DELETE")
    assert stored(account.db) == before


def test_sync_of_one_product_and_a_forced_feature_refresh_with_a_token(account: Account) -> None:
    product = query(account.db, "SELECT max(id) FROM products WHERE is_active")[0][0]
    calls = sum(account.server.requests.values())
    done = account.run("sync", "--product", str(product))
    assert done.returncode == 0, done.stderr[-3000:]
    assert "0 of 0" not in done.stdout + done.stderr
    assert sum(account.server.requests.values()) > calls
    refreshed = account.run("features", "--product", str(product), "--force-refresh", "--json")
    assert refreshed.returncode == 0, refreshed.stderr
    assert json.loads(refreshed.stdout)["source"] == "api"


HOLD_WRITER = (
    "import duckdb, sys, time\n"
    "c = duckdb.connect(sys.argv[1])\n"
    "print('held', flush=True)\n"
    "time.sleep(float(sys.argv[2]))\n"
)


def test_a_wait_for_the_database_is_announced_with_the_file_and_holder(account: Account) -> None:
    """Another process holds the pipeline's file: the sync says so within 2 s and every
    10 s after, naming the file and the holder's pid, then goes on when it is free."""
    writer = f"{account.db}.writer"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_WRITER, writer, "20"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        product = query(account.db, "SELECT min(id) FROM products WHERE is_active")[0][0]
        sync = subprocess.Popen(
            [str(BIN / "testio-assets"), "sync", "--product", str(product)],
            env=account.env,
            cwd=account.workdir,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        _, err = sync.communicate(timeout=300)
    finally:
        holder.kill()
        holder.wait(30)
    assert sync.returncode == 0, err[-3000:]
    notices = [line for line in err.splitlines() if "waiting for DuckDB file" in line]
    assert len(notices) >= 2, err  # within 2 s, and again 10 s later
    assert writer in notices[0] and f"process {holder.pid}" in notices[0]
    first_after = float(notices[0].rsplit("(", 1)[1].split()[0])
    assert first_after <= 2.5


def test_no_run_logs_a_false_alarm_about_missing_outputs(
    account: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Runs that evaluate checks used to log "did not yield or return expected outputs"."""
    monkeypatch.setenv("DAGSTER_HOME", account.env["DAGSTER_HOME"])
    with DagsterInstance.get() as instance:
        records = instance.get_run_records()
        assert records
        for record in records:
            for entry in instance.all_logs(record.dagster_run.run_id):
                assert "did not yield or return expected outputs" not in entry.message


def test_the_demo_syncs_into_its_own_folder_and_leaves_the_account_alone(
    account: Account,
) -> None:
    """Quick start 1 (`scripts/demo.sh` runs `testio-assets demo`), with the UI left out:
    the simulator's demo account goes to the demo folder, whatever token and database the
    shell names; the account's database is untouched."""
    before = stored(account.db)
    demo = account.workdir / "demo-folder"
    done = account.run("demo", "--no-ui", "--workdir", str(demo))
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    assert "demo-folder" in done.stderr and "simulator" in done.stderr
    demo_db = demo / "testio.duckdb"
    assert query(demo_db, "SELECT count(*) FROM products WHERE is_active")[0][0] == 5
    assert (demo / "dagster_home").is_dir()
    assert stored(account.db) == before
