"""`testio-assets sql`: read-only SQL against what the pipeline published.

The statement runs on a read-only connection to the store readers use (the published
DuckDB file, or the DuckLake), so it never waits for a sync and never blocks one. Only
statements that read are accepted (SELECT, WITH, DESCRIBE, SHOW, EXPLAIN, SUMMARIZE,
FROM-first queries); anything else is refused before it runs. Output: a table, or with
`--json` a JSON array of objects keyed by column name, or `--csv`.
"""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import io
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import duckdb
from tabulate import tabulate

# DuckDB parses DESCRIBE, SHOW, SUMMARIZE and FROM-first queries as SELECTs.
READING = {duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN}


class RefusedStatement(ValueError):
    """The statement would write (or is not one statement): refused, nothing ran."""


@dataclass(frozen=True)
class Answer:
    columns: list[str]
    rows: list[tuple[Any, ...]]


def check_read_only(conn: duckdb.DuckDBPyConnection, sql: str) -> None:
    """Refuse anything but one statement that reads.

    Raises:
        RefusedStatement: naming the statement's type.
    """
    try:
        statements = conn.extract_statements(sql)
    except duckdb.Error as exc:
        raise RefusedStatement(f"not valid SQL: {_first_line(exc)}") from None
    if len(statements) != 1:
        raise RefusedStatement(f"give one statement, not {len(statements)}")
    kind = statements[0].type
    if kind in READING:
        return
    raise RefusedStatement(
        f"{kind.name} statements are refused: `testio-assets sql` only reads (the data is "
        "the pipeline's; change it upstream or in a copy)"
    )


def run_query(conn: duckdb.DuckDBPyConnection, sql: str) -> Answer:
    """Run one reading statement.

    Raises:
        RefusedStatement: it would write.
        duckdb.Error: DuckDB refused it (the message says why).
    """
    check_read_only(conn, sql)
    cursor = conn.execute(sql)
    columns = [column[0] for column in cursor.description or []]
    return Answer(columns, cursor.fetchall())


def render(answer: Answer, output: str) -> str:
    """`table`, `json` or `csv`."""
    if output == "json":
        records = [dict(zip(answer.columns, row, strict=True)) for row in answer.rows]
        return json.dumps(records, default=_json_value, indent=2, ensure_ascii=False)
    if output == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(answer.columns)
        writer.writerows([_csv_value(value) for value in row] for row in answer.rows)
        return buffer.getvalue().rstrip("\n")
    shown = [[_cell(value) for value in row] for row in answer.rows]
    table = tabulate(shown, headers=answer.columns, tablefmt="simple", disable_numparse=True)
    return f"{table}\n({len(answer.rows)} row{'s' if len(answer.rows) != 1 else ''})"


def _json_value(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, uuid.UUID | dt.timedelta):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    raise TypeError(f"{type(value).__name__} is not JSON")


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, list | dict | tuple):
        return json.dumps(value, default=_json_value, ensure_ascii=False)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, Sequence | dict) and not isinstance(value, str):
        return json.dumps(value, default=_json_value, ensure_ascii=False)
    return str(value)


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
