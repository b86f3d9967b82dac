#!/usr/bin/env bash
# Quick start 2: set up, lint, and run the whole test suite (plus the reduced benchmark).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# Some tests run against a real PostgreSQL server as well as SQLite: tests/conftest.py starts
# a throwaway one with the server programs of Debian's postgresql package, installed here
# when missing (as root, or with sudo). Without them the Postgres tests are skipped, and in
# CI (CI=true) they fail.
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    if [ -z "$sudo" ] || command -v sudo >/dev/null; then
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql >/dev/null
    fi
fi
.venv/bin/ruff check .
.venv/bin/ruff format --check .
# The definitions load the `dg` way (the simulator stands in for a token here).
TESTIO_SIMULATOR=1 .venv/bin/dg check defs
# Three workers on two cores: the suite alone keeps the CPU about half busy (most tests wait
# on loopback HTTP, subprocesses and sensor ticks), so a third worker fills the gaps. Tests
# go one at a time to whichever worker is free, the slow ones first (tests/conftest.py), so
# the longest (the 2-minute soak) starts at once instead of ending the suite alone.
.venv/bin/python -m pytest -n "${TEST_WORKERS:-3}" --dist load --maxschedchunk 1 "$@"
