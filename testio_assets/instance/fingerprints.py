"""The Dagster code the plugin reproduces or relies on, fingerprinted: an upgrade that
changes any of it fails `tests/test_instance_storage.py`, which names what changed. Read
the change, check the plugin against it, then update `FINGERPRINTS`."""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Callable
from typing import Any

from dagster._core.definitions.asset_checks.asset_check_evaluation import (
    AssetCheckEvaluationTargetMaterializationData,
)
from dagster._core.storage.event_log.sql_event_log import SqlEventLogStorage
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage

REPRODUCED: dict[str, Callable[..., Any] | type] = {
    "SqliteEventLogStorage.store_event": SqliteEventLogStorage.store_event,
    "SqliteEventLogStorage._connect": SqliteEventLogStorage._connect,
    "SqliteEventLogStorage.has_table": SqliteEventLogStorage.has_table,
    "SqlEventLogStorage.store_event": SqlEventLogStorage.store_event,
    "SqlEventLogStorage.store_event_batch": SqlEventLogStorage.store_event_batch,
    # check_targets.py builds these, as Dagster's AssetCheckResult does for one partition
    "AssetCheckEvaluationTargetMaterializationData": (
        AssetCheckEvaluationTargetMaterializationData
    ),
}
FINGERPRINTS = {
    "SqliteEventLogStorage.store_event": "f89aed40602438b9",
    "SqliteEventLogStorage._connect": "b8435f2665689760",
    "SqliteEventLogStorage.has_table": "577d801c70b2a4a5",
    "SqlEventLogStorage.store_event": "391ced414e9bfecb",
    "SqlEventLogStorage.store_event_batch": "d710189545dbace2",
    "AssetCheckEvaluationTargetMaterializationData": "a34d5052f559ed0d",
}


def current() -> dict[str, str]:
    """The fingerprint of each reproduced part of the installed Dagster."""
    return {
        name: hashlib.sha256(inspect.getsource(code).encode()).hexdigest()[:16]
        for name, code in REPRODUCED.items()
    }


def changed() -> dict[str, str]:
    """The parts whose fingerprint differs, with their new fingerprints."""
    return {name: print_ for name, print_ in current().items() if FINGERPRINTS[name] != print_}
