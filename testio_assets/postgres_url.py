"""Checking a PostgreSQL URL before Dagster uses it, without ever showing its password."""

from __future__ import annotations

from urllib.parse import urlparse

from testio_assets.settings import SettingsError, redact_url

SETTING = "TESTIO_DAGSTER_POSTGRES_URL"
CONNECT_TIMEOUT_SECONDS = 10
# URLs this process has connected to already: loading the definitions and opening the
# instance both check, and one connection is enough.
_answered: set[str] = set()


def check_postgres(url: str) -> None:
    """Connect once to `url` and disconnect (once per process and URL that answered).

    Raises:
        SettingsError: the server cannot be reached or refuses us; the message names the
            setting, the host and port, the database and the reason, never the password.
    """
    if url in _answered:
        return
    import psycopg2

    parsed = urlparse(url)
    where = f"{parsed.hostname}:{parsed.port or 5432}/{parsed.path.lstrip('/') or '(default)'}"
    try:
        psycopg2.connect(url, connect_timeout=CONNECT_TIMEOUT_SECONDS).close()
    except psycopg2.Error as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        if parsed.password:
            reason = reason.replace(parsed.password, "***")
        raise SettingsError(
            f"{SETTING}={redact_url(url)}: cannot use PostgreSQL at {where}: {reason}"
        ) from None
    _answered.add(url)
