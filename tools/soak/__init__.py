"""The soak: a day of automation compressed into minutes, then the data against the truth.

`testio-assets soak` (and `scripts/soak.sh`) serves a simulator whose clock runs fast and
that fails now and then, runs `dg dev -w workspace.yaml` on it with the shipped instance
settings and shortened intervals, then stops the clock, lets automation settle and compares
DuckDB with the simulator. `plan.py` says what a soak does, `runner.py` does it,
`processes.py` starts Dagster and watches its memory, `ui_backfill.py` backfills from the
UI's API, `outcomes.py` reads runs and ticks, `truth.py` compares the data, `report.py`
prints the verdict.
"""
