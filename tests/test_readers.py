"""Readers never wait for the pipeline, and the pipeline never waits for readers.

The pipeline writes its own file and publishes consistent copies to `TESTIO_DUCKDB_PATH`
(`store/publication.py`); people read that file with plain DuckDB, read-only.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import duckdb

from testio_assets.simulator.server import SimulatorServer
from testio_assets.store.database import DuckDBStore
from tests.pipeline_helpers import BIN, process_env, query

HOLD = (
    "import duckdb, sys, time\n"
    "c = duckdb.connect(sys.argv[1], read_only=True)\n"
    "print(c.execute('SELECT count(*) FROM tests').fetchone()[0], flush=True)\n"
    "time.sleep(600)\n"
)


def _sync(env: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(BIN / "testio-assets"), "sync"],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_a_reader_holding_the_file_delays_no_sync_and_one_opening_mid_sync_answers(
    tmp_path: Path,
) -> None:
    db = tmp_path / "testio.duckdb"
    with SimulatorServer("small", seed=3, latency_ms=30) as server:
        env = process_env(tmp_path, server=server)
        first = _sync(env, tmp_path)
        assert first.wait(300) == 0, first.stderr.read() if first.stderr else ""
        # A notebook keeps a read-only connection open through the next sync.
        holder = subprocess.Popen(
            [sys.executable, "-c", HOLD, str(db)], stdout=subprocess.PIPE, text=True
        )
        try:
            assert holder.stdout is not None
            held_tests = int(holder.stdout.readline())
            server.add_product()  # something new upstream for the next sync
            running = _sync(env, tmp_path)
            time.sleep(2)  # into the sync
            assert running.poll() is None, "the sync ended before a reader could open"
            started = time.monotonic()
            with duckdb.connect(str(db), read_only=True) as conn:  # mid-sync: at once
                mid = conn.execute("SELECT count(*) FROM tests").fetchone()
            assert time.monotonic() - started < 2
            assert mid == (held_tests,)  # the data as of the last completed write
            out, err = running.communicate(timeout=300)
            assert running.returncode == 0, err[-3000:]
            assert "waited" not in out + err  # nobody's lock was waited for
            assert holder.poll() is None  # the reader is still there, undisturbed
        finally:
            holder.kill()
            holder.wait(30)
        truth = server.account.counts()
    # A new reader sees every row.
    assert query(db, "SELECT count(*) FROM tests")[0][0] == truth["tests"]
    assert query(db, "SELECT count(*) FROM bugs")[0][0] == truth["bugs"]
    assert query(db, "SELECT count(*) FROM products WHERE is_active")[0][0] == truth["products"]


CRASH = (
    "import os, sys\n"
    "from testio_assets.store.database import DuckDBStore\n"
    "store = DuckDBStore(path=sys.argv[1])\n"
    "with store.writing() as writer:\n"
    "    with writer.transaction() as conn:\n"
    "        conn.execute('CREATE TABLE kept AS SELECT 42 AS answer')\n"
    "    os._exit(9)  # killed before the writer's block ends: nothing published\n"
)


def test_a_crash_between_a_write_and_its_publication_loses_nothing(tmp_path: Path) -> None:
    db = tmp_path / "t.duckdb"
    crashed = subprocess.run([sys.executable, "-c", CRASH, str(db)], cwd=Path.cwd())
    assert crashed.returncode == 9
    assert not db.exists()  # readers never saw it
    store = DuckDBStore(path=str(db))
    assert store.read(lambda c: c.execute("SELECT answer FROM kept").fetchall()) == [(42,)]
    # The next process that holds the writer publishes what the crashed one wrote.
    assert query(db, "SELECT answer FROM kept") == [(42,)]


def test_reading_through_the_writer_does_not_publish_again(tmp_path: Path) -> None:
    db = tmp_path / "t.duckdb"
    store = DuckDBStore(path=str(db))
    store.write(lambda c: c.execute("CREATE TABLE t AS SELECT 1 AS a").fetchall())
    published = os.stat(db).st_mtime_ns
    time.sleep(0.05)
    assert store.read(lambda c: c.execute("SELECT a FROM t").fetchall()) == [(1,)]
    assert os.stat(db).st_mtime_ns == published
