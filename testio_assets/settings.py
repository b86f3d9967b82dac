"""Every setting of the project: one pydantic model, read from the environment once.

Each field's alias is the variable's name in `.env.example`, and each default is written
here and nowhere else. A nonsense value raises `SettingsError` naming the variable, so a
typo fails when the definitions load rather than in the middle of a run. An empty
variable means "use the default".
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo

from testio_assets.names import DEFAULT_RECORD_EVERY_HOURS

DEFAULT_DUCKDB_PATH = "data/testio.duckdb"


class SettingsError(ValueError):
    """A setting has a value the project cannot work with."""


class Settings(BaseModel):
    """The validated configuration. The built-in simulator is used only when asked for
    (`TESTIO_SIMULATOR=1`, or `testio-assets demo`); otherwise the API needs a token."""

    model_config = ConfigDict(frozen=True, validate_by_name=True, validate_by_alias=True)

    api_token: str | None = Field(default=None, alias="TESTIO_API_TOKEN", repr=False)
    base_url: str = Field(default="https://api.test.io/customer/v2", alias="TESTIO_BASE_URL")
    duckdb_path: str = Field(default=DEFAULT_DUCKDB_PATH, alias="TESTIO_DUCKDB_PATH")
    # DuckDB's buffers; beyond this it spills to disk (store/database.py). Empty: DuckDB's
    # own default, 80 % of RAM.
    duckdb_memory_limit: str | None = Field(default=None, alias="TESTIO_DUCKDB_MEMORY_LIMIT")
    feature_ttl_seconds: int = Field(
        default=3600, ge=1, le=366 * 86400, alias="FEATURE_CACHE_TTL_SECONDS"
    )
    max_concurrency: int = Field(default=10, ge=1, le=200, alias="TESTIO_MAX_CONCURRENCY")
    http_timeout_seconds: float = Field(default=30.0, ge=0.1, alias="TESTIO_HTTP_TIMEOUT_SECONDS")
    retry_budget_seconds: float = Field(default=120.0, ge=0.0, alias="TESTIO_RETRY_BUDGET_SECONDS")
    page_size: int = Field(default=25, ge=1, le=1000, alias="TESTIO_PAGE_SIZE")
    bug_batch_size: int = Field(default=15, ge=1, le=200, alias="TESTIO_BUG_BATCH_SIZE")
    # The built-in simulator instead of the API (`testio-assets demo` sets it).
    simulator: bool = Field(default=False, alias="TESTIO_SIMULATOR")
    simulator_profile: str = Field(default="demo", alias="TESTIO_SIMULATOR_PROFILE")
    simulator_seed: int = Field(default=7, ge=0, le=2**31, alias="TESTIO_SIMULATOR_SEED")
    refresh_cron: str = Field(default="*/15 * * * *", alias="TESTIO_REFRESH_CRON")
    # How often the product discovery sensor lists the account's products.
    discovery_interval_seconds: int = Field(
        default=300, ge=5, le=86_400, alias="TESTIO_DISCOVERY_INTERVAL_SECONDS"
    )
    sensor_max_partitions: int = Field(
        default=50, ge=1, le=100_000, alias="TESTIO_SENSOR_MAX_PARTITIONS"
    )
    # Finished runs older than this are deleted (automation/run_history.py); 0 keeps all.
    run_history_days: int = Field(default=7, ge=0, le=3650, alias="TESTIO_RUN_HISTORY_DAYS")
    # How long a refresh leaves an unchanged tests, bugs or users partition unrecorded in
    # Dagster (assets/recording.py); capped at half of TESTIO_RUN_HISTORY_DAYS.
    record_every_hours: float = Field(
        default=DEFAULT_RECORD_EVERY_HOURS, gt=0.0, le=87_600.0, alias="TESTIO_RECORD_EVERY_HOURS"
    )
    # A product's health (analytics.product_quality_summary): warning or critical once a
    # rate reaches its threshold. Rates are fractions (0.2 = 20 %).
    health_rejection_warning: float = Field(
        default=0.20, ge=0.0, le=1.0, alias="TESTIO_HEALTH_REJECTION_WARNING"
    )
    health_rejection_critical: float = Field(
        default=0.35, ge=0.0, le=1.0, alias="TESTIO_HEALTH_REJECTION_CRITICAL"
    )
    health_auto_accept_warning: float = Field(
        default=0.20, ge=0.0, le=1.0, alias="TESTIO_HEALTH_AUTO_ACCEPT_WARNING"
    )
    health_auto_accept_critical: float = Field(
        default=0.40, ge=0.0, le=1.0, alias="TESTIO_HEALTH_AUTO_ACCEPT_CRITICAL"
    )
    # ... or once its active acceptance or review rate falls to these.
    health_active_accept_warning: float = Field(
        default=0.40, ge=0.0, le=1.0, alias="TESTIO_HEALTH_ACTIVE_ACCEPT_WARNING"
    )
    health_active_accept_critical: float = Field(
        default=0.20, ge=0.0, le=1.0, alias="TESTIO_HEALTH_ACTIVE_ACCEPT_CRITICAL"
    )
    health_review_warning: float = Field(
        default=0.50, ge=0.0, le=1.0, alias="TESTIO_HEALTH_REVIEW_WARNING"
    )
    health_review_critical: float = Field(
        default=0.25, ge=0.0, le=1.0, alias="TESTIO_HEALTH_REVIEW_CRITICAL"
    )
    # The store as a DuckLake shared by several hosts (store/lake.py) instead of the file:
    # its catalog (a PostgreSQL database) and where its data files go.
    ducklake_catalog: str | None = Field(default=None, alias="TESTIO_DUCKLAKE_CATALOG", repr=False)
    ducklake_data_path: str | None = Field(default=None, alias="TESTIO_DUCKLAKE_DATA_PATH")
    # Dagster's own: events handed to the event log in batches of this size (0: one by
    # one). With it, the product step records an asset complete over its run as one
    # output (defs/assets/step_records.py).
    event_batch_size: int = Field(default=0, ge=0, le=100_000, alias="DAGSTER_EVENT_BATCH_SIZE")

    @property
    def uses_simulator(self) -> bool:
        return self.simulator

    def require_source(self) -> None:
        """Refuse to talk to nothing in particular: a token, or the simulator on purpose.

        Raises:
            SettingsError: no token and no simulator asked for, or both.
        """
        if self.simulator and self.api_token:
            raise SettingsError(
                "TESTIO_SIMULATOR=1 and TESTIO_API_TOKEN are both set: unset one of them"
            )
        if not self.simulator and not self.api_token:
            raise SettingsError(
                "TESTIO_API_TOKEN is not set: put your Test IO API token in .env (see "
                ".env.example), or run `testio-assets demo` for the built-in simulator's "
                "demo account"
            )

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parsed = urlparse(value)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError("is not an http(s) URL")
        return value.rstrip("/")

    @field_validator("duckdb_path")
    @classmethod
    def _creatable_file(cls, value: str) -> str:
        path = Path(value)
        if path.is_dir():
            raise ValueError("is a directory; name a file such as testio.duckdb")
        # The default location is ours to create; a user-chosen directory must exist,
        # otherwise a typo would silently start an empty database somewhere else.
        if value != DEFAULT_DUCKDB_PATH and not path.parent.exists():
            raise ValueError(f"directory {str(path.parent)!r} does not exist")
        return value

    @field_validator("duckdb_memory_limit")
    @classmethod
    def _memory_size(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        if not re.fullmatch(r"\d+(\.\d+)?\s*([KMGT]i?B|B)", value.strip(), re.IGNORECASE):
            raise ValueError("is not a size: use a number and a unit, such as 256MB or 1GiB")
        return value.strip()

    @field_validator("ducklake_catalog")
    @classmethod
    def _catalog_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parsed = urlparse(value)
        if parsed.scheme not in ("postgresql", "postgres") or not parsed.hostname:
            raise ValueError("is not a postgresql://user:password@host:port/database URL")
        return value

    @model_validator(mode="after")
    def _lake_needs_both(self) -> Settings:
        if bool(self.ducklake_catalog) != bool(self.ducklake_data_path):
            given = (
                "TESTIO_DUCKLAKE_CATALOG" if self.ducklake_catalog else "TESTIO_DUCKLAKE_DATA_PATH"
            )
            raise ValueError(
                f"{given} is set without its partner: a DuckLake needs both "
                "TESTIO_DUCKLAKE_CATALOG and TESTIO_DUCKLAKE_DATA_PATH"
            )
        return self

    @field_validator("refresh_cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        # Imported here: the bug-page worker process imports this module through the
        # console script, and must not pay for importing Dagster.
        from dagster import ScheduleDefinition

        try:
            ScheduleDefinition(name="cron_check", cron_schedule=value, job_name="cron_check")
        except Exception:
            raise ValueError("is not a cron expression (e.g. '*/15 * * * *')") from None
        return value


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read and validate every setting from `env` (default: the process environment).

    Raises:
        SettingsError: the first bad value, named by its variable.
    """
    env = os.environ if env is None else env
    names = {field.alias for field in Settings.model_fields.values()}
    given = {name: env[name].strip() for name in names if env.get(name, "").strip()}
    try:
        return Settings.model_validate(given)
    except ValidationError as exc:
        raise SettingsError(_explain(exc.errors()[0], given)) from None


