"""Processes that sync run without pandas.

pandas is installed for the DataFrames users ask for (`defs/frames.py`), and libraries
load it whenever they can: pyarrow at its first conversion of a Python list, DuckDB at
every statement with parameters while it is not loaded. That is 107 MiB (pandas 3) in the
sync, its parse worker and every run worker, for a library nothing there uses. While
`without_pandas()` is in force, `import pandas` fails in this process, and both libraries
go on without it (pyarrow remembers it as missing; DuckDB asks again later). The product
and catalogue steps run in it, the parse worker for its whole life. Outside it everything
imports pandas as usual: DuckDB's `.df()`, user code. (pyarrow, having looked once, keeps
`Table.to_pandas()` unavailable in such a process; DuckDB's `.df()` is unaffected.)
"""

from __future__ import annotations

import importlib.abc
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.machinery import ModuleSpec
from types import ModuleType


class _NoPandas(importlib.abc.MetaPathFinder):
    def find_spec(
        self, name: str, path: object = None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if name == "pandas" or name.startswith("pandas."):
            raise ImportError(
                "pandas is not loaded while the pipeline syncs (testio_assets/lean.py)"
            )
        return None


@contextmanager
def without_pandas() -> Iterator[None]:
    """`import pandas` fails within the block, unless pandas is loaded already."""
    if "pandas" in sys.modules:
        yield
        return
    blocker = _NoPandas()
    sys.meta_path.insert(0, blocker)
    try:
        yield
    finally:
        sys.meta_path.remove(blocker)


def never_pandas() -> None:
    """For a process that only syncs (the parse worker): `import pandas` fails for good."""
    if "pandas" not in sys.modules:
        sys.meta_path.insert(0, _NoPandas())
