#!/usr/bin/env bash
# Quick start 1: set up, sync the built-in simulator's demo account into demo/testio.duckdb
# (Dagster's history in demo/dagster_home), then start the Dagster UI and daemon on
# http://127.0.0.1:3000. Your own account's database and history are never touched.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/testio-assets demo "$@"
