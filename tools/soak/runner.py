"""One soak, start to verdict (see the package docstring)."""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from dagster import AssetKey, AssetRecordsFilter, DagsterInstance, RunsFilter

from testio_assets.defs.automation.partitions import product_partitions
from testio_assets.names import FEATURES
from testio_assets.settings import load_settings, settings_digest
from testio_assets.simulator.faults import Chaos, Fault
from testio_assets.simulator.server import SimulatorServer
from tools.bench.instance import BenchInstance, bench_instance
from tools.ports import free_loopback_port
from tools.soak.outcomes import IN_FLIGHT, STUCK, run_outcomes, stale_partitions
from tools.soak.plan import SoakPlan
from tools.soak.processes import DagsterDev
from tools.soak.report import SoakReport
from tools.soak.truth import compare_with_reference, compare_with_simulator, reference_sync
from tools.soak.ui_backfill import UiBackfill

Say = Callable[[str], None]


def dagster_env(plan: SoakPlan, server: SimulatorServer, home: Path, db: Path) -> dict[str, str]:
    """The environment of `dg dev`: this soak's simulator, files and intervals, and
    nothing of the caller's own `TESTIO_*` settings (a real token, a Postgres URL)."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("TESTIO_", "DAGSTER_")) and key != "FEATURE_CACHE_TTL_SECONDS"
    }
    env.update(
        DAGSTER_HOME=str(home),
        DAGSTER_EVENT_BATCH_SIZE="1000",
        TESTIO_API_TOKEN=server.token,
        TESTIO_BASE_URL=server.base_url,
        TESTIO_DUCKDB_PATH=str(db),
        FEATURE_CACHE_TTL_SECONDS=str(plan.feature_ttl_seconds),
        TESTIO_REFRESH_CRON=plan.refresh_cron,
        TESTIO_RECORD_EVERY_HOURS=f"{plan.record_every_hours:.6f}",
        TESTIO_DISCOVERY_INTERVAL_SECONDS=str(plan.discovery_interval_seconds),
    )
    return env


class Soak:
    """The moving parts of one soak, with the events it scripts."""

    def __init__(self, plan: SoakPlan, workdir: Path, say: Say) -> None:
        self.plan = plan
        self.workdir = workdir
        self.say = say
        self.db = workdir / "testio.duckdb"
        self.home = workdir / "dagster_home"
        self.home.mkdir(parents=True, exist_ok=True)
        self.server = SimulatorServer(plan.profile(), plan.seed, latency_ms=plan.latency_ms)
        self.server.faults.chaos = Chaos(plan.fault_rate, plan.seed)
        self.rng = random.Random(plan.seed)
        self.forbidden: int | None = None
        self.events: list[str] = []
        self.ui_port = 0  # the webserver's, once it answers
        self.backfill: UiBackfill | None = None

    def event(self, text: str) -> None:
        self.events.append(text)
        self.say(f"  event: {text}")

    def pick_product(self) -> int:
        """An active product that is not the one answering 403."""
        choices = [p.id for p in self.server.account.active_products() if p.id != self.forbidden]
        return self.rng.choice(choices)

    def scripted_events(self, share: float, done: set[str]) -> None:
        """The scripted events, each once, at its share of the run: a product appears,
        one answers 403, one vanishes, and someone backfills three products from the UI."""
        if share >= self.plan.ADD_PRODUCT_AT and "add" not in done:
            done.add("add")
            self.event(f"product {self.server.add_product()} appears")
        if share >= self.plan.FORBID_PRODUCT_AT and "forbid" not in done:
            done.add("forbid")
            self.forbidden = self.pick_product()
            self.server.arm(Fault(status=403, times=None, product_id=self.forbidden))
            self.event(f"product {self.forbidden} starts answering 403")
        if share >= self.plan.REMOVE_PRODUCT_AT and "remove" not in done:
            done.add("remove")
            gone = self.pick_product()
            self.server.remove_product(gone)
            self.event(f"product {gone} vanishes")
        if share >= self.plan.BACKFILL_AT and "backfill" not in done:
            done.add("backfill")
            self.backfill = UiBackfill(self.consecutive_partitions(3))
            self.backfill.launch(self.ui_port)
            self.event(f"a backfill of {self.backfill.label} from the UI ({self.backfill.status})")

    def consecutive_partitions(self, count: int) -> list[str]:
        """`count` neighbouring product partitions (a range: one run), none of them the
        product answering 403 or one that vanished."""
        active = {str(p.id) for p in self.server.account.active_products()} - {str(self.forbidden)}
        with DagsterInstance.get() as instance:
            keys = instance.get_dynamic_partitions(product_partitions.name)
        for start in range(len(keys) - count + 1):
            window = keys[start : start + count]
            if set(window) <= active:
                return window
        raise RuntimeError(f"no {count} neighbouring partitions among {keys}")

    def live(self) -> None:
        """The run itself: the clock going, the scripted events, a line a minute."""
        self.server.start_clock(self.plan.seconds_per_day)
        start = time.monotonic()
        done: set[str] = set()
        next_note = start + 60
        while (elapsed := time.monotonic() - start) < self.plan.seconds:
            self.scripted_events(elapsed / self.plan.seconds, done)
            if time.monotonic() >= next_note:
                next_note += 60
                self.say(
                    f"  {elapsed / 60:4.1f} min: simulated day {self.server.account.step}, "
                    f"{sum(self.server.requests.values())} requests, "
                    f"{sum(self.server.faults.injected.values())} faults"
                )
            time.sleep(1)


def partitions_match(instance: DagsterInstance, server: SimulatorServer) -> bool:
    active = {str(p.id) for p in server.account.active_products()}
    return set(instance.get_dynamic_partitions(product_partitions.name)) == active


def features_synced_since(instance: DagsterInstance, since: datetime, keys: set[str]) -> bool:
    result = instance.fetch_materializations(
        AssetRecordsFilter(
            asset_key=AssetKey(FEATURES),
            asset_partitions=sorted(keys),
            after_timestamp=since.timestamp(),
        ),
        limit=10_000,
    )
    done = {r.partition_key for r in result.records}
    return keys <= done


def refresh_finished_since(instance: DagsterInstance, since: datetime) -> bool:
    runs = instance.get_runs(
        filters=RunsFilter(tags={"testio/trigger": "refresh_tests_and_bugs"}, created_after=since),
        limit=20,
    )
    return any(run.status not in IN_FLIGHT for run in runs)


def settle(soak: Soak, instance: DagsterInstance, frozen_at: datetime) -> tuple[bool, float]:
    """Wait until automation has caught up with the frozen account: partitions equal to
    its products, a refresh started after that finished, and every product's features
    synced after the freeze. Returns (settled, seconds waited)."""
    started = time.monotonic()
    deadline = started + soak.plan.settle_timeout_seconds
    partitions_at: datetime | None = None
    while time.monotonic() < deadline:
        time.sleep(5)
        if partitions_at is None:
            if partitions_match(instance, soak.server):
                partitions_at = datetime.now(UTC)
            continue
        keys = {str(p.id) for p in soak.server.account.active_products()} - {str(soak.forbidden)}
        if refresh_finished_since(instance, partitions_at) and features_synced_since(
            instance, frozen_at, keys
        ):
            return True, time.monotonic() - started
    return False, time.monotonic() - started


def stuck_runs(instance: DagsterInstance, timeout: float) -> list[str]:
    """Wait for the runs in flight now to end (automation goes on: there are always new
    ones); those still starting or running after `timeout` seconds are stuck."""
    pending = {r.run_id for r in instance.get_runs(filters=RunsFilter(statuses=list(IN_FLIGHT)))}
    deadline = time.monotonic() + timeout
    while True:
        runs = [instance.get_run_by_id(run_id) for run_id in pending]
        live = [r for r in runs if r is not None and r.status in IN_FLIGHT]
        if not live or time.monotonic() >= deadline:
            break
        time.sleep(3)
    return [f"{r.run_id[:8]} {r.status.value}" for r in live if r.status in STUCK]


def run_soak(plan: SoakPlan, workdir: Path, say: Say = print) -> SoakReport:
    """Run one soak in `workdir` (kept: DuckDB, Dagster's home, the `dg dev` log), on the
    Dagster instance `plan.instance` names (a throwaway PostgreSQL server for
    `postgres-stock`, stopped at the end)."""
    with bench_instance(plan.instance) as kind:
        return _soak_on(kind, plan, workdir, say)


def _soak_on(kind: BenchInstance, plan: SoakPlan, workdir: Path, say: Say) -> SoakReport:
    workdir.mkdir(parents=True, exist_ok=True)
    soak = Soak(plan, workdir, say)
    counts = soak.server.account.counts()
    say(
        f"soak: {plan.minutes:g} min, {counts['products']} products, a simulated day every "
        f"{plan.seconds_per_day:g} s, {plan.fault_rate:.0%} of requests faulty, features TTL "
        f"{plan.feature_ttl_seconds} s, refresh cron '{plan.refresh_cron}', Dagster instance "
        f"{plan.instance}; in {workdir}"
    )
    report = SoakReport(plan=plan, workdir=str(workdir))
    soak.server.start()
    instance_env = kind.prepare(soak.home)  # its dagster.yaml, and where its storage is
    env = dagster_env(plan, soak.server, soak.home, soak.db) | instance_env
    dev = DagsterDev(workdir, env, free_loopback_port())
    os.environ.update(instance_env)  # this process reads the same instance
    try:
        dev.wait_until_serving()
        soak.ui_port = dev.port
        say(f"  dg dev on http://127.0.0.1:{dev.port}")
        began = datetime.now(UTC)
        run_start = time.monotonic()
        soak.live()
        soak.server.stop_clock()
        soak.server.faults.chaos = None
        frozen_at = datetime.now(UTC)
        report.simulated_days = soak.server.account.step
        say(f"  clock stopped at simulated day {report.simulated_days}; settling")
        with DagsterInstance.get() as instance:
            report.settled, report.settle_seconds = settle(soak, instance, frozen_at)
            say(
                f"  {'settled' if report.settled else 'NOT settled'} after "
                f"{report.settle_seconds:.0f} s; waiting for the runs in flight to end"
            )
            report.stuck = stuck_runs(instance, plan.drain_timeout_seconds)
            if soak.backfill is not None:
                soak.backfill.finish(dev.port, plan.drain_timeout_seconds)
            outcomes = run_outcomes(instance, began, settings_digest(load_settings(env)))
            report.stale_left = stale_partitions(instance, plan.feature_ttl_seconds, soak.forbidden)
        report.requests = dict(soak.server.requests)
        report.faults = dict(soak.server.faults.injected)
    finally:
        dev.stop()
        soak.server.stop_clock()
    report.events = soak.events
    report.backfill = soak.backfill
    report.dev_problems = dev.problems()
    report.forbidden = soak.forbidden
    report.outcomes = outcomes
    report.memory = dev.memory
    report.warm_up_until = (plan.warm_up_share * plan.seconds) + (run_start - dev.started)
    report.run_seconds = plan.seconds
    compare(soak, report, say)
    soak.server.stop()
    return report


def compare(soak: Soak, report: SoakReport, say: Say) -> None:
    """DuckDB against a fresh sync of the frozen account, and against its objects."""
    say("  comparing DuckDB with the truth (a fresh sync of the frozen account)")
    ids = [p.id for p in soak.server.account.active_products() if p.id != soak.forbidden]
    reference = soak.workdir / "reference.duckdb"
    reference.unlink(missing_ok=True)
    reference_sync(soak.server, reference, ids)
    report.versus_reference = compare_with_reference(soak.db, reference, ids)
    report.versus_simulator = compare_with_simulator(soak.db, soak.server.account, ids)
