"""`testio-assets bench`: the pipeline against the simulator, measured against two baselines.

1. Cold full sync through Dagster (`testio-assets sync` in a child process), against the
   lower bound (needed requests x latency / concurrency) and the floor (a bare asyncio
   httpx client, same concurrency, no Dagster, no storage, same simulator).
2. No-change refresh right after it.
3. The stale-features sensor tick over many partitions.
4. DuckDB load rate for bugs.
5. Peak memory of the sync process.

The simulator runs in its own process, served on 127.0.0.1, so that it does not share an
interpreter (and its lock) with what is measured.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from testio_assets.simulator.data import SimulatedAccount
from testio_assets.simulator.profiles import profile_for
from testio_assets.simulator.server import DEFAULT_TOKEN
from testio_assets.timings import PEAK_RSS, WORKER_RSS
from tools.bench.baselines import bare_client, needed_for_refresh, needed_requests
from tools.bench.instance import BenchInstance, bench_instance
from tools.bench.report import render
from tools.bench.storage import footprint, per_day
from tools.ports import free_loopback_port

BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class BenchOptions:
    profile: str = "large"
    products: int | None = None  # the profile's shape with this many products
    seed: int = 7
    latency_ms: float = 100.0
    concurrency: int = 10
    page_size: int = 25
    bug_batch_size: int = 15
    sensor_partitions: int = 5000
    instance: str = "pooled"  # bench_instance.INSTANCES


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


def run_sync(
    workdir: Path,
    simulator: ServedSimulator,
    options: BenchOptions,
    instance: BenchInstance,
    *args: str,
    analytics: bool = False,
    **settings: str,
) -> tuple[float, str]:
    """`testio-assets sync --timings ARGS` in a child process, with `settings` in its
    environment: (wall s, output; the output has the sync's own peak RSS, `timings.py`).
    The analytics are left out (the figures compare the sync itself) unless `analytics`.
    The instance is prepared in `workdir` the first time."""
    workdir.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TESTIO_")}
    env.pop("DAGSTER_EVENT_BATCH_SIZE", None)
    home = workdir / "dagster_home"
    env_file = workdir / "instance.env"
    if not env_file.exists():
        env_file.write_text(json.dumps(instance.prepare(home)))
    env.update(json.loads(env_file.read_text()))
    env.update(
        TESTIO_DUCKDB_PATH=str(workdir / "testio.duckdb"),
        TESTIO_API_TOKEN=DEFAULT_TOKEN,
        TESTIO_BASE_URL=simulator.base_url,
        TESTIO_MAX_CONCURRENCY=str(options.concurrency),
        TESTIO_PAGE_SIZE=str(options.page_size),
        TESTIO_BUG_BATCH_SIZE=str(options.bug_batch_size),
    )
    env.update(settings)
    started = time.monotonic()
    if not analytics:
        args = (*args, "--no-analytics")
    process = subprocess.Popen(
        [str(BIN / "testio-assets"), "sync", "--timings", *args],
        env=env,
        cwd=workdir,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    output = process.stdout.read()
    status = process.wait()
    wall = time.monotonic() - started
    if status != 0:
        raise RuntimeError(f"testio-assets sync failed:\n{output}")
    return wall, output


def sensor_tick_seconds(partitions: int, kind: BenchInstance) -> float:
    """Best of three ticks of the stale-features core over `partitions` partitions."""
    from dagster import AssetKey, AssetMaterialization

    from testio_assets.defs.automation.partitions import sync_partitions
    from testio_assets.defs.automation.sensors import evaluate_stale_features

    with tempfile.TemporaryDirectory() as home, kind.open(Path(home)) as instance:
        keys = [str(100000 + i) for i in range(partitions)]
        sync_partitions(instance, keys)
        for key in keys[: partitions // 2]:
            instance.report_runless_asset_event(
                AssetMaterialization(AssetKey("features"), partition=key)
            )
        best = float("inf")
        for _ in range(3):
            started = time.perf_counter()
            evaluate_stale_features(instance, timedelta(hours=1), datetime.now(UTC), 50)
            best = min(best, time.perf_counter() - started)
        return best


def bug_load_rate(account: SimulatedAccount, workdir: Path, limit: int = 60) -> tuple[int, float]:
    """Bug rows written per second by the real writer, product by product."""
    from testio_assets.api.models import Bug
    from testio_assets.store.database import DuckDBStore
    from testio_assets.store.queries import table_counts
    from testio_assets.store.rows import bug_rows, skipped_rows
    from testio_assets.store.session import store_session
    from testio_assets.store.writers import BugsWrite, write_bugs

    store = DuckDBStore(path=str(workdir / "load.duckdb"))
    now = datetime.now(UTC)
    staged = []
    for product in account.active_products()[:limit]:
        tests = [t.id for t in product.tests]
        bugs = [
            Bug.model_validate(account.bug_json(b)) for t in tests for b in account.bugs_by_test[t]
        ]
        staged.append((product.id, tests, bug_rows(product.id, bugs, now)))
    rows = sum(table.num_rows for _, _, table in staged)

    async def load() -> float:
        async with store_session(store) as db:
            await db.read(table_counts)  # open and migrate before the clock starts
            started = time.perf_counter()
            await asyncio.gather(
                *(
                    db.write_batched(
                        write_bugs,
                        BugsWrite(
                            product_id, tests, table, now, skipped_rows(product_id, "bugs", [], now)
                        ),
                    )
                    for product_id, tests, table in staged
                )
            )
            return time.perf_counter() - started

    return rows, asyncio.run(load())


def _timings(output: str) -> dict[str, float]:
    found = {}
    for line in output.splitlines():
        match = re.match(r"\s+([a-z A-Z()]+?)\s+([0-9.]+)$", line)
        if match:
            found[match.group(1).strip()] = float(match.group(2))
    return found


def run_benchmark(options: BenchOptions) -> dict[str, float]:
    """Run everything and print one table; returns the figures."""
    account = SimulatedAccount(profile_for(options.profile, options.products), options.seed)
    counts = account.counts()
    needed = needed_requests(account, options.page_size, options.bug_batch_size)
    lower_bound = needed["total"] * options.latency_ms / 1000 / options.concurrency
    print(
        f"profile {options.profile} (seed {options.seed}): {counts['products']} products, "
        f"{counts['tests']:,} tests, {counts['bugs']:,} bugs, {counts['features']:,} features;"
        f" {options.latency_ms:g} ms per request, concurrency {options.concurrency};"
        f" Dagster instance: {options.instance}",
        flush=True,
    )
    simulator = ServedSimulator(options)
    try:
        with (
            tempfile.TemporaryDirectory(prefix="testio-bench-") as tmp,
            bench_instance(options.instance) as instance,
        ):
            f, cold_output = _measure(Path(tmp), simulator, options, instance, account)
    finally:
        simulator.stop()
    timings = _timings(cold_output)
    wall = f["cold_wall_s"]
    figures = {
        **f,
        "checks_share": (wall - f["cold_wall_without_checks_s"]) / wall,
        "needed_requests": needed["total"],
        "lower_bound_s": lower_bound,
        "wall_over_lower_bound": wall / lower_bound,
        "wall_over_floor": wall / f["floor_s"],
        "refresh_allowed": needed_for_refresh(account, options.page_size, options.bug_batch_size),
        "peak_rss_mib": timings[PEAK_RSS],
        "worker_rss_mib": timings.get(WORKER_RSS, 0.0),
    }
    print(render(figures, needed, options, timings))
    print("BENCH_JSON " + json.dumps({k: round(v, 4) for k, v in figures.items()}))
    return figures


def _measure(
    workdir: Path,
    simulator: ServedSimulator,
    options: BenchOptions,
    instance: BenchInstance,
    account: SimulatedAccount,
) -> tuple[dict[str, float], str]:
    """The measured figures, and the cold sync's output (its timings)."""
    f: dict[str, float] = {}
    simulator.reset()
    started = time.monotonic()
    f["floor_requests"] = asyncio.run(
        bare_client(simulator.base_url, DEFAULT_TOKEN, *_sizes(options))
    )
    f["floor_s"] = time.monotonic() - started
    simulator.reset()
    f["cold_wall_s"], cold_output = run_sync(workdir, simulator, options, instance)
    f["cold_requests"] = simulator.requests()
    f["duckdb_mib"] = (workdir / "testio.duckdb").stat().st_size / 2**20
    instance_env = json.loads((workdir / "instance.env").read_text())
    after_cold = footprint(instance_env)
    simulator.reset()
    f["refresh_wall_s"] = run_sync(workdir, simulator, options, instance)[0]
    f["refresh_requests"] = simulator.requests()
    after_refresh = footprint(instance_env)
    # The cold sync built no analytics: this refresh builds them for every product.
    with_analytics = run_sync(workdir, simulator, options, instance, analytics=True)[0]
    f["analytics_s"] = with_analytics - f["refresh_wall_s"]
    after_analytics = footprint(instance_env)
    # The day's one refresh that records every partition again (assets/recording.py),
    # with the analytics that follows.
    run_sync(
        workdir, simulator, options, instance, analytics=True, TESTIO_RECORD_EVERY_HOURS="1e-4"
    )
    after_rerecord = footprint(instance_env)
    # Every product's features stale (TTL 1 s): a refresh plus a refresh of the features,
    # with the analytics of every product (all four tables; the daemon rebuilds the two
    # that read features: an upper bound).
    run_sync(workdir, simulator, options, instance, analytics=True, FEATURE_CACHE_TTL_SECONDS="1")
    quiet = after_refresh - after_cold
    features = (footprint(instance_env) - after_rerecord) - quiet
    daily = per_day(quiet, after_rerecord - after_analytics, features)
    f["events_per_refresh"] = quiet.event_rows
    f["events_per_rerecord"] = (after_rerecord - after_analytics).event_rows
    f["events_per_features_refresh"] = features.event_rows
    f["events_per_day"] = daily.event_rows
    f["storage_mib_per_day"] = daily.bytes / 2**20
    f["cold_wall_without_checks_s"] = run_sync(
        workdir / "no-checks", simulator, options, instance, "--no-checks"
    )[0]
    f["sensor_tick_s"] = sensor_tick_seconds(options.sensor_partitions, instance)
    bug_rows, bug_seconds = bug_load_rate(account, workdir)
    f["bug_rows_per_s"] = bug_rows / bug_seconds
    return f, cold_output


def _sizes(options: BenchOptions) -> tuple[int, int, int]:
    return options.concurrency, options.page_size, options.bug_batch_size
