"""The `testio-assets` command: sync | products | features | users | sql | demo | simulator,
and, in a development checkout, bench | soak.

Every failure ends in a few lines saying what failed and what to check, exit code 2 for
bad input (a setting, an unknown product, a database that holds another account) and 1
for a failure; `--verbose` adds the traceback and Dagster's own console log.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import traceback
from pathlib import Path
from typing import Any

from dotenv import load_dotenv

from testio_assets.commands import handlers
from testio_assets.commands.errors import exit_code_of, message_of

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def _add_sync(sub: Any) -> None:
    sync = sub.add_parser("sync", help="sync the account (or some products) into DuckDB")
    sync.add_argument(
        "--product",
        type=int,
        action="append",
        metavar="ID",
        help="only this product (repeatable); re-reads all its tests and features",
    )
    sync.add_argument("--no-checks", action="store_true", help="leave the asset checks out")
    sync.add_argument(
        "--no-analytics", action="store_true", help="do not rebuild the analytics tables"
    )
    sync.add_argument(
        "--start-over",
        action="store_true",
        help="set the database aside (kept beside it) and sync into a new one",
    )
    sync.add_argument("--timings", action="store_true", help="also print where the CPU went")
    sync.set_defaults(func=handlers.cmd_sync)


def _add_reads(sub: Any) -> None:
    products = sub.add_parser("products", help="list the account's products (from the API)")
    products.set_defaults(func=handlers.cmd_products)

    features = sub.add_parser(
        "features", help="a product's features, refreshed first when older than the TTL"
    )
    features.add_argument("--product", type=int, required=True, metavar="ID")
    features.add_argument("--section", type=int, metavar="ID", help="only this section's")
    features.add_argument(
        "--force-refresh", action="store_true", help="re-read the API even when fresh"
    )
    features.add_argument("--json", action="store_true", help="JSON for scripts")
    features.set_defaults(func=handlers.cmd_features)

    users = sub.add_parser("users", help="a product's testers and customer users")
    users.add_argument("--product", type=int, required=True, metavar="ID")
    users.add_argument("--role", choices=["tester", "customer"], help="only this role")
    users.add_argument("--json", action="store_true", help="JSON for scripts")
    users.set_defaults(func=handlers.cmd_users)

    sql = sub.add_parser("sql", help="read-only SQL on the synced data")
    sql.add_argument("statement", help="one statement that reads, e.g. `FROM products`")
    output = sql.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_const", const="json", dest="output")
    output.add_argument("--csv", action="store_const", const="csv", dest="output")
    sql.set_defaults(func=handlers.cmd_sql, output="table")


def _add_demo_and_simulator(sub: Any) -> None:
    demo = sub.add_parser(
        "demo", help="sync the built-in simulator's demo account, then start the Dagster UI"
    )
    demo.add_argument("--workdir", default="demo", help="its database and history (./demo)")
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=int, default=3000)
    demo.add_argument("--no-ui", action="store_true", help="sync only")
    demo.set_defaults(func=handlers.cmd_demo)

    sim = sub.add_parser("simulator", help="serve the built-in Test IO API simulator")
    sim.add_argument("--host", default="127.0.0.1")
    sim.add_argument("--port", type=int, default=8765)
    sim.add_argument("--profile", default="demo", help="demo | small | large | scattered")
    sim.add_argument("--products", type=int, help="the profile's shape with N products")
    sim.add_argument("--seed", type=int, default=7)
    sim.add_argument("--latency-ms", type=float, default=0.0)
    sim.add_argument("--token", default="simulator-token")
    sim.set_defaults(func=handlers.cmd_simulator)


def _development_tools() -> bool:
    """Whether `tools/` (bench, soak) is here: a development checkout, where the package
    sits beside it. It is never installed, nor in the image."""
    if not (PROJECT_ROOT / "tools" / "bench").is_dir():
        return False
    if str(PROJECT_ROOT) not in sys.path:
        sys.path.insert(0, str(PROJECT_ROOT))
    return True


def _add_development(sub: Any) -> None:
    if not _development_tools():
        return
    from tools.bench.command import add_bench_command  # type: ignore[import-not-found]
    from tools.soak.command import add_soak_command  # type: ignore[import-not-found]

    add_bench_command(sub)
    add_soak_command(sub)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="testio-assets", description=__doc__)
    parser.add_argument(
        "--verbose", action="store_true", help="tracebacks and Dagster's own console log"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    _add_sync(sub)
    _add_reads(sub)
    _add_demo_and_simulator(sub)
    _add_development(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # Our own warnings (a wait for the database, a skipped record) show; the libraries'
    # retry chatter does not, unless --verbose.
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.ERROR,
        format="%(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("testio_assets").setLevel(logging.INFO if args.verbose else logging.WARNING)
    load_dotenv(Path(".env"))  # values already in the environment win
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        print("testio-assets: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if args.verbose:
            traceback.print_exc()
        print(f"testio-assets {args.command}: {message_of(exc)}", file=sys.stderr)
        if not args.verbose and exit_code_of(exc) == 1:
            print("  (--verbose shows the traceback)", file=sys.stderr)
        return exit_code_of(exc)


def run() -> None:
    """The `testio-assets` command: `main`, then leave without the interpreter's teardown.

    After a sync the process holds a large heap (Dagster's, the sync's), and tearing it
    down object by object took more than a second. Every file, database and child process
    is closed by then, so output is flushed and the process exits at once.
    """
    code = main()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    run()
