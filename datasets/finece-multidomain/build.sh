#!/usr/bin/env bash
# Monte Carlo labels of the embedded model on the new task families (issue 11), resumable.
#
#   bash datasets/finece-multidomain/build.sh [GROUP] [STEP...]
#
# GROUP is `facts` (facts, fact-choice), `generated` (table-lookup, unit-conversion) or `all`.
# Each family grows in steps of questions (default 40 80 120 160), so that a stopped run leaves
# every family with labels; re-running the same command continues where it stopped (a killed
# question is rebuilt). One torch thread: the machine's two cores are shared.
set -euo pipefail
cd "$(dirname "$0")/../.."
GROUP=${1:-all}
shift || true
STEPS=${*:-40 80 120 160}
OUT=datasets/finece-multidomain
GUARDRAIL=${GUARDRAIL:-.venv/bin/guardrail}
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
COMMON=(--k 8 --levels 1 --max-clusters 3 --seed 0 --no-progress)

build() {  # family limit extra...
  local family=$1 limit=$2
  shift 2
  echo "== $(date -u +%H:%M:%S) $family up to $limit questions"
  "$GUARDRAIL" data build --task "$family" --limit "$limit" "${COMMON[@]}" "$@" \
    --out "$OUT/$family-train.jsonl" | tail -n 12
}

for limit in $STEPS; do
  if [[ $GROUP == facts || $GROUP == all ]]; then
    build facts "$limit" --split train
    build fact-choice "$limit" --split train
  fi
  if [[ $GROUP == generated || $GROUP == all ]]; then
    build table-lookup "$limit" --difficulty 1,2 --task-seed 0
    build unit-conversion "$limit" --difficulty 1,2 --task-seed 0
  fi
done
