"""The `testio-assets` command: sync | features | users | demo | products | simulator | bench |
soak."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from dotenv import load_dotenv

from testio_assets.settings import SettingsError, load_settings

PROJECT_ROOT = Path(__file__).resolve().parents[1]
INSTANCE_TEMPLATE = PROJECT_ROOT / "dagster_home" / "dagster.yaml"


def ensure_dagster_home() -> Path:
    """Use `DAGSTER_HOME`, or `./.dagster_home` so history and partitions survive restarts."""
    home = Path(os.environ.get("DAGSTER_HOME") or Path.cwd() / ".dagster_home").resolve()
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists() and INSTANCE_TEMPLATE.exists():
        config.write_text(INSTANCE_TEMPLATE.read_text())
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def cmd_simulator(args: argparse.Namespace) -> int:
    from testio_assets.simulator.profiles import profile_for
    from testio_assets.simulator.server import SimulatorServer

    server = SimulatorServer(
        profile_for(args.profile, args.products),
        args.seed,
        host=args.host,
        port=args.port,
        latency_ms=args.latency_ms,
        token=args.token,
    )
    server.account.encode_all()  # serve the first sync as fast as the ones after it
    counts = server.account.counts()
    print(
        f"Test IO simulator ({args.profile}, seed {args.seed}, {args.latency_ms:g} ms latency): "
        f"{counts['products']} products, {counts['tests']} tests, {counts['bugs']} bugs"
    )
    print(f"  base URL  {server.base_url}")
    print(f"  token     {args.token}")
    print(f"  admin     http://{args.host}:{server.port}/_simulator/stats", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


def cmd_products(args: argparse.Namespace) -> int:
    from testio_assets.defs.resources import build_client

    client = build_client(load_settings())

    async def listing() -> list[tuple[int, str, bool]]:
        async with client.session() as session:
            return [(p.id, p.name or "", p.is_sectioned) for p in await session.list_products()]

    for product_id, name, sectioned in asyncio.run(listing()):
        print(f"{product_id:>8}  {'sectioned' if sectioned else '         '}  {name}")
    return 0


def cmd_sync(args: argparse.Namespace) -> int:
    home = ensure_dagster_home()
    from testio_assets.commands.runs import SyncError, run_sync
    from testio_assets.defs.pipeline import build_definitions
    from testio_assets.instance.storage import open_instance

    settings = load_settings()
    defs = build_definitions(settings)
    from testio_assets.commands.live_progress import live_progress

    with open_instance() as instance, live_progress(sys.stderr.isatty()):
        try:
            summary = run_sync(
                defs,
                instance,
                args.product or None,
                checks=not args.no_checks,
                analytics=not args.no_analytics,
            )
        except SyncError as exc:
            print(f"testio-assets sync: {exc}", file=sys.stderr)
            return 2
    print(summary.render())
    if args.timings:
        from testio_assets.timings import render_process_timings

        print(render_process_timings())
    print(f"  database     {settings.duckdb_path}")
    print(f"  history      {home} (open the Dagster UI to see it)")
    return 1 if summary.failure else 0


def cmd_features(args: argparse.Namespace) -> int:
    ensure_dagster_home()
    from testio_assets.commands.on_demand import (
        RefreshFailed,
        UnknownInput,
        answer_features,
        dagster_refresher,
        render_features,
    )
    from testio_assets.defs.pipeline import build_definitions
    from testio_assets.instance.storage import open_instance

    settings = load_settings()
    defs = build_definitions(settings)
    store = (defs.resources or {})["store"]
    with open_instance() as instance:
        try:
            answer = answer_features(
                store,
                settings,
                args.product,
                args.section,
                args.force_refresh,
                dagster_refresher(defs, instance),
            )
        except UnknownInput as exc:
            print(f"testio-assets features: {exc}", file=sys.stderr)
            return 2
        except RefreshFailed as exc:
            print(
                f"testio-assets features: refresh failed, nothing changed: {exc}", file=sys.stderr
            )
            return 1
    print(answer.to_json() if args.json else render_features(answer))
    return 0


def cmd_users(args: argparse.Namespace) -> int:
    from testio_assets.commands.on_demand import (
        UnknownInput,
        answer_users,
        render_users,
        users_json,
    )
    from testio_assets.store.database import DuckDBStore

    store = DuckDBStore(path=load_settings().duckdb_path)
    try:
        users = answer_users(store, args.product, args.role)
    except UnknownInput as exc:
        print(f"testio-assets users: {exc}", file=sys.stderr)
        return 2
    print(
        users_json(args.product, args.role, users)
        if args.json
        else render_users(args.product, users)
    )
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """Sync the demo data, then start the Dagster UI and daemon on 127.0.0.1."""
    status = cmd_sync(
        argparse.Namespace(product=[], timings=False, no_checks=False, no_analytics=False)
    )
    if status != 0 and not args.ui_anyway:
        return status
    ensure_dagster_home()
    # `dg dev` (dagster-dg-cli): `dagster dev` warns that it is superseded by it.
    command = [
        str(Path(sys.executable).parent / "dg"),
        "dev",
        "-w",
        str(PROJECT_ROOT / "workspace.yaml"),
        "-h",
        args.host,
        "-p",
        str(args.port),
    ]
    print(
        f"starting the Dagster UI on http://{args.host}:{args.port} (Ctrl-C stops it)", flush=True
    )
    try:
        return subprocess.call(command, cwd=PROJECT_ROOT)
    except KeyboardInterrupt:
        return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from tools.bench.benchmark import BenchOptions, run_benchmark  # type: ignore[import-not-found]

    run_benchmark(
        BenchOptions(
            profile=args.profile,
            products=args.products,
            seed=args.seed,
            latency_ms=args.latency_ms,
            concurrency=args.concurrency,
            sensor_partitions=args.sensor_partitions,
            instance=args.instance,
        )
    )
    return 0


def enable_event_batches() -> None:
    """Let Dagster hand a run's planned events to the event log in batches, which
    `PooledSqliteEventLogStorage.store_event_batch` stores in one transaction. Inherited
    by `dagster dev` when `demo` starts it. A size the user set is kept."""
    os.environ.setdefault("DAGSTER_EVENT_BATCH_SIZE", "1000")


def _add_on_demand_commands(sub: Any) -> None:
    """`features` and `users`: answers about one product from DuckDB."""
    features = sub.add_parser(
        "features",
        help="a product's features from DuckDB, refreshed first when older than the TTL",
    )
    features.add_argument("--product", type=int, required=True, metavar="ID")
    features.add_argument("--section", type=int, metavar="ID", help="only this section's")
    features.add_argument(
        "--force-refresh", action="store_true", help="re-read the API even when fresh"
    )
    features.add_argument("--json", action="store_true", help="JSON for scripts")
    features.set_defaults(func=cmd_features)

    users = sub.add_parser("users", help="a product's testers and customer users, from DuckDB")
    users.add_argument("--product", type=int, required=True, metavar="ID")
    users.add_argument("--role", choices=["tester", "customer"], help="only this role")
    users.add_argument("--json", action="store_true", help="JSON for scripts")
    users.set_defaults(func=cmd_users)


def _development_tools() -> bool:
    """Whether `tools/` (bench, soak) is here: a development checkout, where the package
    sits beside it. It is never installed (nor in the image)."""
    root = str(PROJECT_ROOT)
    if not (PROJECT_ROOT / "tools" / "bench").is_dir():
        return False
    if root not in sys.path:
        sys.path.insert(0, root)
    return True


def _add_bench_command(sub: Any) -> None:
    if not _development_tools():
        return
    from tools.bench.instance import INSTANCES

    bench = sub.add_parser("bench", help="benchmark a full sync against the simulator")
    bench.add_argument("--profile", default="large", help="demo | small | large | scattered")
    bench.add_argument("--products", type=int, help="the profile's shape with N products")
    bench.add_argument("--seed", type=int, default=7)
    bench.add_argument("--latency-ms", type=float, default=100.0)
    bench.add_argument("--concurrency", type=int, default=10)
    bench.add_argument("--sensor-partitions", type=int, default=5000)
    bench.add_argument(
        "--instance",
        default="pooled",
        choices=INSTANCES,
        help="the Dagster instance the runs record into (postgres: a throwaway local server)",
    )
    bench.set_defaults(func=cmd_bench)

    from tools.soak.command import add_soak_command

    add_soak_command(sub)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="testio-assets", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    sim = sub.add_parser("simulator", help="serve the built-in Test IO API simulator")
    sim.add_argument("--host", default="127.0.0.1")
    sim.add_argument("--port", type=int, default=8765)
    sim.add_argument("--profile", default="demo", help="demo | small | large | scattered")
    sim.add_argument("--products", type=int, help="the profile's shape with N products")
    sim.add_argument("--seed", type=int, default=7)
    sim.add_argument("--latency-ms", type=float, default=0.0)
    sim.add_argument("--token", default="simulator-token")
    sim.set_defaults(func=cmd_simulator)

    products = sub.add_parser("products", help="list the account's products")
    products.set_defaults(func=cmd_products)

    sync = sub.add_parser("sync", help="sync everything (or some products) into DuckDB")
    sync.add_argument(
        "--product",
        type=int,
        action="append",
        metavar="ID",
        help="only this product (repeatable); always calls the API",
    )
    sync.add_argument(
        "--timings", action="store_true", help="also print where this process spent its time"
    )
    sync.add_argument(
        "--no-checks",
        action="store_true",
        help="do not evaluate the asset checks in these runs (they can run later from the UI)",
    )
    sync.add_argument(
        "--no-analytics",
        action="store_true",
        help="do not rebuild the analytics tables of the synced products",
    )
    sync.set_defaults(func=cmd_sync)

    _add_on_demand_commands(sub)

    demo = sub.add_parser("demo", help="sync the demo data and start the Dagster UI")
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=int, default=3000)
    demo.add_argument("--ui-anyway", action="store_true", help="start the UI even if sync failed")
    demo.set_defaults(func=cmd_demo)
    _add_bench_command(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    load_dotenv(Path(".env"))  # values already in the environment win
    enable_event_batches()
    args = build_parser().parse_args(argv)
    if args.command == "simulator" and args.host not in ("127.0.0.1", "localhost", "::1"):
        print(
            f"note: the simulator will listen on {args.host}, not only on loopback", file=sys.stderr
        )
    try:
        return int(args.func(args))
    except SettingsError as exc:
        print(f"testio-assets: bad setting: {exc}", file=sys.stderr)
        return 2


def run() -> None:
    """The `testio-assets` command: `main`, then leave without the interpreter's teardown.

    After a sync the process holds a large heap (Dagster's, the sync's), and tearing it
    down object by object took 1.1-1.3 s after a no-change refresh of the large profile
    (measured from `main` returning to the process ending; `docs/benchmarks.md`). Every
    file, database and child process is closed by then, so output is flushed and the
    process exits at once.
    """
    code = main()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    run()