def _explain(error: Mapping[str, Any], given: Mapping[str, str]) -> str:
    """One line naming the variable, its value and what is wrong with it."""
    if not error["loc"]:  # a rule between settings: its message names them
        return str(error.get("ctx", {}).get("error", error["msg"]))
    name = str(error["loc"][0])
    field = next(f for f in Settings.model_fields.values() if f.alias == name)
    raw = _shown(field, given.get(name, ""))
    kind = error["type"]
    context = error.get("ctx", {})
    if kind == "int_parsing":
        return f"{name}={raw!r} is not a whole number"
    if kind == "bool_parsing":
        return f"{name}={raw!r} is not a yes/no value: use 1 or 0"
    if kind == "float_parsing":
        return f"{name}={raw!r} is not a number"
    if kind in ("greater_than_equal", "less_than_equal") and field.annotation is int:
        low, high = _bounds(field.metadata)
        return f"{name}={int(raw)} is out of range: use {low}..{high}"
    if kind == "greater_than_equal":
        return f"{name}={float(raw)} is too small: use at least {context['ge']}"
    if kind == "less_than_equal":
        return f"{name}={float(raw)} is too large: use at most {context['le']}"
    if kind == "value_error":
        return f"{name}={raw!r} {context['error']}"
    return f"{name}={raw!r}: {error['msg']}"


