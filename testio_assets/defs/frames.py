"""`ProductFrames`: the project's tables as pandas DataFrames, for assets of your own.

Name it as the input manager of an input that is one of the project's assets, and the
asset receives that table's rows of its partition's product as a DataFrame:

    @dg.asset(
        partitions_def=product_partitions,
        ins={"bugs": dg.AssetIn("bugs", input_manager_key="testio_frames")},
    )
    def weekly_bug_report(bugs: pd.DataFrame) -> ...

An analytics table reads from schema `analytics`. An input of a table spanning products
(`feature_quality`, say) gets the product of the asset's own partition; an unpartitioned
asset gets every product's rows. The rows come from what readers read (the published file,
or the DuckLake), so the input never waits for a sync. pandas is imported here, only
when a DataFrame is asked for (`testio_assets/lean.py`).
"""

# No `from __future__ import annotations`: Dagster inspects the resource's annotations.

from typing import Any

from dagster import ConfigurableIOManager, InputContext, OutputContext

from testio_assets.names import ANALYTICS
from testio_assets.store.database import DuckDBStore
from testio_assets.store.frames import table_frame
from testio_assets.store.tables import TABLES


class ProductFrames(ConfigurableIOManager):
    """Hands one product's rows of a project table to an asset input, as a DataFrame."""

    store: DuckDBStore

    def load_input(self, context: InputContext) -> Any:
        table = context.asset_key.path[-1]
        if table not in TABLES and table not in ANALYTICS:
            raise ValueError(
                f"`{table}` is not a table of testio-assets: use testio_frames only for "
                f"inputs from {', '.join([*TABLES, *ANALYTICS])}"
            )
        product = _product_of(context)
        frame = self.store.query(
            table_frame, table, None if product is None else int(product), table in ANALYTICS
        )
        context.log.info("%s: %d row(s) of product %s", table, len(frame), product or "(all)")
        return frame

    def handle_output(self, context: OutputContext, obj: Any) -> None:
        raise NotImplementedError(
            "testio_frames only reads the project's tables; give your asset's output an "
            "I/O manager of its own (or return nothing and write where you like)"
        )


def _product_of(context: InputContext) -> str | None:
    """The product whose rows the input gets: the upstream partition, else the
    downstream asset's own partition, else None (every product)."""
    if context.has_asset_partitions:
        return context.asset_partition_key
    if context.has_partition_key:
        return context.partition_key
    return None
