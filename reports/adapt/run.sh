#!/usr/bin/env bash
# Learning curves of `guardrail adapt` (issue 23, item 4), resumable: one family per step, each
# written to reports/adapt/curve-FAMILY.json (a family already written is skipped unless FORCE=1).
#
#   bash reports/adapt/run.sh [FAMILY...]     # default: every family; log in reports/adapt/run.log
#
# The curves read the committed features and held-out reports only (reports/adapt/curve.py says
# which), so no model runs; `guardrail adapt` itself is timed by bench/adapt_time.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."
PYTHON=${PYTHON:-.venv/bin/python}
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
FAMILIES=${*:-synthetic facts fact-choice table-lookup unit-conversion gemma3-facts}
for family in $FAMILIES; do
  if [[ -f reports/adapt/curve-$family.json && -z ${FORCE:-} ]]; then
    echo "== $(date -u +%H:%M:%S) $family: done already (FORCE=1 redoes it)"
    continue
  fi
  echo "== $(date -u +%H:%M:%S) $family"
  "$PYTHON" reports/adapt/curve.py "$family" --repeats "${REPEATS:-5}" >/dev/null
done
"$PYTHON" reports/adapt/curve.py --table-only
