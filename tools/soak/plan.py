"""What a soak does: how long, on what account, how fast and how hostile."""

from __future__ import annotations

from dataclasses import dataclass

from testio_assets.simulator.profiles import Profile, profile_for


@dataclass(frozen=True)
class SoakPlan:
    """The knobs of one soak.

    Attributes:
        minutes: how long automation runs while the account changes (settling comes after).
        products: products at time zero (the `small` profile's shape per product).
        seed: simulator data, fault draws and the products chosen for the events.
        seconds_per_day: real seconds per simulated day (the fast clock).
        fault_rate: share of API requests that meet a random fault.
        latency_ms: the simulator's answer time.
        refresh_cron: the schedule (every minute: 15 times the default).
        discovery_interval_seconds: how often products are listed (5 minutes in production).
        settle_timeout_seconds: how long automation may take to catch up after the freeze.
        drain_timeout_seconds: how long the runs in flight then may take to end.
        warm_up_share: the start of the run that memory flatness ignores.
        instance: Dagster's storage: `sqlite` (the shipped instance), `postgres-stock`
            (dagster-postgres as the Helm chart configures it, on a throwaway server) or
            `plugin` (tools/bench/instance.py).
    """

    minutes: float = 30.0
    products: int = 20
    seed: int = 7
    seconds_per_day: float = 30.0
    fault_rate: float = 0.03
    latency_ms: float = 20.0
    refresh_cron: str = "* * * * *"
    discovery_interval_seconds: int = 30
    settle_timeout_seconds: float = 420.0
    drain_timeout_seconds: float = 240.0
    warm_up_share: float = 0.25
    instance: str = "sqlite"

    @property
    def seconds(self) -> float:
        return self.minutes * 60

    @property
    def feature_ttl_seconds(self) -> int:
        """A day has 24 TTL periods of an hour; the soak has up to 24, none shorter than two
        minutes. Shorter keeps the `duckdb` pool busy all the time on a 2-core machine (a
        run costs about 5 s there, most of it starting a process), so that the run queue
        never empties: a test of the machine, not of the pipeline."""
        return max(120, int(self.seconds / 24))

    @property
    def record_every_hours(self) -> float:
        """How often unchanged partitions are recorded again (assets/recording.py): every
        third of the soak, two minutes at least (a day has one such refresh; the soak's
        compressed day has a few)."""
        return max(120.0, self.seconds / 3) / 3600

    def profile(self) -> Profile:
        return profile_for("small", self.products)

    # When the scripted events happen, as shares of `minutes`.
    ADD_PRODUCT_AT = 0.2
    FORBID_PRODUCT_AT = 0.35
    REMOVE_PRODUCT_AT = 0.5
    BACKFILL_AT = 0.65
