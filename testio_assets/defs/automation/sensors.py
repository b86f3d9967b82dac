"""Sensors: keep the product partitions equal to the account, and features within the TTL."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from dagster import (
    AssetKey,
    AssetSelection,
    DagsterInstance,
    DefaultSensorStatus,
    RunRequest,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

from testio_assets.api.client import TestIOClient
from testio_assets.defs.assets.check_events import check_keys
from testio_assets.defs.automation.partitions import (
    contiguous_ranges,
    partition_changes,
    product_partitions,
    range_tags,
)
from testio_assets.defs.automation.stale_features import (
    StaleFeatures,
    partitions_named_by_runs,
    stale_feature_partitions,
)
from testio_assets.defs.launch_tags import launch_tags
from testio_assets.names import ANALYTICS, FEATURES, PER_PRODUCT, PRODUCTS, analytics_of

# A new product's first run: its data and every analytics table.
PER_PRODUCT_ASSETS = [AssetKey(name) for name in (*PER_PRODUCT, *ANALYTICS)]
# A stale stretch's run: its features and the analytics that read them.
FEATURE_ASSETS = [AssetKey(name) for name in (FEATURES, *analytics_of([FEATURES]))]


def runs_for_partitions(
    keys: Sequence[str],
    ordered: Sequence[str],
    assets: list[AssetKey],
    run_key_prefix: str,
    tags: dict[str, str],
) -> list[RunRequest]:
    """One run per contiguous stretch of `keys`: a multi-partition run where possible."""
    requests = []
    for first, last in contiguous_ranges(ordered, set(keys)):
        key = f"{run_key_prefix}:{first}" if first == last else f"{run_key_prefix}:{first}..{last}"
        if first == last:  # one partition: its checks planned, recorded as that partition's
            requests.append(
                RunRequest(
                    run_key=key,
                    asset_selection=assets,
                    asset_check_keys=check_keys([asset.path[-1] for asset in assets]),
                    partition_key=first,
                    tags=tags,
                )
            )
        else:
            requests.append(
                RunRequest(
                    run_key=key, asset_selection=assets, tags={**tags, **range_tags(first, last)}
                )
            )
    return requests


def evaluate_stale_features(
    instance: DagsterInstance,
    ttl: timedelta,
    now: datetime,
    max_partitions: int,
    digest: str = "",
) -> tuple[StaleFeatures, list[RunRequest]]:
    """The sensor's core, with time passed in: what is stale and which runs to request.

    Run keys carry the TTL period (`now // ttl`): within one period a stale stretch is
    requested once; a run that failed is tried again in the next period.
    """
    ordered = instance.get_dynamic_partitions(product_partitions.name)
    decision = stale_feature_partitions(instance, ordered, ttl, now, max_partitions)
    period = int(now.timestamp() // max(ttl.total_seconds(), 1))
    requests = runs_for_partitions(
        decision.requested,
        ordered,
        FEATURE_ASSETS,
        f"stale-features:{period}",
        launch_tags("stale_features_sensor", digest),
    )
    return decision, requests


def build_stale_features_sensor(
    ttl_seconds: int, max_partitions: int = 50, interval_seconds: int = 30, digest: str = ""
) -> SensorDefinition:
    """`digest`: the settings digest its runs are tagged with (defs/launch_tags.py)."""
    ttl = timedelta(seconds=ttl_seconds)

    @sensor(
        name="stale_features_sensor",
        description=(
            f"Materializes exactly the `features` partitions never synced or older than "
            f"{ttl_seconds} s (FEATURE_CACHE_TTL_SECONDS), at most {max_partitions} per tick, "
            "oldest first, skipping partitions a queued or running run already covers."
        ),
        asset_selection=AssetSelection.assets(*FEATURE_ASSETS),
        minimum_interval_seconds=interval_seconds,
        default_status=DefaultSensorStatus.RUNNING,
    )
    def stale_features_sensor(context: SensorEvaluationContext) -> SensorResult | SkipReason:
        decision, requests = evaluate_stale_features(
            context.instance, ttl, datetime.now(UTC), max_partitions, digest
        )
        context.log.info(decision.summary())
        if not requests:
            return SkipReason(decision.summary())
        return SensorResult(run_requests=requests)

    return stale_features_sensor


def discovery_result(
    instance: DagsterInstance, active: Sequence[str], digest: str = ""
) -> SensorResult | SkipReason:
    """Partition changes and first runs for a list of the account's active product ids.

    A vanished product's partition is deleted only once no queued or running run names
    it (as its partition or an end of its range): Dagster fails such a run before any of
    our code runs (found by the soak: an analytics run queued for a product that vanished
    a moment later). Until then those runs skip the vanished product; the partition goes
    at a later tick."""
    existing = instance.get_dynamic_partitions(product_partitions.name)
    added, removed = partition_changes(existing, active)
    busy = partitions_named_by_runs(instance) if removed else set()
    deferred = [key for key in removed if key in busy]
    removed = [key for key in removed if key not in busy]
    if not added and not removed:
        waiting = f"; removal of {', '.join(deferred)} waits for runs in flight" if deferred else ""
        return SkipReason(f"{len(existing)} products, none added or removed{waiting}")
    fingerprint = hashlib.sha1(",".join(sorted(active)).encode()).hexdigest()[:12]
    runs = [
        RunRequest(
            run_key=f"catalogue:{fingerprint}",
            asset_selection=[AssetKey(PRODUCTS)],
            tags=launch_tags("product_discovery_sensor", digest),
        )
    ]
    after = [key for key in existing if key not in removed] + added
    runs += runs_for_partitions(
        added,
        after,
        PER_PRODUCT_ASSETS,
        "new-products",
        launch_tags("product_discovery_sensor", digest),
    )
    requests = []
    if added:
        requests.append(product_partitions.build_add_request(added))
    if removed:
        requests.append(product_partitions.build_delete_request(removed))
    return SensorResult(run_requests=runs, dynamic_partitions_requests=requests)


def build_product_discovery_sensor(
    interval_seconds: int = 300, digest: str = ""
) -> SensorDefinition:
    @sensor(
        name="product_discovery_sensor",
        description=(
            "Keeps the `products` partitions equal to the account's products (GET /products): "
            "a new product gets its partition and a first run of every asset; a vanished "
            "product stops being scheduled, its data and history stay."
        ),
        asset_selection=AssetSelection.assets(PRODUCTS, *PER_PRODUCT_ASSETS),
        minimum_interval_seconds=interval_seconds,
        default_status=DefaultSensorStatus.RUNNING,
    )
    def product_discovery_sensor(
        context: SensorEvaluationContext, testio: TestIOClient
    ) -> SensorResult | SkipReason:
        async def listing() -> list[str]:
            async with testio.session() as session:
                return [str(p.id) for p in await session.list_products()]

        result = discovery_result(context.instance, asyncio.run(listing()), digest)
        if isinstance(result, SensorResult):
            changes = [
                f"{type(r).__name__.replace('DynamicPartitionsRequest', '')}: "
                f"{', '.join(r.partition_keys)}"
                for r in result.dynamic_partitions_requests or []
            ]
            context.log.info("product partitions changed: %s", "; ".join(changes))
        return result

    return product_discovery_sensor
