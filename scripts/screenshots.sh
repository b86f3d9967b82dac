#!/usr/bin/env bash
# Screenshots of the Dagster UI for the docs (docs/images/), from a fresh demo sync.
# Not part of CI. Needs Debian's `chromium` (apt-get install chromium); installs Playwright
# into .venv to click open the Markdown preview (tools/ui_shot.py).
#
#   ./scripts/screenshots.sh            # writes docs/images/*.png
#
# It syncs the demo account (built-in simulator) into a throwaway DAGSTER_HOME and
# DuckDB file, starts the Dagster webserver on a free port on 127.0.0.1, and lets headless
# Chromium photograph the pages below.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
command -v chromium >/dev/null || { echo "needs chromium: apt-get install chromium" >&2; exit 1; }

work="$(mktemp -d)"
trap 'kill "${server:-0}" 2>/dev/null || true; rm -rf "$work"' EXIT
export DAGSTER_HOME="$work/home" TESTIO_DUCKDB_PATH="$work/testio.duckdb"
mkdir -p "$DAGSTER_HOME"
cp dagster_home/dagster.yaml "$DAGSTER_HOME/dagster.yaml"
printf '\nnux:\n  enabled: false\n' >> "$DAGSTER_HOME/dagster.yaml"  # no welcome dialog

.venv/bin/testio-assets sync
port="$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
.venv/bin/dagster-webserver -w workspace.yaml -h 127.0.0.1 -p "$port" > "$work/webserver.log" 2>&1 &
server=$!
for _ in $(seq 120); do
    curl -sf "http://127.0.0.1:$port/server_info" >/dev/null && break
    sleep 1
done

shot() {  # shot NAME PATH: a 1600x1000 screenshot of the UI page PATH
    chromium --headless --no-sandbox --disable-gpu --hide-scrollbars \
        --window-size=1600,1000 --virtual-time-budget=20000 \
        --screenshot="docs/images/$1.png" "http://127.0.0.1:$port$2" 2>/dev/null
    echo "docs/images/$1.png"
}
shot tests-checks "/assets/tests?view=checks"
shot features-checks "/assets/features?view=checks"
.venv/bin/python -c 'import playwright' 2>/dev/null || .venv/bin/pip install --quiet playwright
preview() {  # preview NAME PATH: PATH with its "[Show Markdown]" preview opened
    .venv/bin/python -m tools.ui_shot "http://127.0.0.1:$port$2" "docs/images/$1.png" "[Show Markdown]"
    echo "docs/images/$1.png"
}
preview analytics-preview "/assets/product_quality_summary?view=partitions&partition=1002"
preview feature-quality-preview "/assets/feature_quality?view=partitions&partition=1001"
for page in "$@"; do shot "$(echo "$page" | tr '/?=&' '____')" "$page"; done
