"""The materializations of one product step: which reports are recorded, and in which form.

Which: `recording.py`'s policy (a refresh records what changed; everything else is
recorded whenever it is synced).

Which form: one `AssetMaterialization` per product, as each report arrives, with the
product's own figures. Where the event log stores batches (`DAGSTER_EVENT_BATCH_SIZE`
set, on dagster-postgres or the plugin's storage), an asset whose every partition in the
run is recorded (a first sync, a backfill, the features of a stale stretch) is recorded
instead as one output over the run's range, with the run's figures: Dagster then writes
its per-partition materializations in one batch, where one by one they cost a round
trip each (docs/benchmarks.md). Its materializations come at the step's end.

When the run fails (a product the token may not read), the partitions the policy left
unrecorded are recorded after all: Dagster shows every partition that a failed run
planned and did not materialize as failed, and only the failed products should.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence

from dagster import AssetMaterialization, MaterializeResult

from testio_assets.defs.assets.metadata import range_metadata, report_metadata
from testio_assets.defs.assets.recording import RecordPolicy
from testio_assets.sync.report import PartitionOutcome, StepReport

Event = AssetMaterialization | MaterializeResult


def materialization(name: str, pid: int, report: StepReport) -> AssetMaterialization:
    return AssetMaterialization(name, partition=str(pid), metadata=report_metadata(report))


class StepRecords:
    """Recorded and unrecorded reports of one step. `range_output`: whether a complete
    asset may be recorded as one output over the run's `partitions`."""

    def __init__(self, policy: RecordPolicy, partitions: Sequence[int], range_output: bool):
        self._policy = policy
        self._partitions = list(partitions)
        self._range = range_output and len(self._partitions) > 1
        self._held: dict[str, list[tuple[int, StepReport]]] = defaultdict(list)
        self.recorded: list[tuple[str, int]] = []
        self.unrecorded: list[tuple[str, int]] = []

    def add(self, name: str, pid: int, report: StepReport) -> Iterator[AssetMaterialization]:
        """The report's materialization now, later (held for a range output), or never."""
        if not report.materialized:
            return
        if not self._policy.records(name, pid, report):
            self.unrecorded.append((name, pid))
            return
        self.recorded.append((name, pid))
        if self._range:
            self._held[name].append((pid, report))
        else:
            yield materialization(name, pid, report)

    def finish(self, outcome: PartitionOutcome) -> Iterator[Event]:
        """Held reports (one output for an asset complete over the run, else one each),
        then, in a failing run, the unrecorded partitions."""
        for name, held in self._held.items():
            if len(held) == len(self._partitions):
                reports = [report for _, report in held]
                yield MaterializeResult(asset_key=name, metadata=range_metadata(reports))
            else:
                yield from (materialization(name, pid, report) for pid, report in held)
        self._held.clear()
        if outcome.failures:
            for name, pid in self.unrecorded:  # unchanged: their analytics need no rebuild
                yield materialization(name, pid, outcome.reports[(name, pid)])
            self.unrecorded = []
