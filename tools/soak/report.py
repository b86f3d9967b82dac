"""A soak's figures, its verdict, and how they are printed and saved."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from tools.soak.outcomes import RunOutcomes
from tools.soak.plan import SoakPlan
from tools.soak.processes import MemoryTrace
from tools.soak.truth import TruthComparison
from tools.soak.ui_backfill import UiBackfill

WATCHED = ("daemon", "webserver")
# Memory is flat when the second half after warm-up peaks no higher than the first half
# plus this share of it, or this many MiB, whichever is larger.
FLAT_SHARE = 0.10
FLAT_MIB = 24.0


@dataclass
class SoakReport:
    plan: SoakPlan
    workdir: str
    events: list[str] = field(default_factory=list)
    forbidden: int | None = None
    simulated_days: int = 0
    settled: bool = False
    settle_seconds: float = 0.0
    run_seconds: float = 0.0
    warm_up_until: float = 0.0
    requests: dict[str, int] = field(default_factory=dict)
    faults: dict[str, int] = field(default_factory=dict)
    outcomes: RunOutcomes = field(default_factory=RunOutcomes)
    stale_left: list[str] = field(default_factory=list)
    stuck: list[str] = field(default_factory=list)
    memory: MemoryTrace = field(default_factory=MemoryTrace)
    versus_reference: TruthComparison = field(default_factory=TruthComparison)
    versus_simulator: TruthComparison = field(default_factory=TruthComparison)
    backfill: UiBackfill | None = None
    dev_problems: list[str] = field(default_factory=list)

    def memory_growth(self) -> dict[str, tuple[float, float]]:
        return {role: self.memory.growth(role, self.warm_up_until) for role in WATCHED}

    def problems(self) -> list[str]:
        """Why the soak did not pass (empty: it passed)."""
        found = []
        if self.versus_reference.total or self.versus_simulator.total:
            found.append(
                f"{self.versus_reference.total} row(s) differ from a fresh sync, "
                f"{self.versus_simulator.total} from the simulator's objects"
            )
        unexplained = self.outcomes.unexplained_failures(self.forbidden)
        if unexplained:
            found.append(
                f"{len(unexplained)} run(s) failed other than by the 403 product: "
                + "; ".join(f"{r.trigger}: {r.reason}" for r in unexplained[:3])
            )
        if self.outcomes.lock_failures():
            found.append(f"{len(self.outcomes.lock_failures())} run(s) failed on the DuckDB lock")
        if self.stuck:
            found.append(f"run(s) stuck in flight: {', '.join(self.stuck[:5])}")
        if not self.settled:
            found.append(
                f"automation did not settle within {self.plan.settle_timeout_seconds:.0f} s"
            )
        if self.stale_left:
            found.append(f"{len(self.stale_left)} feature partition(s) left stale")
        mismatches = self.outcomes.settings_mismatches
        if mismatches:
            found.append(
                f"{len(mismatches)} automated run(s) without the daemon's settings: "
                + "; ".join(mismatches[:3])
            )
        if self.backfill is not None:
            found += self.backfill.problems()
        found += self.dev_problems
        for role, (first, second) in self.memory_growth().items():
            if second > first + max(FLAT_MIB, FLAT_SHARE * first):
                found.append(f"{role} memory grew from {first:.0f} to {second:.0f} MiB")
        return found

    @property
    def passed(self) -> bool:
        return not self.problems()

    def render(self) -> str:
        o = self.outcomes
        lines = [
            "",
            f"soak of {self.plan.minutes:g} min: {self.simulated_days} simulated days, "
            f"settled {'yes' if self.settled else 'NO'} after {self.settle_seconds:.0f} s",
            f"  events             {'; '.join(self.events)}",
            f"  runs launched      {o.launched}: "
            + ", ".join(f"{n} {s.lower()}" for s, n in sorted(o.by_status.items())),
            "  runs by trigger    "
            + ", ".join(f"{t} {n}" for t, n in sorted(o.by_trigger.items())),
        ]
        for run in o.failed[:10]:
            products = ",".join(map(str, run.failed_products)) or "-"
            lines.append(
                f"    failed {run.run_id[:8]} {run.trigger} products {products}: {run.reason}"
            )
        if len(o.failed) > 10:
            lines.append(f"    ... and {len(o.failed) - 10} more failed run(s)")
        lines.append(
            f"  failed other than by the 403 product  "
            f"{len(o.unexplained_failures(self.forbidden))}; on the DuckDB lock "
            f"{len(o.lock_failures())}; stuck in flight {len(self.stuck)}"
        )
        for name, counts in sorted(o.ticks.items()):
            if not counts:
                continue  # no tick since the soak began (a sensor with a long interval)
            lines.append(
                f"  ticks {name:<32}"
                + ", ".join(f"{n} {s.lower()}" for s, n in sorted(counts.items()))
            )
        lines += [
            f"  requests           {sum(self.requests.values()):,}",
            f"  faults injected    {sum(self.faults.values()):,}: "
            + ", ".join(f"{k} {v}" for k, v in sorted(self.faults.items())),
            f"  stale partitions   {len(self.stale_left)} (not counting the 403 product)",
            f"  settings           {len(o.settings_mismatches)} automated run(s) without "
            "the daemon's settings",
            f"  UI backfill        {self._backfill_line()}",
            f"  rows differing     {self.versus_reference.total} of "
            f"{sum(self.versus_reference.compared.values()):,} vs a fresh sync; "
            f"{self.versus_simulator.total} of {sum(self.versus_simulator.compared.values()):,} "
            "vs the simulator's objects",
        ]
        examples = self.versus_reference.examples + self.versus_simulator.examples
        if examples:
            lines.append(f"    e.g. {'; '.join(examples[:6])}")
        for role in sorted(self.memory.samples):
            line = f"  peak RSS {role:<12}{self.memory.peak(role):7.0f} MiB"
            if role in WATCHED:
                first, second = self.memory.growth(role, self.warm_up_until)
                line += f" (after warm-up: {first:.0f} MiB first half, {second:.0f} second half)"
            lines.append(line)
        problems = self.problems()
        lines.append("PASSED" if not problems else "FAILED: " + "; ".join(problems))
        return "\n".join(lines)

    def _backfill_line(self) -> str:
        b = self.backfill
        if b is None:
            return "none (the soak ended before its share)"
        return f"{b.label}: {b.status}, {len(b.runs)} run(s)"

    def to_json(self) -> dict[str, Any]:
        o = self.outcomes
        return {
            "minutes": self.plan.minutes,
            "products": self.plan.products,
            "simulated_days": self.simulated_days,
            "settled": self.settled,
            "settle_seconds": round(self.settle_seconds, 1),
            "events": self.events,
            "forbidden_product": self.forbidden,
            "runs": dict(o.by_status),
            "runs_by_trigger": dict(o.by_trigger),
            "failed_runs": [
                {
                    "run_id": r.run_id,
                    "trigger": r.trigger,
                    "products": r.failed_products,
                    "reason": r.reason,
                }
                for r in o.failed
            ],
            "unexplained_failures": len(o.unexplained_failures(self.forbidden)),
            "lock_failures": len(o.lock_failures()),
            "stuck": self.stuck,
            "ticks": {name: dict(c) for name, c in o.ticks.items()},
            "requests": sum(self.requests.values()),
            "faults": self.faults,
            "stale_left": self.stale_left,
            "settings_mismatches": o.settings_mismatches,
            "backfill": None
            if self.backfill is None
            else {
                "partitions": self.backfill.partitions,
                "status": self.backfill.status,
                "runs": self.backfill.runs,
            },
            "dev_problems": self.dev_problems,
            "rows_differing": {
                "reference": self.versus_reference.differing,
                "simulator": self.versus_simulator.differing,
            },
            "rows_compared": {
                "reference": self.versus_reference.compared,
                "simulator": self.versus_simulator.compared,
            },
            "peak_rss_mib": {r: round(self.memory.peak(r), 1) for r in self.memory.samples},
            "memory_growth_mib": {
                r: [round(a, 1), round(b, 1)] for r, (a, b) in self.memory_growth().items()
            },
            "problems": self.problems(),
            "passed": self.passed,
        }

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2)
