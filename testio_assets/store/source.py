"""Whose data a database holds: recorded by its first sync, checked by every later one.

The first write records the source in the table `store_source`: the API's base URL, or
the built-in simulator with its profile and seed (never a token). A sync from another
source is refused before it writes anything, naming both, so that a forgotten token (the
simulator's demo account) or a second account never lands on top of the first. Starting
over is explicit: `testio-assets sync --start-over` sets the old files aside.
"""

from __future__ import annotations

from dataclasses import dataclass

from duckdb import DuckDBPyConnection

from testio_assets.store.sql import run

TABLE = "store_source"


class SourceMismatch(RuntimeError):
    """The database holds another source's data (the message names both)."""


@dataclass(frozen=True)
class Source:
    """Where the data comes from: `kind` is `api` or `simulator`; `name` says which."""

    kind: str
    name: str

    @classmethod
    def api(cls, base_url: str) -> Source:
        return cls("api", base_url.rstrip("/"))

    @classmethod
    def simulator(cls, profile: str, seed: int) -> Source:
        return cls("simulator", f"profile {profile}, seed {seed}")

    def __str__(self) -> str:
        if self.kind == "api":
            return f"the Test IO API at {self.name}"
        return f"the built-in simulator ({self.name})"

    def encode(self) -> str:
        return f"{self.kind}:{self.name}"

    @classmethod
    def decode(cls, text: str) -> Source:
        kind, _, name = text.partition(":")
        return cls(kind, name)


def recorded_source(conn: DuckDBPyConnection) -> Source | None:
    """The source the database was first synced from, or None (none yet)."""
    exists = conn.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = ? AND NOT temporary", [TABLE]
    ).fetchall()[0][0]
    if not exists:
        return None
    rows = conn.execute(f"SELECT kind, name FROM {TABLE} LIMIT 1").fetchall()
    return Source(str(rows[0][0]), str(rows[0][1])) if rows else None


def check_source(conn: DuckDBPyConnection, source: Source | None, path: str) -> bool:
    """Whether the database already names `source` (None: not checked); refuse another.

    Raises:
        SourceMismatch: naming the file, what it holds and what this sync reads.
    """
    found = recorded_source(conn)
    if source is None or found == source:
        return found is not None
    if found is not None:
        raise SourceMismatch(
            f"{path} holds data from {found}; this sync reads {source}. Nothing was "
            "written. Use another TESTIO_DUCKDB_PATH, or start over with `testio-assets "
            "sync --start-over` (the old file is kept beside it)."
        )
    return False


def record_source(conn: DuckDBPyConnection, source: Source) -> None:
    """Name `source` as the database's (inside the first write's transaction)."""
    run(conn, f"CREATE TABLE IF NOT EXISTS {TABLE} (kind VARCHAR, name VARCHAR, since TIMESTAMPTZ)")
    run(conn, f"DELETE FROM {TABLE}")
    run(conn, f"INSERT INTO {TABLE} VALUES (?, ?, now())", [source.kind, source.name])
