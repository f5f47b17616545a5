#!/usr/bin/env bash
# Runs the launcher's end-to-end test (npm start's whole stack training a tiny policy) N times in a
# row and counts passes and failures; each run's output is kept in OUT_DIR/run-<i>.log.
# Usage: tools/launcher/scripts/repeat-e2e.sh [N=20] [OUT_DIR=tmp/repeat-e2e-<date-time>]
set -u
cd "$(dirname "$0")/../../.."
n="${1:-20}"
out="${2:-tmp/repeat-e2e-$(date +%Y%m%d-%H%M%S)}"
mkdir -p "$out"
pass=0
fail=0
for i in $(seq 1 "$n"); do
  start=$(date +%s)
  if node --import tsx --test tools/launcher/src/e2e.test.ts >"$out/run-$i.log" 2>&1; then
    pass=$((pass + 1)); result=pass
  else
    fail=$((fail + 1)); result=FAIL
  fi
  echo "run $i/$n: $result ($(( $(date +%s) - start )) s)  passed $pass, failed $fail" | tee -a "$out/summary.txt"
done
echo "e2e: $pass of $n passed, $fail failed (logs in $out)" | tee -a "$out/summary.txt"
[ "$fail" -eq 0 ]
