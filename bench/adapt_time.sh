#!/usr/bin/env bash
# Wall-clock and CPU time of `guardrail adapt` on N short-answer questions of the embedded model
# (issue 23's aim: 150 questions within 30 minutes on the 2-core CPU, labels included).
#
#   bash bench/adapt_time.sh [N] [OUT]      # default 150 facts questions, out /tmp/adapt-time
#
# Runs the command as a user would (one torch thread, --budget-minutes 30) and prints the
# seconds of each step from DIR/adapt.json, the labels built of those asked, and the
# process's CPU time (user + system) beside the wall time: on a shared machine the wall time
# depends on the load, the CPU time much less. Say what else was running when citing it.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-150}
OUT=${2:-/tmp/adapt-time}
GUARDRAIL=${GUARDRAIL:-.venv/bin/guardrail}
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
uptime
/usr/bin/time -f "wall %e s, user %U s, system %S s, max RSS %M kB" \
  "$GUARDRAIL" adapt --generator builtin:smollm2-135m-instruct --task facts --limit "$N" \
  --budget-minutes "${BUDGET_MINUTES:-30}" --out "$OUT" 2> >(grep -v '^\[adapt\] \(features\|labels\|test answers\)' >&2)
uptime
python3 - "$OUT/adapt.json" <<'PY'
import json, sys
data = json.load(open(sys.argv[1]))
print("seconds:", {k: round(v) for k, v in data["seconds"].items()})
print("labels:", data["labels"])
print("notes:", data["notes"])
PY
