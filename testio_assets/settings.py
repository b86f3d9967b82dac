"""Every setting of the project, read from the environment and validated once.

Each setting has the name it has in `.env.example`. A nonsense value raises
`SettingsError` naming the variable, so a typo fails at load time rather than in
the middle of a run.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

DEFAULT_BASE_URL = "https://api.test.io/customer/v2"
DEFAULT_DUCKDB_PATH = "data/testio.duckdb"
DEFAULT_FEATURE_TTL_SECONDS = 3600
DEFAULT_MAX_CONCURRENCY = 10
DEFAULT_HTTP_TIMEOUT_SECONDS = 30.0
DEFAULT_RETRY_BUDGET_SECONDS = 120.0
DEFAULT_PAGE_SIZE = 25
DEFAULT_BUG_BATCH_SIZE = 15
DEFAULT_REFRESH_CRON = "*/15 * * * *"
DEFAULT_SENSOR_MAX_PARTITIONS = 50


class SettingsError(ValueError):
    """A setting has a value the project cannot work with."""


@dataclass(frozen=True)
class Settings:
    """The validated configuration. `api_token=None` means: use the built-in simulator."""

    api_token: str | None = field(default=None, repr=False)
    base_url: str = DEFAULT_BASE_URL
    duckdb_path: str = DEFAULT_DUCKDB_PATH
    feature_ttl_seconds: int = DEFAULT_FEATURE_TTL_SECONDS
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY
    http_timeout_seconds: float = DEFAULT_HTTP_TIMEOUT_SECONDS
    retry_budget_seconds: float = DEFAULT_RETRY_BUDGET_SECONDS
    page_size: int = DEFAULT_PAGE_SIZE
    bug_batch_size: int = DEFAULT_BUG_BATCH_SIZE
    simulator_profile: str = "demo"
    simulator_seed: int = 7
    refresh_cron: str = DEFAULT_REFRESH_CRON
    sensor_max_partitions: int = DEFAULT_SENSOR_MAX_PARTITIONS

    @property
    def uses_simulator(self) -> bool:
        return self.api_token is None


def _int(env: Mapping[str, str], name: str, default: int, minimum: int, maximum: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a whole number") from None
    if not minimum <= value <= maximum:
        raise SettingsError(f"{name}={value} is out of range: use {minimum}..{maximum}")
    return value


def _float(env: Mapping[str, str], name: str, default: float, minimum: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a number") from None
    if not value >= minimum:
        raise SettingsError(f"{name}={value} is too small: use at least {minimum}")
    return value


def validate_base_url(value: str, name: str = "TESTIO_BASE_URL") -> str:
    """Return the URL without a trailing slash, or raise naming the setting."""
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise SettingsError(f"{name}={value!r} is not an http(s) URL")
    return value.rstrip("/")


def validate_duckdb_path(value: str, name: str = "TESTIO_DUCKDB_PATH") -> str:
    """Check that the database file can be created where the setting points."""
    path = Path(value)
    if path.is_dir():
        raise SettingsError(f"{name}={value!r} is a directory; name a file such as testio.duckdb")
    parent = path.parent
    # The default location is ours to create; a user-chosen directory must exist,
    # otherwise a typo would silently start an empty database somewhere else.
    if value != DEFAULT_DUCKDB_PATH and not parent.exists():
        raise SettingsError(f"{name}={value!r}: directory {str(parent)!r} does not exist")
    return value


def validate_cron(value: str, name: str = "TESTIO_REFRESH_CRON") -> str:
    from dagster._utils.schedules import is_valid_cron_string

    if not is_valid_cron_string(value):
        raise SettingsError(f"{name}={value!r} is not a cron expression (e.g. '*/15 * * * *')")
    return value


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read and validate every setting from `env` (default: the process environment)."""
    env = os.environ if env is None else env
    token = env.get("TESTIO_API_TOKEN", "").strip() or None
    profile = env.get("TESTIO_SIMULATOR_PROFILE", "demo").strip() or "demo"
    from testio_assets.simulator.profiles import PROFILES

    if profile not in PROFILES:
        raise SettingsError(
            f"TESTIO_SIMULATOR_PROFILE={profile!r} is unknown: use one of {sorted(PROFILES)}"
        )
    return Settings(
        api_token=token,
        base_url=validate_base_url(env.get("TESTIO_BASE_URL", "").strip() or DEFAULT_BASE_URL),
        duckdb_path=validate_duckdb_path(
            env.get("TESTIO_DUCKDB_PATH", "").strip() or DEFAULT_DUCKDB_PATH
        ),
        feature_ttl_seconds=_int(
            env, "FEATURE_CACHE_TTL_SECONDS", DEFAULT_FEATURE_TTL_SECONDS, 1, 366 * 86400
        ),
        max_concurrency=_int(env, "TESTIO_MAX_CONCURRENCY", DEFAULT_MAX_CONCURRENCY, 1, 200),
        http_timeout_seconds=_float(
            env, "TESTIO_HTTP_TIMEOUT_SECONDS", DEFAULT_HTTP_TIMEOUT_SECONDS, 0.1
        ),
        retry_budget_seconds=_float(
            env, "TESTIO_RETRY_BUDGET_SECONDS", DEFAULT_RETRY_BUDGET_SECONDS, 0.0
        ),
        page_size=_int(env, "TESTIO_PAGE_SIZE", DEFAULT_PAGE_SIZE, 1, 1000),
        bug_batch_size=_int(env, "TESTIO_BUG_BATCH_SIZE", DEFAULT_BUG_BATCH_SIZE, 1, 200),
        simulator_profile=profile,
        simulator_seed=_int(env, "TESTIO_SIMULATOR_SEED", 7, 0, 2**31),
        refresh_cron=validate_cron(
            env.get("TESTIO_REFRESH_CRON", "").strip() or DEFAULT_REFRESH_CRON
        ),
        sensor_max_partitions=_int(
            env, "TESTIO_SENSOR_MAX_PARTITIONS", DEFAULT_SENSOR_MAX_PARTITIONS, 1, 100_000
        ),
    )
