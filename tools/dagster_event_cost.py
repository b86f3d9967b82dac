"""What Dagster charges per event, with the project's instance settings.

    .venv/bin/python -m tools.dagster_event_cost [PARTITIONS] [CHECKS] [planned|unplanned]

Materializes one partitioned asset that does no work over PARTITIONS (225) dynamic
partitions in one run, yielding per partition one materialization and CHECKS (9)
partitioned check evaluations, in a throwaway DAGSTER_HOME with dagster_home/dagster.yaml.
`planned` (the default) selects the checks, so the run plans them at its creation;
`unplanned` selects the asset alone and the step evaluates them anyway (what a plain
`testio-assets sync` does: assets/recording.py). Prints the run's wall time, the seconds
of the step's loop and per event: the floor under any per-partition metadata or check in
this project (docs/benchmarks.md).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

from dagster import (
    AssetCheckEvaluation,
    AssetCheckSpec,
    AssetKey,
    AssetMaterialization,
    AssetSelection,
    AssetSpec,
    DagsterInstance,
    DynamicPartitionsDefinition,
    materialize,
    multi_asset,
)

ROOT = Path(__file__).resolve().parents[1]


def main(partitions: int = 225, checks: int = 9, mode: str = "planned") -> None:
    if mode not in ("planned", "unplanned"):
        raise SystemExit(f"mode must be planned or unplanned, not {mode!r}")
    warnings.simplefilter("ignore")
    home = tempfile.mkdtemp(prefix="event-cost-")
    shutil.copy(ROOT / "dagster_home" / "dagster.yaml", home)
    os.environ["DAGSTER_HOME"] = home
    os.environ.setdefault("DAGSTER_EVENT_BATCH_SIZE", "1000")
    keys = [str(i) for i in range(partitions)]
    parts = DynamicPartitionsDefinition(name="p")
    specs = [AssetCheckSpec(f"c{i}", asset="a", partitions_def=parts) for i in range(checks)]
    loop: list[float] = []

    @multi_asset(
        specs=[AssetSpec("a", partitions_def=parts, skippable=True)],
        check_specs=specs,
        partitions_def=parts,
        can_subset=True,
    )
    def a() -> Iterator[AssetMaterialization | AssetCheckEvaluation]:
        started = time.perf_counter()
        for key in keys:
            yield AssetMaterialization(asset_key="a", partition=key)
            for i in range(checks):
                yield AssetCheckEvaluation(
                    asset_key=AssetKey("a"), check_name=f"c{i}", passed=True, partition=key
                )
        loop.append(time.perf_counter() - started)

    with DagsterInstance.get() as instance:
        instance.add_dynamic_partitions("p", keys)
        tags = {
            "dagster/asset_partition_range_start": keys[0],
            "dagster/asset_partition_range_end": keys[-1],
        }
        chosen = AssetSelection.assets("a")
        selection = chosen if mode == "planned" else chosen.without_checks()
        started = time.perf_counter()
        materialize([a], instance=instance, tags=tags, selection=selection)
        wall = time.perf_counter() - started
    events = partitions * (1 + checks)
    print(
        f"{partitions} partitions x (1 materialization + {checks} {mode} check evaluations) "
        f"= {events} events: run {wall:.2f} s, {loop[0]:.2f} s in the step, "
        f"{loop[0] / events * 1000:.2f} ms each"
    )
    shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]), *sys.argv[3:4])
