#!/usr/bin/env bash
# A day of automation compressed into MINUTES (default 30): `dg dev -w workspace.yaml` with
# the shipped instance settings on a simulator whose clock runs fast and that fails now and
# then, then the data against the truth. Extra arguments go to `testio-assets soak` (--json
# FILE, --products N, --workdir DIR, --fault-rate R, --seconds-per-day S, --instance KIND).
# Exit status 0 = passed. docs/reliability.md shows a run and its figures.
set -euo pipefail
cd "$(dirname "$0")/.."
minutes="${1:-30}"
shift || true
[ -x .venv/bin/testio-assets ] || bash scripts/setup.sh >/dev/null
exec .venv/bin/testio-assets soak --minutes "$minutes" "$@"
