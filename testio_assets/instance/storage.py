"""`PooledSqliteStorage`: Dagster's SQLite storage with the plugin's event log.

Name it in `DAGSTER_HOME/dagster.yaml` to use the plugin (docs/deploy.md):

    storage:
      custom:
        module: testio_assets.instance.storage
        class: PooledSqliteStorage

It keeps Dagster's files and layout in `DAGSTER_HOME` (switching back to Dagster's own
storage keeps the history), with the event log of `event_log.py`: connections kept open,
a batch of events stored in one transaction. Runs then also name the materialization
each product's check evaluation judges (`check_targets.py`).

Private Dagster names, and why: a storage class named in dagster.yaml is Dagster's
documented plugin point, but Dagster exports neither the base class it must extend
(`DagsterSqliteStorage`) nor `ConfigurableClassData`; dagster-io/dagster#26342 (custom
storage classes) is still open.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from dagster import Field, StringSource
from dagster._core.storage.sqlite_storage import DagsterSqliteStorage
from dagster._serdes import ConfigurableClassData

from testio_assets.instance.event_log import PooledSqliteEventLogStorage


class PooledSqliteStorage(DagsterSqliteStorage):
    """SQLite storage in `base_dir` (default: `DAGSTER_HOME`) with the pooled event log."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None) -> None:
        super().__init__(base_dir, inst_data=inst_data)
        # Where Dagster's own SQLite storage keeps the event log, under `base_dir`.
        self._event_log_storage.dispose()
        runs = os.path.join(base_dir, "history", "runs", "")
        self._event_log_storage = PooledSqliteEventLogStorage(runs)

    @classmethod
    def config_type(cls) -> Mapping[str, Any]:
        return {"base_dir": Field(StringSource, is_required=False)}

    @classmethod
    def from_config_value(  # type: ignore[override]
        cls, inst_data: ConfigurableClassData | None, config_value: Mapping[str, Any]
    ) -> PooledSqliteStorage:
        base_dir = config_value.get("base_dir") or os.environ.get("DAGSTER_HOME") or os.getcwd()
        os.makedirs(base_dir, exist_ok=True)
        return cls(base_dir, inst_data=inst_data)
