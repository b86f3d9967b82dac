"""The store as a DuckLake: a catalog in PostgreSQL, Parquet data files in a directory or
an object store. Several processes, on several hosts, write at once, and readers read at
any time (each sees the last committed snapshot).

- The DuckDB extensions come from the Python packages installed at setup
  (`duckdb-extension-ducklake`, `-postgres`, `-httpfs`); nothing is downloaded at run
  time. DuckDB loads an extension from a file named after its entry point, so each is
  reached through a link of that name in a cache directory.
- The catalog's credentials go into DuckDB secrets in memory, never into a connection
  string: DuckDB's error messages repeat connection strings, never secrets.
- DuckLake tables have no keys: the tables are created from `tables.py` without them (the
  merge needs none: `merge.py`), and a column added there is added here.
- Two writers that change the same table at once conflict at commit; the loser's
  transaction is rolled back and run again (`is_conflict`), so nothing is lost.
"""

from __future__ import annotations

import importlib
import os
import tempfile
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import unquote, urlparse

import duckdb

from testio_assets.settings import redact_url
from testio_assets.store.errors import StoreError
from testio_assets.store.schema import current_version
from testio_assets.store.sql import literal, run
from testio_assets.store.tables import TABLES

DUCKDB_VERSION = "v1.5.5"
# (package, file in the package, the entry point DuckDB derives from the file name)
EXTENSIONS = (
    ("duckdb_extension_postgres", "postgres", "postgres_scanner"),
    ("duckdb_extension_ducklake", "ducklake", "ducklake"),
)
OBJECT_STORE = ("duckdb_extension_httpfs", "httpfs", "httpfs")
CONFLICT_ATTEMPTS = 20


def extension_file(package: str, name: str, entry: str) -> Path:
    """A path DuckDB can `LOAD` for the extension shipped in `package`."""
    module = importlib.import_module(package)
    shipped = Path(module.__file__ or "").parent / "extensions" / DUCKDB_VERSION
    source = shipped / f"{name}.duckdb_extension"
    if not source.exists():
        raise StoreError(f"the DuckDB extension {name} is not installed ({source}): run setup")
    links = Path(tempfile.gettempdir()) / f"testio-duckdb-extensions-{os.getuid()}"
    links.mkdir(exist_ok=True)
    link = links / f"{entry}.duckdb_extension"
    if not link.exists():
        try:
            link.symlink_to(source)
        except FileExistsError:
            pass  # another process made it meanwhile
    return link


def lake_connection(catalog_url: str, data_path: str, read_only: bool) -> duckdb.DuckDBPyConnection:
    """A connection with the lake attached (as `testio`, `USE`d).

    Raises:
        StoreError: the catalog or the data path cannot be used (the password never shown).
    """
    conn = duckdb.connect(
        config={"autoinstall_known_extensions": False, "autoload_known_extensions": False}
    )
    try:
        for package, name, entry in EXTENSIONS:
            run(conn, f"LOAD {literal(str(extension_file(package, name, entry)))}")
        if "://" in data_path and not data_path.startswith("file://"):
            _object_store(conn)
        _secrets(conn, catalog_url, data_path)
        mode = " (READ_ONLY)" if read_only else ""
        run(conn, f"ATTACH 'ducklake:testio_lake' AS testio{mode}")
        run(conn, "USE testio")
    except duckdb.Error as exc:
        conn.close()
        where = f"{redact_url(catalog_url)} (data in {data_path})"
        raise StoreError(f"cannot attach the DuckLake at {where}: {exc}") from None
    except BaseException:
        conn.close()
        raise
    return conn


def _secrets(conn: duckdb.DuckDBPyConnection, catalog_url: str, data_path: str) -> None:
    url = urlparse(catalog_url)
    fields = {
        "HOST": url.hostname or "localhost",
        "PORT": str(url.port or 5432),
        "DATABASE": unquote(url.path.lstrip("/")) or "postgres",
        "USER": unquote(url.username or ""),
        "PASSWORD": unquote(url.password or ""),
    }
    values = ", ".join(
        f"{key} {value if key == 'PORT' else literal(value)}" for key, value in fields.items()
    )
    run(conn, f"CREATE OR REPLACE TEMPORARY SECRET testio_catalog (TYPE postgres, {values})")
    run(
        conn,
        "CREATE OR REPLACE TEMPORARY SECRET testio_lake (TYPE ducklake, METADATA_PATH '', "
        f"DATA_PATH {literal(data_path)}, "
        "METADATA_PARAMETERS MAP {'TYPE': 'postgres', 'SECRET': 'testio_catalog'})",
    )


