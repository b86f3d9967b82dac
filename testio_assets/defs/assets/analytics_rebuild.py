"""Rebuilding analytics tables for chosen products, as Dagster events: shared by the
`analytics` multi-asset and the product step, which rebuilds the analytics of what it
changed (`outdated_analytics.py`)."""

from __future__ import annotations

from collections.abc import Generator, Mapping, Sequence

from dagster import AssetMaterialization

from testio_assets.defs.assets.analytics_preview import metadata_by_product
from testio_assets.store.analytics import HealthThresholds, refresh, rows_of
from testio_assets.store.database import DuckDBStore

KINDS = ("created", "updated", "removed")


def rebuild(
    store: DuckDBStore, health: HealthThresholds, chosen: Mapping[str, Sequence[int]]
) -> Generator[AssetMaterialization, None, list[str]]:
    """Rebuild each table of `chosen` for its products, yielding one materialization per
    table and product (with its preview and figures); returns a summary line per table."""
    summary = []
    for table, chosen_ids in chosen.items():
        product_ids = list(chosen_ids)
        if not product_ids:
            continue
        counts = store.write(refresh, table, product_ids, health)
        metadata = metadata_by_product(table, store.read(rows_of, table, product_ids), counts)
        for pid in product_ids:
            yield AssetMaterialization(asset_key=table, partition=str(pid), metadata=metadata[pid])
        changed = [sum(getattr(c, k) for c in counts.values()) for k in KINDS]
        figures = ", ".join(f"{n} {k}" for n, k in zip(changed, KINDS, strict=True))
        summary.append(f"{table} of {len(product_ids)} product(s): {figures}")
    return summary
