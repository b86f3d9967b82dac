"""What automation did during a soak, read from the Dagster instance: runs and ticks."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from dagster import DagsterEventType, DagsterInstance, DagsterRun, DagsterRunStatus, RunsFilter

from testio_assets.defs.automation.orphan_runs import IN_FLIGHT as ORPHAN_CANDIDATES
from testio_assets.defs.automation.sensors import evaluate_stale_features
from testio_assets.names import SETTINGS_TAG

IN_FLIGHT = (
    DagsterRunStatus.QUEUED,
    DagsterRunStatus.NOT_STARTED,
    DagsterRunStatus.STARTING,
    DagsterRunStatus.STARTED,
    DagsterRunStatus.CANCELING,
)
# Started and never ended: what a run left behind by a dead process looks like (the
# statuses the orphan reaper looks at).
STUCK = tuple(ORPHAN_CANDIDATES)
TRIGGER_TAGS = ("testio/trigger", "dagster/schedule_name", "dagster/sensor_name")
# Dagster's tags on every run a sensor (automation-condition sensors included) or a
# schedule requests: the runs the daemon launches.
AUTOMATION_TAGS = ("dagster/sensor_name", "dagster/schedule_name")


@dataclass
class FailedRun:
    run_id: str
    trigger: str
    failed_products: list[int]
    reason: str

    @property
    def on_the_lock(self) -> bool:
        return "lock" in self.reason.lower()


@dataclass
class RunOutcomes:
    """Runs by status and trigger, the failed ones with their reasons, and ticks."""

    by_status: Counter[str] = field(default_factory=Counter)
    by_trigger: Counter[str] = field(default_factory=Counter)
    failed: list[FailedRun] = field(default_factory=list)
    ticks: dict[str, Counter[str]] = field(default_factory=dict)
    # Runs that automation launched without the daemon's settings, or whose worker saw
    # other settings than the daemon (defs/launch_tags.py): "run id: what".
    settings_mismatches: list[str] = field(default_factory=list)

    @property
    def launched(self) -> int:
        return sum(self.by_status.values())

    def unexplained_failures(self, forbidden: int | None) -> list[FailedRun]:
        """Failed runs not (only) caused by the product that answers 403."""
        allowed = {forbidden} if forbidden is not None else set()
        return [
            run
            for run in self.failed
            if not run.failed_products or not set(run.failed_products) <= allowed
        ]

    def lock_failures(self) -> list[FailedRun]:
        return [run for run in self.failed if run.on_the_lock]


def trigger_of(tags: dict[str, str]) -> str:
    for key in TRIGGER_TAGS:
        if key in tags:
            return tags[key]
    return "manual"


def _failure(instance: DagsterInstance, run_id: str) -> tuple[list[int], str]:
    """The products a failed run names (its step's `failed_products`) and its reason."""
    products: list[int] = []
    reasons: list[str] = []
    for entry in instance.all_logs(
        run_id, of_type={DagsterEventType.STEP_FAILURE, DagsterEventType.RUN_FAILURE}
    ):
        event = entry.dagster_event
        if event is None:
            continue
        if event.event_type == DagsterEventType.STEP_FAILURE:
            data = event.step_failure_data
            user = data.user_failure_data
            if user is not None and "failed_products" in user.metadata:
                products += [int(p) for p in user.metadata["failed_products"].value]  # type: ignore[union-attr]
            text = (user.description if user and user.description else None) or (
                data.error.message if data.error else ""
            )
            reasons.append(text.strip())
        elif not reasons:
            reasons.append(entry.message or "run failed")
    return sorted(set(products)), " | ".join(r.splitlines()[0] for r in reasons if r)[:300]


def settings_mismatch(instance: DagsterInstance, run: DagsterRun, digest: str) -> str | None:
    """Why a run that automation launched did not run with the daemon's settings `digest`
    (the tag its sensor or schedule wrote, the warning its worker logs), or None."""
    tagged = run.tags.get(SETTINGS_TAG)
    if tagged != digest:
        return f"{run.run_id[:8]}: tagged {tagged or 'without settings'}, the daemon's {digest}"
    if any("settings differ" in (e.message or "") for e in instance.all_logs(run.run_id)):
        return f"{run.run_id[:8]}: its worker logged other settings than the daemon's"
    return None


def run_outcomes(instance: DagsterInstance, since: datetime, digest: str = "") -> RunOutcomes:
    """Runs created since `since` and the ticks since then; with the daemon's settings
    `digest`, each run a sensor or the schedule launched is checked against it."""
    outcomes = RunOutcomes()
    for run in instance.get_runs(filters=RunsFilter(created_after=since)):
        outcomes.by_status[run.status.value] += 1
        trigger = trigger_of(dict(run.tags))
        outcomes.by_trigger[trigger] += 1
        automated = any(tag in run.tags for tag in AUTOMATION_TAGS)
        if digest and automated and (why := settings_mismatch(instance, run, digest)):
            outcomes.settings_mismatches.append(why)
        if run.status == DagsterRunStatus.FAILURE:
            products, reason = _failure(instance, run.run_id)
            outcomes.failed.append(FailedRun(run.run_id, trigger, products, reason))
    for state in instance.all_instigator_state():
        ticks = instance.get_ticks(
            state.instigator_origin_id, state.selector_id, after=since.timestamp()
        )
        outcomes.ticks[state.instigator_name] = Counter(t.status.value for t in ticks)
    return outcomes


# What the sensor needs to fix a partition that just went stale: a tick, then a run.
CATCH_UP = timedelta(seconds=30 + 60)


def stale_partitions(
    instance: DagsterInstance, ttl_seconds: int, forbidden: int | None
) -> list[str]:
    """Feature partitions left stale: older than the TTL by more than a sensor tick and a
    run, but for the product that answers 403 (it can never be synced)."""
    decision, _ = evaluate_stale_features(
        instance, timedelta(seconds=ttl_seconds), datetime.now(UTC) - CATCH_UP, 1_000_000
    )
    return [key for key in decision.stale if key != str(forbidden)]