def _shown(field: FieldInfo, value: str) -> str:
    """`value` as it may appear in a message: secrets hidden, a URL's password masked."""
    if field.repr:
        return value
    if "://" in value:
        return redact_url(value)
    return "<hidden>"


def settings_digest(settings: Settings) -> str:
    """A short fingerprint of every setting, to tell whether two processes run with the
    same ones. Secrets count only as set or not (and the catalog URL without its
    password): the digest reveals nothing of them."""
    values = settings.model_dump(by_alias=True)
    values["TESTIO_API_TOKEN"] = bool(settings.api_token)
    if settings.ducklake_catalog:
        values["TESTIO_DUCKLAKE_CATALOG"] = redact_url(settings.ducklake_catalog)
    text = json.dumps(values, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def redact_url(url: str) -> str:
    """`url` with its password, if any, replaced by ***."""
    parsed = urlparse(url)
    if parsed.password is None:
        return url
    user = f"{parsed.username}:***@" if parsed.username else ":***@"
    host = parsed.netloc.rsplit("@", 1)[1]
    return parsed._replace(netloc=user + host).geturl()


def _bounds(metadata: list[Any]) -> tuple[Any, Any]:
    low = next(m.ge for m in metadata if getattr(m, "ge", None) is not None)
    high = next(m.le for m in metadata if getattr(m, "le", None) is not None)
    return low, high


# Every default, for code that needs one without the environment (not validated here, so
# that importing this module stays cheap: the defaults are validated by any load).
DEFAULTS = Settings.model_construct()
