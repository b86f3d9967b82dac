#!/usr/bin/env bash
# Quick start 2: set up, lint, and run the whole test suite (plus the reduced benchmark).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/python -m pytest "$@"