def _object_store(conn: duckdb.DuckDBPyConnection) -> None:
    """httpfs for s3:// (and gs://, https://) data paths, with the standard AWS variables
    as its credentials when they are set."""
    run(conn, f"LOAD {literal(str(extension_file(*OBJECT_STORE)))}")
    names = {
        "KEY_ID": "AWS_ACCESS_KEY_ID",
        "SECRET": "AWS_SECRET_ACCESS_KEY",
        "REGION": "AWS_REGION",
        "ENDPOINT": "AWS_ENDPOINT_URL",
    }
    given = {key: os.environ[var] for key, var in names.items() if os.environ.get(var)}
    if given:
        values = ", ".join(f"{key} {literal(value)}" for key, value in given.items())
        run(conn, f"CREATE OR REPLACE TEMPORARY SECRET testio_objects (TYPE s3, {values})")


def ensure_lake_schema(conn: duckdb.DuckDBPyConnection) -> int:
    """Create the declared tables (without keys) and add declared columns they lack;
    returns how many tables and columns were added."""
    version = current_version(conn)  # creates `schema_version` when missing
    existing = {
        (str(table), str(column))
        for table, column in conn.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_catalog = 'testio' AND table_schema = 'main'"
        ).fetchall()
    }
    tables = {table for table, _ in existing}
    added = 0
    for table, columns in TABLES.items():
        if table not in tables:
            body = ", ".join(f"{name} {kind}" for name, kind in columns.items())
            run(conn, f"CREATE TABLE {table} ({body})")
            added += 1
            continue
        for name, kind in columns.items():
            if (table, name) not in existing:
                run(conn, f"ALTER TABLE {table} ADD COLUMN {name} {kind}")
                added += 1
    if added or not version:
        run(conn, "INSERT INTO schema_version VALUES (?, ?, now())", [0, "DuckLake tables"])
    return added


def is_conflict(exc: BaseException) -> bool:
    """Whether `exc` is a commit that lost to another writer's (worth running again)."""
    text = str(exc).lower()
    return isinstance(exc, duckdb.Error) and ("conflict" in text or "concurrent" in text)


@dataclass(frozen=True)
class LakeFigures:
    """What a DuckLake holds: data files (with delete files), their bytes, snapshots."""

    files: int
    bytes: int
    snapshots: int


def lake_figures(conn: duckdb.DuckDBPyConnection) -> LakeFigures:
    files, size = conn.execute(
        "SELECT coalesce(sum(file_count + delete_file_count), 0), "
        "coalesce(sum(file_size_bytes + delete_file_size_bytes), 0) "
        "FROM ducklake_table_info('testio')"
    ).fetchall()[0]
    snapshots = conn.execute("SELECT count(*) FROM ducklake_snapshots('testio')").fetchall()[0]
    return LakeFigures(int(files), int(size), int(snapshots[0]))


def maintain(conn: duckdb.DuckDBPyConnection, keep: timedelta) -> tuple[LakeFigures, LakeFigures]:
    """Keep small files and old snapshots in check: rows inlined in the catalog written
    out, files whose rows are half or more deleted rewritten without them (every update
    of a row deletes its old version), adjacent small files merged, snapshots older than
    `keep` expired, and the files only they used deleted once they are `keep` old too (a
    reader still on an old snapshot keeps its files for that long). Returns the figures
    before and after."""
    before = lake_figures(conn)
    age = f"now() - INTERVAL '{int(keep.total_seconds())} seconds'"
    for statement in (
        "CALL ducklake_flush_inlined_data('testio')",
        "CALL ducklake_rewrite_data_files('testio', delete_threshold => 0.5)",
        "CALL ducklake_merge_adjacent_files('testio')",
        f"CALL ducklake_expire_snapshots('testio', older_than => {age})",
        f"CALL ducklake_cleanup_old_files('testio', older_than => {age})",
    ):
        run(conn, statement)
    return before, lake_figures(conn)
