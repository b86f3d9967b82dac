"""Running a statement to completion, and reading its rows as dicts.

DuckDB 2 keeps a statement's result open until it is fetched, and refuses other work on
the connection (registering a staged table, say) meanwhile; `run` always drains it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from duckdb import DuckDBPyConnection


def literal(text: str) -> str:
    """`text` as an SQL string literal, for the statements that take no parameters (ATTACH)."""
    return "'" + text.replace("'", "''") + "'"


def run(
    conn: DuckDBPyConnection,
    sql: str,
    params: Sequence[object] | Mapping[str, object] | None = None,
) -> None:
    """Execute one statement and drain its result."""
    conn.execute(sql, params if params is not None else []).fetchall()


def dict_rows(cursor: DuckDBPyConnection) -> list[dict[str, Any]]:
    """Every row of an executed statement as a dict keyed by column name."""
    names = [column[0] for column in cursor.description or []]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
