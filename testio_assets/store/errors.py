"""Errors of the store, each naming the file (or catalog) and the reason."""

from __future__ import annotations


class StoreError(RuntimeError):
    """The database cannot be used: names the path and the reason."""
