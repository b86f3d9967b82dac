"""Whole processes: `dagster sensor preview` on the shipped code location. (`dg dev` end to
end, with its daemon, sensors and a backfill from the UI, is the soak: tests/test_soak.py.)"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from tests.pipeline_helpers import BIN, ROOT, process_env

pytestmark = pytest.mark.slow


def test_sensor_preview_requests_stale_and_skips_fresh_products(tmp_path: Path) -> None:
    env = process_env(tmp_path, TESTIO_SIMULATOR="1")
    sync = subprocess.run(
        [str(BIN / "testio-assets"), "sync"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert sync.returncode == 0, sync.stderr[-3000:]
    preview = [
        str(BIN / "dagster"),
        "sensor",
        "preview",
        "stale_features_sensor",
        "-m",
        "testio_assets.definitions",
    ]
    fresh = subprocess.run(preview, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert "0 stale, 0 requested, 5 fresh" in fresh.stdout + fresh.stderr
    time.sleep(2)
    stale = subprocess.run(
        preview,
        env={**env, "FEATURE_CACHE_TTL_SECONDS": "1"},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = stale.stdout + stale.stderr
    assert "5 stale, 5 requested" in output
    requested = output.split("requested: ", 2)[-1].splitlines()[0]
    assert sorted(requested.split(", ")) == ["1001", "1002", "1003", "1004", "1005"]
    assert "Sensor returning run requests" in output
