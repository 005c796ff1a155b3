#!/usr/bin/env bash
# Cross-generator table and learning curve (issue 12): can a small local scorer judge another
# model, and how many of that model's labels does it need?
#
#   bash reports/cross-generator/run.sh train     # scorers on Gemma's labels, nested sizes
#   bash reports/cross-generator/run.sh eval      # every scorer on the same Gemma answers
#   bash reports/cross-generator/run.sh table     # reports/cross-generator/table.{json,md}
#
# The generator judged is Gemma 3 270M (builtin:gemma3-270m); its labels come from
# datasets/finece-gemma3/build.sh. Scorers: the shipped SmolLM2-trained scorer, the multi-domain
# SmolLM2-trained one (artifacts/finece-smollm2-v3, see reports/multidomain/scorer-v3/
# REPRODUCE.md), the hybrid scorer with its shipped Gemma combiner, and scorers trained on N of
# Gemma's labelled questions (a seeded nested sample; SIZES below, `all` = every built question),
# all LoRA r=8 on SmolLM2-135M-Instruct. Each eval
# reuses the Gemma answers in reports/cross-generator/answers/ (`guardrail eval --answers`), so
# every scorer and the logprob baselines are measured on the same answers.
set -euo pipefail
cd "$(dirname "$0")/../.."
STEP=${1:?train, eval or table}
GUARDRAIL=${GUARDRAIL:-.venv/bin/guardrail}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} MKL_NUM_THREADS=${OMP_NUM_THREADS:-1}
OUT=reports/cross-generator
SIZES=${SIZES:-50 100 all}
# Every size trains for the same number of steps (a fixed compute budget, so that the curve
# varies the labels only); at one epoch the 15- and 30-question scorers of stop 11 (24 and 44
# steps) had not left their constant output.
MAX_STEPS=${MAX_STEPS:-240}
FAMILIES=${FAMILIES:-facts unit-conversion}
LABELS=(datasets/finece-gemma3/*-train.jsonl)
SCORERS=${SCORERS:-"builtin:finece-smollm2 artifacts/finece-smollm2-v3 hybrid:builtin:finece-smollm2 $(for n in $SIZES; do echo artifacts/finece-gemma3-$n; done)"}

case $STEP in
  train)
    for n in $SIZES; do
      limit=()
      [[ $n != all ]] && limit=(--max-questions "$n")
      echo "== $(date -u +%H:%M:%S) scorer on $n Gemma questions"
      "$GUARDRAIL" train --data "${LABELS[@]}" --out "artifacts/finece-gemma3-$n" "${limit[@]}" \
        --epochs 100 --max-steps "$MAX_STEPS" --batch-size 8 --lr 3e-4 --lora-r 8 --dev-fraction 0.15 \
        --checkpoint-every 20 \
        --max-length 512 --kind-weights question=2,process=2,outcome=0.3 2>&1 | tail -n 2
    done
    ;;
  eval)
    mkdir -p "$OUT/answers"
    for family in $FAMILIES; do
      case $family in
        facts | fact-choice) select=(--split test) ;;
        *) select=(--difficulties 1 2) ;;
      esac
      for scorer in $SCORERS; do
        name=${scorer#builtin:}
        name=$(basename "${name/hybrid:builtin:/hybrid-}")
        echo "== $(date -u +%H:%M:%S) $name on Gemma's $family answers"
        "$GUARDRAIL" eval --scorer "$scorer" --generator builtin:gemma3-270m --task "$family" \
          "${select[@]}" --limit 30 --self-consistency 4 --bootstrap 500 --bci-widths 0 \
          --no-p-true --no-verbalized --strategies paragraph --max-new-tokens 96 --seed 1 --quiet \
          --answers "$OUT/answers/$family.jsonl" --json "$OUT/$name-$family.json" >/dev/null
      done
    done
    ;;
  table)
    .venv/bin/python -m guardrail.lab.evaluation.families "$OUT"/*-*.json --json "$OUT/table.json" \
      --markdown "$OUT/table.md"
    ;;
  *) echo "unknown step $STEP" >&2; exit 2 ;;
esac
