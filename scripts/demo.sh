#!/usr/bin/env bash
# Quick start 1: set up, sync the demo account from the built-in simulator into
# data/testio.duckdb, then start the Dagster UI and daemon on http://127.0.0.1:3000.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export DAGSTER_HOME="${DAGSTER_HOME:-$PWD/.dagster_home}"
exec .venv/bin/testio-assets demo "$@"
