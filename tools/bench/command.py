"""`testio-assets bench` in a development checkout (tools/ is not installed)."""

from __future__ import annotations

import argparse
from typing import Any

from tools.bench.instance import INSTANCES


def cmd_bench(args: argparse.Namespace) -> int:
    from tools.bench.benchmark import BenchOptions, run_benchmark

    run_benchmark(
        BenchOptions(
            profile=args.profile,
            products=args.products,
            seed=args.seed,
            latency_ms=args.latency_ms,
            concurrency=args.concurrency,
            sensor_partitions=args.sensor_partitions,
            instance=args.instance,
            store=args.store,
        )
    )
    return 0


def add_bench_command(sub: Any) -> None:
    bench = sub.add_parser("bench", help="benchmark a full sync against the simulator")
    bench.add_argument("--profile", default="large", help="demo | small | large | scattered")
    bench.add_argument("--products", type=int, help="the profile's shape with N products")
    bench.add_argument("--seed", type=int, default=7)
    bench.add_argument("--latency-ms", type=float, default=100.0)
    bench.add_argument("--concurrency", type=int, default=10)
    bench.add_argument("--sensor-partitions", type=int, default=5000)
    bench.add_argument(
        "--instance",
        default="sqlite",
        choices=INSTANCES,
        help="the Dagster instance the runs record into (postgres: a throwaway local server)",
    )
    bench.add_argument(
        "--store",
        default="file",
        choices=("file", "lake"),
        help="the store: the DuckDB file, or a DuckLake (catalog on a throwaway local server)",
    )
    bench.set_defaults(func=cmd_bench)
