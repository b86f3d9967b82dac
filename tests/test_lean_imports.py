"""The processes that sync do not load pandas; a DataFrame asked for afterwards works.

pandas is installed for users' DataFrames (`defs/frames.py`); pyarrow and DuckDB load
it whenever they can, 107 MiB in every process that syncs (`testio_assets/lean.py`). This
fails when our code, or a library, starts loading it during a sync."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from testio_assets.simulator.server import SimulatorServer
from tests.pipeline_helpers import ROOT

# A whole sync (catalogue, products with analytics, bug pages parsed in a worker process),
# in a process of its own; then what it loaded, and a DataFrame read afterwards.
SCRIPT = """
import json, sys
from dagster import DagsterInstance, Definitions
from testio_assets.api.client import TestIOClient
from testio_assets.commands.runs import run_sync
from testio_assets.defs.pipeline import build_definitions
from testio_assets.settings import Settings

settings = Settings(api_token=sys.argv[1], base_url=sys.argv[2], duckdb_path=sys.argv[3])
built = build_definitions(settings)
client = TestIOClient(api_token=sys.argv[1], base_url=sys.argv[2], parse_in_worker_from=1)
defs = Definitions(assets=built.assets, resources={**built.resources, "testio": client},
                   executor=built.executor)
with DagsterInstance.ephemeral() as instance:
    summary = run_sync(defs, instance)
during = "pandas" in sys.modules
import duckdb
with duckdb.connect(sys.argv[3], read_only=True) as conn:
    frame = conn.execute("SELECT * FROM bugs").df()
print(json.dumps({"failure": summary.failure, "pandas_during_sync": during,
                  "frame": type(frame).__name__, "rows": len(frame)}))
"""


def test_a_sync_and_its_parse_worker_do_not_load_pandas(
    simulator: SimulatorServer, tmp_path: Path
) -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, simulator.token, simulator.base_url,
         str(tmp_path / "lean.duckdb")],
        capture_output=True, text=True, cwd=ROOT, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["failure"] is None
    assert found["pandas_during_sync"] is False
    assert found["frame"] == "DataFrame" and found["rows"] == simulator.account.counts()["bugs"]


def test_the_parse_worker_never_loads_pandas() -> None:
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    from testio_assets.lean import never_pandas

    with ProcessPoolExecutor(1, mp_context=get_context("spawn"), initializer=never_pandas) as pool:
        assert pool.submit(_import_pandas).result(60) == "ImportError"


def _import_pandas() -> str:
    try:
        import pandas  # noqa: F401
    except ImportError:
        return "ImportError"
    return "imported"
