"""What creating a run over N products costs, before its step does any work.

    .venv/bin/python -m tools.run_creation_cost [PRODUCTS]

Registers PRODUCTS (2000) product partitions in a throwaway DAGSTER_HOME with the shipped
dagster_home/dagster.yaml, then materializes the four per-product assets with their
checks over all of them in one run whose step is replaced by one that does nothing, as
`testio-assets sync` would run them. Prints the run's wall time (run creation, planned
events and checks, start and end) and the process's peak RSS. The figures before and
after `testio_assets/planned_checks.py` are in docs/benchmarks.md ("Planned checks");
run it from an older checkout (PYTHONPATH) to compare.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path


def _peak_rss_mib() -> float:
    """VmHWM, read here so the script also runs on checkouts older than timings.py's."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main(products: int) -> None:
    home = tempfile.mkdtemp()
    shutil.copy(Path(__file__).parents[1] / "dagster_home" / "dagster.yaml", home)
    os.environ.update(
        DAGSTER_HOME=home,
        TESTIO_DUCKDB_PATH=os.path.join(home, "testio.duckdb"),
        DAGSTER_EVENT_BATCH_SIZE="1000",  # as testio-assets sets it
    )
    from testio_assets import headless_sync
    from testio_assets.defs.assets import product_data
    from testio_assets.defs.automation.partitions import product_partitions, range_tags
    from testio_assets.defs.pipeline import build_definitions
    from testio_assets.instance.storage import open_instance
    from testio_assets.names import PER_PRODUCT
    from testio_assets.settings import load_settings

    def no_work(*_args: object, **_kwargs: object) -> Iterator[object]:
        return iter(())

    product_data._sync_step = no_work  # type: ignore[assignment]  # measure Dagster alone
    defs = build_definitions(load_settings())
    try:
        with open_instance() as instance:
            keys = [str(pid) for pid in range(1, products + 1)]
            instance.add_dynamic_partitions(product_partitions.name, keys)
            runner = headless_sync._Runner(
                list(defs.assets or []), instance, defs.resources or {}, True
            )
            started = time.perf_counter()
            result = runner.materialize(list(PER_PRODUCT), {}, range_tags(keys[0], keys[-1]))
            wall = time.perf_counter() - started
        print(
            f"{products} products: run {wall:.1f} s (success: {result.success}), "
            f"peak RSS {_peak_rss_mib():.0f} MiB"
        )
    finally:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000)
