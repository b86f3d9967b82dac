"""Settings that reach every process: the sensors and the schedule tag each run they
request with the settings digest of the process that evaluated them (the code location
the daemon asks), and the run's steps compare it with their own.

A run worker started by a deployment that does not pass every setting (`deploy/`'s run
launcher lists them all) would otherwise compute with defaults where the daemon uses the
real values, silently. The comparison is a warning in the run's log, naming both digests
and where the settings come from; it steers nothing.
"""

from __future__ import annotations

from dagster import AssetExecutionContext

from testio_assets.names import SETTINGS_TAG


def launch_tags(trigger: str, digest: str) -> dict[str, str]:
    """The tags of a run that `trigger` requests, from a process whose settings digest
    is `digest` ("" when unknown: no settings tag)."""
    tags = {"testio/trigger": trigger}
    if digest:
        tags[SETTINGS_TAG] = digest
    return tags


def warn_if_settings_differ(context: AssetExecutionContext, digest: str) -> bool:
    """Log a warning when the run was requested with other settings than this process
    has; returns whether it did."""
    requested = context.run.tags.get(SETTINGS_TAG)
    if not requested or not digest or requested == digest:
        return False
    context.log.warning(
        "this run's settings differ from those of the process that requested it (settings "
        "digest %s here, %s there): the run worker did not receive every setting; pass "
        "every variable of .env.example to run workers (deploy/dagster.yaml, env_vars)",
        digest,
        requested,
    )
    return True
