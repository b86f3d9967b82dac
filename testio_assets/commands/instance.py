"""The Dagster instance of a command: `DAGSTER_HOME`, its settings, and errors in one line.

`testio-assets` uses `DAGSTER_HOME` (or `./.dagster_home`), copying the project's instance
settings (`dagster_home/dagster.yaml`: Dagster's own SQLite storage, the run queue, the
`duckdb` pool) there the first time. Whatever storage that file names is used as Dagster
configures it: SQLite, `storage: postgres` (`postgres_url` or `postgres_db`), or the
optional plugin (`testio_assets.instance`). A storage that cannot be opened stops the
command with one line naming the file and the reason, the password masked.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from dagster import DagsterInstance

from testio_assets.defs.storage_connections import keep_storage_connections

PROJECT_ROOT = Path(__file__).resolve().parents[2]
INSTANCE_TEMPLATE = PROJECT_ROOT / "dagster_home" / "dagster.yaml"


class InstanceError(RuntimeError):
    """The Dagster instance cannot be opened (the message names the file and the reason)."""


def ensure_dagster_home(default: Path | None = None) -> Path:
    """Use `DAGSTER_HOME`, or `default` (`./.dagster_home`), so that history and partitions
    survive restarts; the project's instance settings are copied in when it has none."""
    chosen = os.environ.get("DAGSTER_HOME") or default or Path.cwd() / ".dagster_home"
    home = Path(chosen).resolve()
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists() and INSTANCE_TEMPLATE.exists():
        config.write_text(INSTANCE_TEMPLATE.read_text())
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def open_instance() -> DagsterInstance:
    """The instance of `DAGSTER_HOME`.

    Raises:
        InstanceError: its settings are invalid (a variable they name is not set, say) or
            its database cannot be reached.
    """
    config = Path(os.environ.get("DAGSTER_HOME", ".")) / "dagster.yaml"
    try:
        instance = DagsterInstance.get()
        keep_storage_connections(instance)  # not one connection per event on PostgreSQL
        return instance
    except Exception as exc:  # Dagster's config errors, SQLAlchemy's and the drivers'
        raise InstanceError(
            f"cannot open the Dagster instance of {config}: {_reason(exc)}"
        ) from None


def _reason(exc: BaseException) -> str:
    """The first line of the deepest cause worth reading (a config error's own messages,
    which name the variable that is not set), any URL's password masked."""
    while exc.__cause__ is not None and str(exc.__cause__).strip():
        exc = exc.__cause__
    errors = getattr(exc, "errors", None)  # Dagster's config errors list what is wrong
    if isinstance(errors, list) and errors and hasattr(errors[0], "message"):
        return mask_passwords("; ".join(str(e.message) for e in errors))
    text = next((line for line in str(exc).splitlines() if line.strip()), type(exc).__name__)
    return mask_passwords(text.strip())


def mask_passwords(text: str) -> str:
    """`text` with the password of every `scheme://user:password@` URL in it as ***."""
    return re.sub(r"(://[^:/@\s]*:)[^@\s]*@", r"\1***@", text)
