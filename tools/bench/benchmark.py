"""`testio-assets bench`: the pipeline against the simulator, measured against two baselines.

1. Cold full sync through Dagster (`testio-assets sync` in a child process, checks and
   analytics included), against the lower bound (needed requests x latency / concurrency)
   and the floor (a bare asyncio httpx client, same concurrency, no Dagster, no storage,
   same simulator), measured in the same run; its CPU per 1,000 rows stored and where it
   went; the same without checks (their share).
2. No-change refresh right after it.
3. The stale-features sensor tick over many partitions.
4. DuckDB load rate for bugs.
5. Peak memory of the sync process.
6. The store's size; the Dagster events a day of the default schedule records.

The simulator runs in its own process, served on 127.0.0.1, so that it does not share an
interpreter (and its lock) with what is measured.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from testio_assets.simulator.data import SimulatedAccount
from testio_assets.simulator.profiles import profile_for
from testio_assets.simulator.server import DEFAULT_TOKEN
from testio_assets.timings import PEAK_RSS, WORKER_RSS
from tools.bench.baselines import bare_client, needed_for_refresh, needed_requests
from tools.bench.instance import BenchInstance, bench_instance
from tools.bench.loads import bug_load_rate, sensor_tick_seconds
from tools.bench.report import render
from tools.bench.runs import ServedSimulator, SyncRunner, stored_rows, timings_of
from tools.bench.storage import footprint, per_day

STORES = ("file", "lake")


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
    instance: str = "sqlite"  # instance.INSTANCES
    store: str = "file"  # STORES


def run_benchmark(options: BenchOptions) -> dict[str, float]:
    """Run everything and print one table; returns the figures."""
    if options.store not in STORES:
        raise ValueError(f"--store {options.store!r} is unknown: use file or lake")
    account = SimulatedAccount(profile_for(options.profile, options.products), options.seed)
    counts = account.counts()
    needed = needed_requests(account, options.page_size, options.bug_batch_size)
    lower_bound = needed["total"] * options.latency_ms / 1000 / options.concurrency
    print(
        f"profile {options.profile} (seed {options.seed}): {counts['products']} products, "
        f"{counts['tests']:,} tests, {counts['bugs']:,} bugs, {counts['features']:,} features;"
        f" {options.latency_ms:g} ms per request, concurrency {options.concurrency};"
        f" Dagster instance: {options.instance}; store: {options.store}",
        flush=True,
    )
    with ExitStack() as stack:
        simulator = ServedSimulator(options)
        stack.callback(simulator.stop)
        instance = stack.enter_context(bench_instance(options.instance, options.store))
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="testio-bench-")))
        f, cold_output = _measure(workdir, simulator, options, instance, account)
    timings = timings_of(cold_output)
    wall = f["cold_wall_s"]
    cpu = timings.get("process CPU", 0.0) + timings.get("worker CPU", 0.0)
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
        "cpu_s": cpu,
        "cpu_per_1000_rows_s": cpu / max(f["rows_stored"], 1) * 1000,
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
    runner = SyncRunner(simulator, options, instance)
    simulator.reset()
    started = time.monotonic()
    f["floor_requests"] = asyncio.run(
        bare_client(
            simulator.base_url,
            DEFAULT_TOKEN,
            options.concurrency,
            options.page_size,
            options.bug_batch_size,
        )
    )
    f["floor_s"] = time.monotonic() - started
    simulator.reset()
    f["cold_wall_s"], cold_output = runner.sync(workdir)
    f["cold_requests"] = simulator.requests()
    f["rows_stored"] = stored_rows(cold_output)
    f["store_mib"] = runner.store_mib(workdir)
    env = runner.instance_env(workdir)
    after_cold = footprint(env)
    simulator.reset()
    f["refresh_wall_s"] = runner.sync(workdir)[0]
    f["refresh_requests"] = simulator.requests()
    after_refresh = footprint(env)
    # The day's one refresh that records every partition again (defs/assets/recording.py).
    runner.sync(workdir, TESTIO_RECORD_EVERY_HOURS="1e-4")
    after_rerecord = footprint(env)
    # Every product's features stale (TTL 1 s): a refresh plus a refresh of the features.
    runner.sync(workdir, FEATURE_CACHE_TTL_SECONDS="1")
    quiet = after_refresh - after_cold
    features = (footprint(env) - after_rerecord) - quiet
    daily = per_day(quiet, after_rerecord - after_refresh, features)
    f["events_per_refresh"] = quiet.event_rows
    f["events_per_rerecord"] = (after_rerecord - after_refresh).event_rows
    f["events_per_features_refresh"] = features.event_rows
    f["events_per_day"] = daily.event_rows
    f["storage_mib_per_day"] = daily.bytes / 2**20
    f["cold_wall_without_checks_s"] = runner.sync(workdir / "no-checks", "--no-checks")[0]
    f["sensor_tick_s"] = sensor_tick_seconds(options.sensor_partitions, instance)
    rows, seconds = bug_load_rate(account, workdir)
    f["bug_rows_per_s"] = rows / seconds
    return f, cold_output
