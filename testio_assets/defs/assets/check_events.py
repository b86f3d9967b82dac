"""The asset checks as Dagster records them: specs, and what a run yields per check.

Dagster stores every check evaluation as an event of its own, one at a time (they are
never batched), so a run over 225 products that yielded one evaluation per product and
check stored 2,025 of them: about half of a cold sync on Dagster's own PostgreSQL storage
(docs/benchmarks.md). The product step evaluates every check of every product it syncs,
and records:

- per check, one `AssetCheckResult` for the run: passed when every product passed; its
  metadata counts the products checked and names those that failed. In a run of one
  partition Dagster records it for that partition (and names the materialization it
  judges); in a run over many it is the run's verdict on the check's page;
- per product, an evaluation of its own only where it says something: the check failed,
  or its previous evaluation for that product did not pass (now it does: the failure is
  cleared), or the run planned it (every planned check must be evaluated, or the UI shows
  it skipped).

A per-partition evaluation names the materialization it judges only through a type
Dagster does not export (`AssetCheckEvaluationTargetMaterializationData`); the optional
plugin `testio_assets.instance` supplies it when the instance uses its storage. Without
it, Dagster lists each failing product's evaluation in the check's history, and the
check's partition bar leaves the partition blank instead of red.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from dagster import (
    AssetCheckEvaluation,
    AssetCheckKey,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetKey,
    DagsterInstance,
    MetadataValue,
    PartitionsDefinition,
    PreviewWarning,
)

from testio_assets.checks.definitions import ERROR, CheckDef, CheckOutcome, check_def, checks_of

SHOWN_FAILURES = 20  # products named in a run's verdict on one check

# (asset, partition) -> what Dagster calls the evaluation's target, or None.
TargetLookup = Callable[[Sequence[tuple[str, str]]], Mapping[tuple[str, str], Any]]


def check_specs(
    assets: Iterable[str], partitions_def: PartitionsDefinition | None = None
) -> list[AssetCheckSpec]:
    """One spec per check of each asset; per partition when the asset is partitioned.

    Partitioned check specs are a preview feature of Dagster 1.13; they are what shows a
    product's failing check on its partition, so the preview warning is silenced here.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PreviewWarning)
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


def check_keys(assets: Iterable[str]) -> list[AssetCheckKey]:
    """The keys of every check of `assets`."""
    return [AssetCheckKey(AssetKey(c.asset), c.name) for a in assets for c in checks_of(a)]


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


def severity(check: CheckDef) -> AssetCheckSeverity:
    return AssetCheckSeverity.ERROR if check.severity == ERROR else AssetCheckSeverity.WARN


def metadata(outcome: CheckOutcome) -> dict[str, object]:
    """The outcome's figures; empty id lists are left out (every event costs to store)."""
    return {k: _value(v) for k, v in outcome.metadata.items() if v != []}


def result(outcome: CheckOutcome) -> AssetCheckResult:
    """The check result of one outcome: an unpartitioned asset's, or a product's in a run of
    that one partition (Dagster fills in the partition and the materialization)."""
    check = outcome.definition
    return AssetCheckResult(
        asset_key=AssetKey(outcome.asset),
        check_name=outcome.name,
        passed=outcome.passed,
        severity=severity(check),
        description=outcome.description,
        metadata=metadata(outcome),
    )


def run_verdict(check: CheckDef, outcomes: Sequence[CheckOutcome]) -> AssetCheckResult:
    """One result for a check over every product of a run: passed when all passed."""
    failed = [o for o in outcomes if not o.passed]
    checked = len(outcomes)
    if failed:
        shown = ", ".join(str(o.product_id) for o in failed[:SHOWN_FAILURES])
        more = f" and {len(failed) - SHOWN_FAILURES} more" if len(failed) > SHOWN_FAILURES else ""
        text = f"failed for {len(failed)} of {checked} product(s): {shown}{more}"
    else:
        text = f"passed for all {checked} product(s) of this run"
    meta: dict[str, object] = {"products_checked": checked, "products_failed": len(failed)}
    if failed:
        meta["failures"] = MetadataValue.md(
            "\n".join(f"- product {o.product_id}: {o.description}" for o in failed[:50])
        )
    return AssetCheckResult(
        asset_key=AssetKey(check.asset),
        check_name=check.name,
        passed=not failed,
        severity=severity(check),
        description=text,
        metadata=meta,
    )


def as_evaluation(verdict: AssetCheckResult) -> AssetCheckEvaluation:
    """A run's verdict on a check the run did not plan, as a plain evaluation (Dagster
    warns about results of checks not selected)."""
    assert verdict.asset_key is not None and verdict.check_name is not None
    check = check_def(verdict.asset_key.path[-1], verdict.check_name)
    return AssetCheckEvaluation(
        asset_key=verdict.asset_key,
        check_name=verdict.check_name,
        passed=verdict.passed,
        severity=verdict.severity,
        blocking=check.blocking,
        description=verdict.description,
        metadata=verdict.metadata,
    )


def evaluation(outcome: CheckOutcome, target: Any = None) -> AssetCheckEvaluation:
    """One product's evaluation, naming the materialization it judges when `target` is
    known (the plugin's look-up)."""
    check = outcome.definition
    return AssetCheckEvaluation(
        target_materialization_data=target,
        asset_key=AssetKey(outcome.asset),
        check_name=outcome.name,
        passed=outcome.passed,
        partition=None if outcome.product_id is None else str(outcome.product_id),
        severity=severity(check),
        blocking=check.blocking,
        description=outcome.description,
        metadata=metadata(outcome),
    )


def target_lookup(instance: DagsterInstance) -> TargetLookup | None:
    """The plugin's look-up of the materializations evaluations judge, when `instance`
    stores its events with the plugin (`dagster.yaml` names its storage); else None."""
    if not type(instance.event_log_storage).__module__.startswith("testio_assets.instance"):
        return None
    from testio_assets.instance.check_targets import latest_materializations

    return lambda wanted: latest_materializations(instance, wanted)


def _value(value: object) -> object:
    return MetadataValue.json(value) if isinstance(value, list) else value
