"""What each `testio-assets` command does. Imports are made inside each handler, so that
parsing the command line loads neither Dagster nor the code location."""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
from pathlib import Path

from testio_assets.settings import Settings, redact_url

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def cmd_sync(args: argparse.Namespace) -> int:
    from testio_assets.commands.instance import ensure_dagster_home, open_instance
    from testio_assets.commands.live_progress import live_progress
    from testio_assets.commands.runs import run_sync
    from testio_assets.defs.pipeline import build_definitions
    from testio_assets.settings import load_settings
    from testio_assets.store.aside import set_aside

    settings = load_settings()
    settings.require_source()
    home = ensure_dagster_home()
    defs = build_definitions(settings)
    if args.start_over:
        for moved in set_aside(settings.duckdb_path):
            print(f"set aside: {moved}", file=sys.stderr)
    instance = open_instance()
    with instance, live_progress(sys.stderr.isatty()):
        summary = run_sync(
            defs,
            instance,
            args.product or None,
            checks=not args.no_checks,
            analytics=not args.no_analytics,
            verbose=args.verbose,
        )
    print(summary.render())
    if args.timings:
        from testio_assets.timings import render_process_timings

        print(render_process_timings())
    if summary.products:
        print(f"  database     {where_stored(settings)}  (`testio-assets sql` reads it)")
        print(f"  history      {home}  (the Dagster UI shows it)")
    return 1 if summary.failure else 0


def where_stored(settings: Settings) -> str:
    """The store, as a person would name it (never with a password)."""
    if settings.ducklake_catalog:
        catalog = redact_url(settings.ducklake_catalog)
        return f"the DuckLake {catalog} (data in {settings.ducklake_data_path})"
    return settings.duckdb_path


def cmd_products(args: argparse.Namespace) -> int:
    from testio_assets.defs.resources import build_client
    from testio_assets.settings import load_settings

    client = build_client(load_settings(), for_dagster=False)

    async def listing() -> list[tuple[int, str, bool]]:
        async with client.session() as session:
            return [(p.id, p.name or "", p.is_sectioned) for p in await session.list_products()]

    found = asyncio.run(listing())
    for product_id, name, sectioned in found:
        print(f"{product_id:>8}  {'sectioned' if sectioned else '         '}  {name}")
    print(f"{len(found)} product(s) at {client.base_url}", file=sys.stderr)
    return 0


def cmd_features(args: argparse.Namespace) -> int:
    from testio_assets.commands.on_demand import answer_features, dagster_refresher, render_features
    from testio_assets.defs.resources import build_store
    from testio_assets.settings import load_settings

    settings = load_settings()
    store = build_store(settings, for_dagster=False)
    refresh = dagster_refresher(settings)
    answer = answer_features(
        store, settings, args.product, args.section, args.force_refresh, refresh
    )
    print(answer.to_json() if args.json else render_features(answer))
    return 0


def cmd_users(args: argparse.Namespace) -> int:
    from testio_assets.commands.on_demand import answer_users, render_users, users_json
    from testio_assets.defs.resources import build_store
    from testio_assets.settings import load_settings

    users = answer_users(build_store(load_settings(), for_dagster=False), args.product, args.role)
    if args.json:
        print(users_json(args.product, args.role, users))
    else:
        print(render_users(args.product, users))
    return 0


def cmd_sql(args: argparse.Namespace) -> int:
    from testio_assets.commands.sql import render, run_query
    from testio_assets.defs.resources import build_store
    from testio_assets.settings import load_settings

    with build_store(load_settings(), for_dagster=False).reading() as conn:
        answer = run_query(conn, args.statement)
    print(render(answer, args.output))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """The simulator's demo account into `--workdir` (its own database and Dagster
    history, never the configured ones), then the Dagster UI on 127.0.0.1."""
    workdir = Path(args.workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    os.environ.pop("TESTIO_API_TOKEN", None)  # the demo asks for the simulator instead
    os.environ.update(
        TESTIO_SIMULATOR="1",
        TESTIO_DUCKDB_PATH=str(workdir / "testio.duckdb"),
        DAGSTER_HOME=str(workdir / "dagster_home"),
    )
    print(
        f"demo: the built-in simulator's demo account into {workdir / 'testio.duckdb'} "
        f"(Dagster's history in {workdir / 'dagster_home'})",
        file=sys.stderr,
    )
    sync = argparse.Namespace(
        product=None,
        no_checks=False,
        no_analytics=False,
        start_over=False,
        timings=False,
        verbose=args.verbose,
    )
    status = cmd_sync(sync)
    if status != 0 or args.no_ui:
        return status
    # `dg dev` (dagster-dg-cli): Dagster's webserver and daemon for this project.
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
    print(f"starting the Dagster UI on http://{args.host}:{args.port} (Ctrl-C stops it)")
    try:
        return subprocess.call(command, cwd=PROJECT_ROOT)
    except KeyboardInterrupt:
        return 0


def cmd_simulator(args: argparse.Namespace) -> int:
    from testio_assets.simulator.profiles import profile_for
    from testio_assets.simulator.server import SimulatorServer

    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"note: the simulator will listen on {args.host}, not only on loopback")
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
