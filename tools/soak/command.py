"""`testio-assets soak`: its arguments, and running it."""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
from pathlib import Path
from typing import Any

from tools.bench.instance import INSTANCES
from tools.soak.plan import SoakPlan


def cmd_soak(args: argparse.Namespace) -> int:
    # Imported here: the runner loads the code location (and its settings), which building
    # the parser must not do, or a bad setting would fail every command with a traceback.
    from tools.soak.runner import run_soak

    plan = SoakPlan(
        minutes=args.minutes,
        products=args.products,
        seed=args.seed,
        seconds_per_day=args.seconds_per_day,
        fault_rate=args.fault_rate,
        instance=args.instance,
    )
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="testio-soak-")).resolve()
    # SIGTERM (a CI timeout, `kill`) unwinds like Ctrl-C, so `dg dev` is stopped too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    report = run_soak(plan, workdir, say=lambda line: print(line, flush=True))
    print(report.render(), flush=True)
    if args.json:
        Path(args.json).write_text(report.dumps())
    return 0 if report.passed else 1


def add_soak_command(sub: Any) -> None:
    soak = sub.add_parser(
        "soak",
        help="dg dev on a fast-changing, faulty simulator for MINUTES, then the data "
        "against the truth (scripts/soak.sh)",
    )
    soak.add_argument("--minutes", type=float, default=30.0)
    soak.add_argument("--products", type=int, default=20)
    soak.add_argument("--seed", type=int, default=7)
    soak.add_argument("--seconds-per-day", type=float, default=30.0, help="the fast clock")
    soak.add_argument("--fault-rate", type=float, default=0.03, help="share of faulty requests")
    soak.add_argument(
        "--instance",
        choices=INSTANCES,
        default="sqlite",
        help="Dagster's storage (postgres-stock: a throwaway PostgreSQL server on loopback)",
    )
    soak.add_argument("--workdir", help="where its files go (default: a new temp dir, kept)")
    soak.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    soak.set_defaults(func=cmd_soak)
