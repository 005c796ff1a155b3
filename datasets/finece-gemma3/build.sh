#!/usr/bin/env bash
# Monte Carlo labels of a second generator, Gemma 3 270M (base), for issue 12, resumable.
#
#   bash datasets/finece-gemma3/build.sh [FAMILY...] [-- STEP...]
#
# Same settings as datasets/finece-multidomain (k = 8 at T = 0.7, one process level, at most
# 3 clusters), generator `builtin:gemma3-270m` (few-shot text, no chat template). Each family
# grows in steps of questions (default 20 40 80 120 160) so that a stopped run leaves every
# family with labels; re-running continues where it stopped. One torch thread.
set -euo pipefail
cd "$(dirname "$0")/../.."
FAMILIES=()
while [[ $# -gt 0 && $1 != -- ]]; do FAMILIES+=("$1"); shift; done
[[ ${1:-} == -- ]] && shift
[[ ${#FAMILIES[@]} -eq 0 ]] && FAMILIES=(facts unit-conversion table-lookup)
STEPS=${*:-20 40 80 120 160}
OUT=datasets/finece-gemma3
GUARDRAIL=${GUARDRAIL:-.venv/bin/guardrail}
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
COMMON=(--generator builtin:gemma3-270m --k 8 --levels 1 --max-clusters 3 --seed 0 --no-progress)

for limit in $STEPS; do
  for family in "${FAMILIES[@]}"; do
    case $family in
      facts | fact-choice) extra=(--split train) ;;
      *) extra=(--difficulty 1,2 --task-seed 0) ;;
    esac
    echo "== $(date -u +%H:%M:%S) $family up to $limit questions"
    "$GUARDRAIL" data build --task "$family" --limit "$limit" "${COMMON[@]}" "${extra[@]}" \
      --out "$OUT/$family-train.jsonl" | tail -n 12
  done
done
