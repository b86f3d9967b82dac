"""The processes a benchmark measures: the simulator it serves, and `testio-assets sync`
runs against it, each in a process of its own."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from testio_assets.simulator.server import DEFAULT_TOKEN
from tools.bench.instance import BenchInstance
from tools.ports import free_loopback_port

if TYPE_CHECKING:
    from tools.bench.benchmark import BenchOptions

BIN = Path(sys.executable).parent


class ServedSimulator:
    """`testio-assets simulator` in a child process."""

    def __init__(self, options: BenchOptions) -> None:
        self.port = free_loopback_port()
        self.process = subprocess.Popen(
            [
                str(BIN / "testio-assets"),
                "simulator",
                "--port",
                str(self.port),
                "--profile",
                options.profile,
                "--seed",
                str(options.seed),
                "--latency-ms",
                str(options.latency_ms),
                *(["--products", str(options.products)] if options.products else []),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.admin = f"http://127.0.0.1:{self.port}/_simulator"
        self.base_url = f"http://127.0.0.1:{self.port}/customer/v2"
        deadline = time.monotonic() + 120
        while True:
            try:
                httpx.get(f"{self.admin}/stats", timeout=1)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError("the simulator did not start") from None
                time.sleep(0.2)

    def requests(self) -> int:
        return int(httpx.get(f"{self.admin}/stats", timeout=10).json()["total"])

    def reset(self) -> None:
        httpx.post(f"{self.admin}/stats/reset", timeout=10)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(30)


class SyncRunner:
    """`testio-assets sync --timings` runs into a work directory (its own Dagster home and
    store, prepared the first time)."""

    def __init__(
        self, simulator: ServedSimulator, options: BenchOptions, instance: BenchInstance
    ) -> None:
        self.simulator = simulator
        self.options = options
        self.instance = instance

    def instance_env(self, workdir: Path) -> dict[str, str]:
        env_file = workdir / "instance.env"
        if not env_file.exists():
            workdir.mkdir(parents=True, exist_ok=True)
            env = self.instance.prepare(workdir / "dagster_home")
            if self.instance.lake_server is not None:
                database = f"lake_{uuid.uuid4().hex[:10]}"
                env["TESTIO_DUCKLAKE_CATALOG"] = self.instance.lake_server.create_database(database)
                env["TESTIO_DUCKLAKE_DATA_PATH"] = str(workdir / "lake") + "/"
            env_file.write_text(json.dumps(env))
        return dict(json.loads(env_file.read_text()))

    def sync(self, workdir: Path, *args: str, **settings: str) -> tuple[float, str]:
        """One sync with `settings` in its environment: (wall s, its output, which has the
        process's timings and peak RSS)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("TESTIO_")}
        env.update(self.instance_env(workdir))
        env.update(
            TESTIO_DUCKDB_PATH=str(workdir / "testio.duckdb"),
            TESTIO_API_TOKEN=DEFAULT_TOKEN,
            TESTIO_BASE_URL=self.simulator.base_url,
            TESTIO_MAX_CONCURRENCY=str(self.options.concurrency),
            TESTIO_PAGE_SIZE=str(self.options.page_size),
            TESTIO_BUG_BATCH_SIZE=str(self.options.bug_batch_size),
        )
        env.update(settings)
        started = time.monotonic()
        done = subprocess.run(
            [str(BIN / "testio-assets"), "sync", "--timings", *args],
            env=env,
            cwd=workdir,
            capture_output=True,
            text=True,
        )
        wall = time.monotonic() - started
        if done.returncode != 0:
            raise RuntimeError(f"testio-assets sync failed:\n{done.stdout}\n{done.stderr[-3000:]}")
        return wall, done.stdout

    def store_mib(self, workdir: Path) -> float:
        """The store's size: the published file, or the lake's data files."""
        if self.instance.lake_server is not None:
            files = [p for p in (workdir / "lake").rglob("*") if p.is_file()]
            return sum(p.stat().st_size for p in files) / 2**20
        return (workdir / "testio.duckdb").stat().st_size / 2**20


def timings_of(output: str) -> dict[str, float]:
    """The `--timings` figures of a sync's output."""
    found = {}
    for line in output.splitlines():
        match = re.match(r"\s+([a-z A-Z()]+?)\s+([0-9.]+)$", line)
        if match:
            found[match.group(1).strip()] = float(match.group(2))
    return found


def stored_rows(output: str) -> int:
    """Rows in every table after a sync, from its summary (`  table   1,234 rows`)."""
    return sum(
        int(match.group(1).replace(",", ""))
        for match in re.finditer(r"^\s+\S+\s+([\d,]+) rows$", output, re.MULTILINE)
    )
