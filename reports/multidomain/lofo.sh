#!/usr/bin/env bash
# Leave-one-family-out FineCE training (issue 11): does the scorer transfer to a kind of question
# it never saw? Resumable: each training continues from its checkpoint, each evaluation reuses
# the cached answers, so re-running the same command goes on where it stopped.
#
#   bash reports/multidomain/lofo.sh [FAMILY...]     # default: all five
#
# For each FAMILY: a scorer trained with the candidate's settings (reports/multidomain/scorer-v3,
# LoRA r=8 on SmolLM2-135M-Instruct) on every label file except FAMILY's, for MAX_STEPS steps
# (default 240: a fixed budget, so that the five runs are comparable; the in-family candidate
# had 480), into artifacts/lofo-FAMILY; then its held-out report on FAMILY's 60 questions, on
# the same cached answers as every other scorer (reports/multidomain/run.sh):
# reports/multidomain/lofo-FAMILY.json. The table: python -m guardrail.lab.evaluation.families --json
# reports/multidomain/lofo-table.json --markdown reports/multidomain/lofo-table.md \
# reports/multidomain/lofo-{facts,fact-choice,table-lookup,unit-conversion,synthetic}.json
set -euo pipefail
cd "$(dirname "$0")/../.."
GUARDRAIL=${GUARDRAIL:-.venv/bin/guardrail}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} MKL_NUM_THREADS=${OMP_NUM_THREADS:-1}
FAMILIES=${*:-facts fact-choice table-lookup unit-conversion synthetic}
declare -A LABELS=(
  [synthetic]=datasets/finece-smollm2/synthetic-train.jsonl
  [facts]=datasets/finece-multidomain/facts-train.jsonl
  [fact-choice]=datasets/finece-multidomain/fact-choice-train.jsonl
  [table-lookup]=datasets/finece-multidomain/table-lookup-train.jsonl
  [unit-conversion]=datasets/finece-multidomain/unit-conversion-train.jsonl
)
for family in $FAMILIES; do
  [[ -n ${LABELS[$family]:-} ]] || { echo "unknown family $family" >&2; exit 2; }
  data=()
  for other in "${!LABELS[@]}"; do
    [[ $other != "$family" ]] && data+=("${LABELS[$other]}")
  done
  mapfile -t data < <(printf '%s\n' "${data[@]}" | sort)
  echo "== $(date -u +%H:%M:%S) scorer without $family"
  "$GUARDRAIL" train --data "${data[@]}" --out "artifacts/lofo-$family" --epochs 1 \
    --max-steps "${MAX_STEPS:-240}" --batch-size 8 --lr 3e-4 --lora-r 8 --dev-fraction 0.15 \
    --checkpoint-every 20 --max-length 512 --kind-weights question=2,process=2,outcome=0.3 \
    --mixed-weight 2 --adversarial-augment 0.15 2>&1 | tail -n 2
  bash reports/multidomain/run.sh "artifacts/lofo-$family" lofo "$family"
done
