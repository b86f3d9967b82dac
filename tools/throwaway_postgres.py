"""A throwaway PostgreSQL server for the tests and the benchmark: a new cluster in a temp
dir, on a free loopback port, with a password, stopped and deleted at the end.

It uses the server programs of Debian's `postgresql` package (`initdb`, `pg_ctl` under
/usr/lib/postgresql/<version>/bin); `scripts/test.sh` installs the package when they are
missing. `initdb` and `pg_ctl` refuse to run as root, so as root they run as the
`postgres` user the package creates.
"""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tools.ports import free_loopback_port

USER = "testio"


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server programs on this machine (the message says how to get them)."""


@dataclass(frozen=True)
class ThrowawayPostgres:
    """A running server: `url(db)` is a `postgresql://` URL for a database on it."""

    port: int
    password: str
    bin_dir: Path
    run_as: list[str]

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{USER}:{self.password}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """A new empty database; returns its URL."""
        self._psql(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def _psql(self, sql: str) -> None:
        subprocess.run(
            [str(self.bin_dir / "psql"), self.url(), "-q", "-c", sql],
            check=True,
            capture_output=True,
            env={**os.environ, "PGCONNECT_TIMEOUT": "10"},
        )


def server_bin_dir() -> Path:
    """Where `initdb` and `pg_ctl` are (the newest installed major version).

    Raises:
        PostgresUnavailable: the server programs are not installed.
    """
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4])
    )
    if not found:
        raise PostgresUnavailable(
            "PostgreSQL's server programs are not installed: apt-get install postgresql"
        )
    return Path(found[-1]).parent


@contextmanager
def throwaway_postgres() -> Iterator[ThrowawayPostgres]:
    """Start a new cluster; stop it and delete its files on exit."""
    bin_dir = server_bin_dir()
    run_as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    password = secrets.token_urlsafe(12)
    root = Path(tempfile.mkdtemp(prefix="testio-pg-"))
    data = root / "data"
    pwfile = root / "pw"
    pwfile.write_text(password + "\n")
    if run_as:
        shutil.chown(root, "postgres")
        shutil.chown(pwfile, "postgres")
    port = free_loopback_port()
    pg_ctl = [*run_as, str(bin_dir / "pg_ctl"), "-D", str(data), "-s"]
    try:
        initdb = [str(bin_dir / "initdb"), "-D", str(data), "-U", USER, "--pwfile", str(pwfile)]
        _run([*run_as, *initdb, "-A", "scram-sha-256", "-E", "UTF8", "--no-sync"])
        options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
        _run([*pg_ctl, "-o", options, "-l", str(root / "log"), "-w", "start"])
        yield ThrowawayPostgres(port, password, bin_dir, run_as)
    finally:
        if (data / "postmaster.pid").exists():
            subprocess.run([*pg_ctl, "-m", "immediate", "-w", "stop"], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def _run(command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        program = next(Path(part).name for part in command if part.startswith("/usr/lib"))
        raise RuntimeError(f"{program}: {done.stderr.strip() or done.stdout.strip()}")
