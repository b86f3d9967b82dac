"""The asset checks as Dagster sees them: specs on the assets, evaluations from outcomes."""

from __future__ import annotations

import warnings
from collections.abc import Iterable

from dagster import (
    AssetCheckEvaluation,
    AssetCheckKey,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetKey,
    MetadataValue,
    PartitionsDefinition,
    PreviewWarning,
)

from testio_assets.checks.definitions import ERROR, CheckOutcome, checks_of
from testio_assets.instance.check_targets import CheckTarget


def check_specs(
    assets: Iterable[str], partitions_def: PartitionsDefinition | None = None
) -> list[AssetCheckSpec]:
    """One spec per check of each asset; per partition when the asset is partitioned.

    Partitioned check specs are a preview feature of Dagster 1.13; they are what shows a
    product's checks on its partition, so the preview warning is silenced here only.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PreviewWarning)
        return _specs(assets, partitions_def)


def _specs(
    assets: Iterable[str], partitions_def: PartitionsDefinition | None
) -> list[AssetCheckSpec]:
    return [
        AssetCheckSpec(
            check.name,
            asset=check.asset,
            description=f"{check.description} Severity {check.severity}"
            + (", blocking." if check.blocking else "."),
            blocking=check.blocking,
            partitions_def=partitions_def,
        )
        for asset in assets
        for check in checks_of(asset)
    ]


def wanted_checks(selected: Iterable[AssetCheckKey]) -> dict[str, frozenset[str]]:
    """Selected check keys as asset name -> check names."""
    wanted: dict[str, set[str]] = {}
    for key in selected:
        wanted.setdefault(key.asset_key.path[-1], set()).add(key.name)
    return {asset: frozenset(names) for asset, names in wanted.items()}


def all_checks(assets: Iterable[str]) -> dict[str, frozenset[str]]:
    """Every check of `assets`, as asset name -> check names (assets without checks left out)."""
    found = {asset: frozenset(check.name for check in checks_of(asset)) for asset in assets}
    return {asset: names for asset, names in found.items() if names}


def evaluation(outcome: CheckOutcome, target: CheckTarget | None) -> AssetCheckEvaluation:
    """The Dagster evaluation of one outcome (per partition for per-product checks), of the
    materialization `target` (`check_targets.py`)."""
    check = outcome.definition
    return AssetCheckEvaluation(
        target_materialization_data=target,
        asset_key=AssetKey(outcome.asset),
        check_name=outcome.name,
        passed=outcome.passed,
        partition=None if outcome.product_id is None else str(outcome.product_id),
        severity=_severity(outcome),
        blocking=check.blocking,
        description=outcome.description,
        metadata=_metadata(outcome),
    )


def _severity(outcome: CheckOutcome) -> AssetCheckSeverity:
    error = outcome.definition.severity == ERROR
    return AssetCheckSeverity.ERROR if error else AssetCheckSeverity.WARN


def _metadata(outcome: CheckOutcome) -> dict[str, object]:
    """The outcome's figures; empty id lists are left out (every event costs to store)."""
    return {k: _value(v) for k, v in outcome.metadata.items() if v != []}


def result(outcome: CheckOutcome) -> AssetCheckResult:
    """The check result of an unpartitioned asset's outcome (it also gates downstream steps
    of the same run, which a bare evaluation does not)."""
    return AssetCheckResult(
        asset_key=AssetKey(outcome.asset),
        check_name=outcome.name,
        passed=outcome.passed,
        severity=_severity(outcome),
        description=outcome.description,
        metadata=_metadata(outcome),
    )


def _value(value: object) -> object:
    return MetadataValue.json(value) if isinstance(value, list) else value
