"""The table `testio-assets bench` prints."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tools.bench.benchmark import BenchOptions


def render(
    f: dict[str, float], needed: dict[str, int], options: BenchOptions, timings: dict[str, float]
) -> str:
    rows = [
        ("1. cold full sync: wall", f"{f['cold_wall_s']:.1f} s"),
        (
            "   requests made / needed",
            f"{f['cold_requests']:.0f} / {f['needed_requests']:.0f} "
            f"({needed['pages']} pages + {needed['bug batches']} bug batches + "
            f"{needed['feature calls']} feature calls + 1)",
        ),
        ("   lower bound (needed x latency / concurrency)", f"{f['lower_bound_s']:.1f} s"),
        (
            "   floor (bare asyncio httpx client)",
            f"{f['floor_s']:.1f} s ({f['floor_requests']:.0f} requests)",
        ),
        ("   wall / lower bound", f"{f['wall_over_lower_bound']:.2f}x"),
        ("   wall / floor", f"{f['wall_over_floor']:.2f}x"),
        (
            "   the same without asset checks (their cost)",
            f"{f['cold_wall_without_checks_s']:.1f} s ({f['checks_share']:.1%} of the cold sync)",
        ),
        (
            "2. no-change refresh: requests (allowed)",
            f"{f['refresh_requests']:.0f} ({f['refresh_allowed']:.0f})",
        ),
        ("   wall", f"{f['refresh_wall_s']:.1f} s"),
        (
            "   the same plus every product's analytics (their cost)",
            f"+{f['analytics_s']:.1f} s",
        ),
        *_sensor_load_and_memory_rows(f, options),
    ]
    if timings:
        rows.append(
            (
                "   sync CPU (of which, in the process: JSON / validation / staging / DuckDB)",
                f"{timings.get('process CPU', 0):.1f} s + worker "
                f"{timings.get('worker CPU', 0):.1f} s ({timings.get('json decoding', 0):.1f}"
                f" / {timings.get('payload validation', 0):.1f}"
                f" / {timings.get('arrow staging', 0):.1f}"
                f" / {timings.get('duckdb writes', 0):.1f})",
            )
        )
    rows += _storage_rows(f)
    width = max(len(label) for label, _ in rows) + 2
    return "\n".join(f"{label:<{width}}{value}" for label, value in rows)


def _storage_rows(f: dict[str, float]) -> list[tuple[str, str]]:
    return [
        ("6. DuckDB file after the cold sync", f"{f['duckdb_mib']:,.0f} MiB"),
        (
            "7. Dagster event log: events per no-change refresh / re-record / features",
            f"{f['events_per_refresh']:,.0f} / {f['events_per_rerecord']:,.0f}"
            f" / {f['events_per_features_refresh']:,.0f}",
        ),
        (
            "   per day (95 + 1 refreshes, 24 feature refreshes)",
            f"{f['events_per_day']:,.0f} events"
            + (f", {f['storage_mib_per_day']:,.0f} MiB" if f["storage_mib_per_day"] else ""),
        ),
    ]


def _sensor_load_and_memory_rows(
    f: dict[str, float], options: BenchOptions
) -> list[tuple[str, str]]:
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
    ]
