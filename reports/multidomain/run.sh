#!/usr/bin/env bash
# Held-out evaluation of a scorer on every task family, on answers shared between scorers.
#
#   bash reports/multidomain/run.sh SCORER NAME [FAMILY...]
#
# For each family: 60 held-out questions (LIMIT) (facts, fact-choice: the test fifth; the generated
# families and synthetic: task seed 1, which the training labels (seed 0) never saw), the
# embedded generator's greedy answers plus 4 samples each (within-question ranking), bootstrap
# intervals. The answers are generated once into reports/multidomain/answers/FAMILY.jsonl and
# reused by every later scorer (`guardrail eval --answers`), so that scorers are compared on
# the same answers. Reports: reports/multidomain/NAME-FAMILY.{json,md}.
set -euo pipefail
cd "$(dirname "$0")/../.."
SCORER=$1
NAME=$2
shift 2
FAMILIES=${*:-facts fact-choice table-lookup unit-conversion synthetic}
GUARDRAIL=${GUARDRAIL:-.venv/bin/guardrail}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} MKL_NUM_THREADS=${OMP_NUM_THREADS:-1}
OUT=reports/multidomain
mkdir -p "$OUT/answers"
COMMON=(--generator builtin:smollm2-135m-instruct --limit "${LIMIT:-60}" --self-consistency 4
  --bootstrap 500 --bci-widths 0 --no-p-true --no-verbalized --strategies paragraph --seed 1
  --quiet)
for family in $FAMILIES; do
  case $family in
    facts | fact-choice) select=(--split test --max-new-tokens 96) ;;
    synthetic) select=(--difficulties 1 2 --max-new-tokens 128) ;;
    *) select=(--difficulties 1 2 --max-new-tokens 96) ;;
  esac
  echo "== $(date -u +%H:%M:%S) $NAME on $family"
  "$GUARDRAIL" eval --scorer "$SCORER" --task "$family" "${select[@]}" "${COMMON[@]}" \
    --answers "$OUT/answers/$family.jsonl" --json "$OUT/$NAME-$family.json" >/dev/null
  python3 -c "import json,sys; print(json.dumps(json.load(open(sys.argv[1]))['summary']))" \
    "$OUT/$NAME-$family.json"
done
