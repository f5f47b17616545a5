#!/usr/bin/env bash
# A PNG of a run report as a browser shows it: Debian's Chromium, headless, from disk (the report
# needs no network; Chromium's own background requests are switched off).
#   bash libs/report/scripts/screenshot.sh RUN_DIR/report.html OUT.png [WIDTH] [HEIGHT]
# Needs Debian's chromium (apt-get install chromium).
set -euo pipefail
html=$(realpath "${1:?usage: screenshot.sh REPORT.html OUT.png [WIDTH] [HEIGHT]}")
out=$(realpath -m "${2:?usage: screenshot.sh REPORT.html OUT.png [WIDTH] [HEIGHT]}")
browser=$(command -v chromium || command -v chromium-browser || true)
[ -n "$browser" ] || { echo "screenshot: Chromium is not installed (Debian: apt-get install chromium)" >&2; exit 1; }
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
"$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking \
  --disable-component-update --disable-sync --user-data-dir="$profile" --hide-scrollbars \
  --window-size="${3:-1300},${4:-2400}" --screenshot="$out" "file://$html" 2>/dev/null
echo "screenshot: $out"
