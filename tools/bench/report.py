"""The table `testio-assets bench` prints."""

from __future__ import annotations

from typing import TYPE_CHECKING

from testio_assets.timings import DUCKDB_CPU, ENGINE_CPU

if TYPE_CHECKING:
    from tools.bench.benchmark import BenchOptions

Rows = list[tuple[str, str]]


def render(
    f: dict[str, float], needed: dict[str, int], options: BenchOptions, timings: dict[str, float]
) -> str:
    rows = _sync_rows(f, needed) + _cpu_rows(f, timings) + _other_rows(f, options)
    width = max(len(label) for label, _ in rows) + 2
    return "\n".join(f"{label:<{width}}{value}" for label, value in rows)


def _sync_rows(f: dict[str, float], needed: dict[str, int]) -> Rows:
    return [
        ("1. cold full sync (checks and analytics included): wall", f"{f['cold_wall_s']:.1f} s"),
        (
            "   requests made / needed",
            f"{f['cold_requests']:.0f} / {f['needed_requests']:.0f} "
            f"({needed['pages']} pages + {needed['bug batches']} bug batches + "
            f"{needed['feature calls']} feature calls + 1)",
        ),
        ("   lower bound (needed x latency / concurrency)", f"{f['lower_bound_s']:.1f} s"),
        (
            "   floor (bare asyncio httpx client, this run)",
            f"{f['floor_s']:.1f} s ({f['floor_requests']:.0f} requests)",
        ),
        ("   wall / lower bound", f"{f['wall_over_lower_bound']:.2f}x"),
        ("   wall / floor", f"{f['wall_over_floor']:.2f}x"),
        (
            "   the same without asset checks (their cost)",
            f"{f['cold_wall_without_checks_s']:.1f} s ({_checks_cost(f['checks_share'])})",
        ),
        (
            "2. no-change refresh: requests (allowed)",
            f"{f['refresh_requests']:.0f} ({f['refresh_allowed']:.0f})",
        ),
        ("   wall", f"{f['refresh_wall_s']:.1f} s"),
    ]


def _checks_cost(share: float) -> str:
    if share <= 0:  # the sync without checks took as long or longer: run-to-run noise
        return "no measurable cost: within run-to-run noise"
    return f"{share:.1%} of the cold sync"


def _cpu_rows(f: dict[str, float], t: dict[str, float]) -> Rows:
    """The cold sync's CPU per 1,000 rows stored, and where it went, per thread: the engine
    (HTTP, JSON, validation, staging, checks), DuckDB, the rest (Dagster, analytics)."""
    if not t:
        return []
    per = 1000 / max(f["rows_stored"], 1)
    engine, duckdb = t.get(ENGINE_CPU, 0.0), t.get(DUCKDB_CPU, 0.0)
    measured = t.get("json decoding", 0) + t.get("payload validation", 0)
    measured += t.get("arrow staging", 0) + t.get("checks", 0)
    process = t.get("process CPU", 0.0)
    analytics = t.get("analytics", 0.0)
    rest = max(process - engine - duckdb - analytics, 0.0)
    worker = t.get("worker CPU", 0.0)

    def ms(seconds: float) -> str:
        return f"{seconds * per * 1000:.0f} ms"

    return [
        (
            "   CPU per 1,000 rows stored",
            f"{ms(f['cpu_s'])} ({f['cpu_s']:.1f} s for {f['rows_stored']:,.0f} rows; "
            f"process {process:.1f} s + parse worker {worker:.1f} s)",
        ),
        ("     HTTP and asyncio (engine thread)", ms(max(engine - measured, 0.0))),
        (
            # pydantic-core parses and validates a page in one pass: one figure for both.
            "     JSON parsing and validation (+ parse worker: bug pages)",
            f"{ms(t.get('json decoding', 0) + t.get('payload validation', 0))} + {ms(worker)}",
        ),
        ("     Arrow staging", ms(t.get("arrow staging", 0))),
        ("     checks' verdicts", ms(t.get("checks", 0))),
        ("     DuckDB (database thread)", ms(duckdb)),
        ("     analytics (DuckDB, main thread)", ms(analytics)),
        ("     Dagster and the rest (main thread)", ms(rest)),
    ]


def _other_rows(f: dict[str, float], options: BenchOptions) -> Rows:
    store = "DuckLake data files" if options.store == "lake" else "DuckDB file"
    return [
        (
            f"3. stale-features sensor tick, {options.sensor_partitions:,} partitions",
            f"{f['sensor_tick_s'] * 1000:.0f} ms",
        ),
        ("4. DuckDB load rate (bug rows)", f"{f['bug_rows_per_s']:,.0f} rows/s"),
        (
            "5. peak RSS of the sync process (+ its parse worker)",
            f"{f['peak_rss_mib']:.0f} MiB (+ {f['worker_rss_mib']:.0f} MiB)",
        ),
        (f"6. {store} after the cold sync", f"{f['store_mib']:,.0f} MiB"),
        (
            "7. Dagster events per no-change refresh / re-record / features refresh",
            f"{f['events_per_refresh']:,.0f} / {f['events_per_rerecord']:,.0f}"
            f" / {f['events_per_features_refresh']:,.0f}",
        ),
        (
            "   per day (95 + 1 refreshes, 24 feature refreshes)",
            f"{f['events_per_day']:,.0f} events"
            + (f", {f['storage_mib_per_day']:,.0f} MiB" if f["storage_mib_per_day"] else ""),
        ),
    ]
