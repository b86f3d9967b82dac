"""How a command's failure reads: one message, and an exit code.

2 is for bad input that the user can fix (a setting, an unknown product, SQL that
writes, a database that holds another account's data), 1 for a failure (the API gave
up, a run failed, the database could not be written). Messages name what failed and
what to check, and never a secret (the API's and the instance's errors mask theirs).
"""

from __future__ import annotations

BAD_INPUT = 2
FAILED = 1

# Error classes (by name, so that this module imports nothing heavy) meaning bad input.
_BAD_INPUT = {
    "SettingsError",
    "InstanceError",
    "SourceMismatch",
    "SyncError",
    "UnknownInput",
    "RefusedStatement",
}


def exit_code_of(exc: BaseException) -> int:
    names = {cls.__name__ for cls in type(exc).__mro__}
    return BAD_INPUT if names & _BAD_INPUT else FAILED


def message_of(exc: BaseException) -> str:
    """The error's own message; for an unexpected one, its type too."""
    text = " ".join(str(exc).split()) if str(exc).strip() else ""
    if exit_code_of(exc) == BAD_INPUT or _ours(exc):
        return text or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _ours(exc: BaseException) -> bool:
    return type(exc).__module__.startswith("testio_assets")
