"""The check events of one product step: a verdict per check for the run, and per product
only what says something (`check_events.py` says why).

Outcomes arrive with each product's report. A product's own evaluation is yielded when
its check failed, when its previous evaluation for that product did not pass (one query
per check at the start), or when the run planned the check for its partitions; these are
yielded in batches, so the plugin looks their targets up once per batch. The verdicts
come at the end, one per check the run evaluated.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence

from dagster import (
    AssetCheckEvaluation,
    AssetCheckKey,
    AssetCheckResult,
    AssetKey,
    DagsterInstance,
)

from testio_assets.checks.definitions import CheckOutcome, check_def
from testio_assets.defs.assets.check_events import (
    TargetLookup,
    as_evaluation,
    evaluation,
    result,
    run_verdict,
)
from testio_assets.defs.automation.partition_records import unsettled_check_partitions

BATCH = 64  # per-product evaluations whose targets are looked up together


class StepChecks:
    """What the step yields for its checks. `planned`: asset -> check names the run
    planned; `single`: the run has one partition (its results are that partition's);
    `hold`: keep every evaluation for the end (the materializations they judge come
    then, as one output over the run's range)."""

    def __init__(
        self,
        unsettled: dict[tuple[str, str], set[str]],
        planned: dict[str, frozenset[str]],
        single: bool,
        targets: TargetLookup | None,
        hold: bool = False,
    ) -> None:
        self._unsettled = unsettled
        self._planned = planned
        self._single = single
        self._targets = targets
        self._hold = hold
        self._outcomes: dict[tuple[str, str], list[CheckOutcome]] = defaultdict(list)
        self._pending: list[CheckOutcome] = []

    @classmethod
    def for_run(
        cls,
        instance: DagsterInstance,
        wanted: Mapping[str, frozenset[str]],
        planned: dict[str, frozenset[str]],
        single: bool,
        targets: TargetLookup | None,
        hold: bool = False,
    ) -> StepChecks:
        """One look-up per check in `wanted` (asset -> names) for what did not pass
        last time."""
        unsettled: dict[tuple[str, str], set[str]] = {}
        if not single:
            for asset, names in wanted.items():
                for name in names:
                    key = AssetCheckKey(AssetKey(asset), name)
                    unsettled[(asset, name)] = unsettled_check_partitions(instance, [key])
        return cls(unsettled, planned, single, targets, hold)

    def add(
        self, outcomes: Sequence[CheckOutcome], more_waiting: bool
    ) -> Iterator[AssetCheckEvaluation]:
        """Take a product's outcomes; yield what is due (a batch, or what is pending when no
        other report is waiting)."""
        for outcome in outcomes:
            self._outcomes[(outcome.asset, outcome.name)].append(outcome)
            if self._single:
                continue  # its results are the run's verdicts, at the end
            if self._worth_recording(outcome):
                self._pending.append(outcome)
        if self._pending and not self._hold and (len(self._pending) >= BATCH or not more_waiting):
            yield from self.flush()

    def flush(self) -> Iterator[AssetCheckEvaluation]:
        """The pending per-product evaluations, with their targets when the plugin knows."""
        pending, self._pending = self._pending, []
        if not pending:
            return
        wanted = [(o.asset, str(o.product_id)) for o in pending]
        found = self._targets(wanted) if self._targets is not None else {}
        for outcome, key in zip(pending, wanted, strict=True):
            yield evaluation(outcome, found.get(key))

    def verdicts(self) -> Iterator[AssetCheckEvaluation | AssetCheckResult]:
        """The remaining per-product evaluations, then the run's verdict per check: in a
        run of one partition, that partition's result."""
        if self._single:
            outcomes = [o for found in self._outcomes.values() for o in found]
            planned = [o for o in outcomes if self._is_planned(o.asset, o.name)]
            self._pending.extend(o for o in outcomes if o not in planned)
            yield from self.flush()
            yield from (result(outcome) for outcome in planned)
            return
        yield from self.flush()
        for (asset, name), outcomes in sorted(self._outcomes.items()):
            verdict = run_verdict(check_def(asset, name), outcomes)
            # A planned check's result is the run's output for it (Dagster expects one);
            # an unplanned one is recorded as a plain evaluation.
            yield verdict if self._is_planned(asset, name) else as_evaluation(verdict)

    def _is_planned(self, asset: str, name: str) -> bool:
        return name in self._planned.get(asset, frozenset())

    def blocking_failures(self) -> dict[int, list[str]]:
        """Per product, the blocking checks that failed in this run, with what they say."""
        found: dict[int, list[str]] = defaultdict(list)
        for outcomes in self._outcomes.values():
            for o in outcomes:
                if o.blocks and o.product_id is not None:
                    found[int(o.product_id)].append(f"{o.asset}.{o.name}: {o.description}")
        return dict(found)

    def checked_products(self) -> set[int]:
        """Products whose checks ran in this step."""
        return {
            int(o.product_id)
            for outcomes in self._outcomes.values()
            for o in outcomes
            if o.product_id is not None
        }

    def _worth_recording(self, outcome: CheckOutcome) -> bool:
        partition = str(outcome.product_id)
        return (
            not outcome.passed
            or self._is_planned(outcome.asset, outcome.name)
            or partition in self._unsettled.get((outcome.asset, outcome.name), set())
        )
