"""What a command shows of the Dagster runs it executes: the pipeline's own lines.

Dagster's console logger prints every framework event, and a failed step with its whole
stack trace (46 to 141 lines before the one that says what happened). The commands print
instead what the pipeline's steps log (progress, what was stored, warnings), one line
each, and end with their own summary of what failed. `--verbose` brings Dagster's console
back; every event, traceback included, is in the run's history in the UI either way.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from dagster import InitLoggerContext, LoggerDefinition, logger

QUIET = "testio_cli"


class _PipelineLines(logging.Handler):
    """Prints a run's log records that are not Dagster's own events."""

    def emit(self, record: logging.LogRecord) -> None:
        meta = getattr(record, "dagster_meta", None) or {}
        if meta.get("dagster_event") is not None:
            return  # framework events (step started, materialized, failed with traceback)
        message = meta.get("orig_message") or record.getMessage()
        level = "" if record.levelno < logging.WARNING else f"{record.levelname.lower()}: "
        print(f"  {level}{message}", file=sys.stderr, flush=True)


@logger(description="The pipeline's own log lines, one each, on stderr (testio-assets).")
def _testio_cli(init_context: InitLoggerContext) -> logging.Logger:
    found = logging.getLogger("testio_assets.cli_runs")
    found.setLevel(logging.INFO)
    found.propagate = False
    if not found.handlers:
        found.addHandler(_PipelineLines())
    return found


def cli_loggers(verbose: bool) -> dict[str, LoggerDefinition]:
    """The loggers of a command's runs (Dagster's console when `verbose`)."""
    return {} if verbose else {QUIET: _testio_cli}


def logger_config(verbose: bool) -> dict[str, Any]:
    """Run config for `cli_loggers`."""
    if verbose:
        return {"console": {"config": {"log_level": "INFO"}}}
    return {QUIET: {}}
