#!/usr/bin/env bash
# The embedded generator's hybrid combiner for the shipped scorer, resumable step by step.
#
#   bash reports/hybrid/run.sh fit          # fit it (answers the shipped scorer never trained on)
#   bash reports/hybrid/run.sh eval FAMILY  # held-out report of hybrid:builtin:finece-smollm2
#   bash reports/hybrid/run.sh gemma        # the combiner for Gemma 3 270M's answers
#
# fit: graded answers = the Monte Carlo outcome labels of the four families of
# datasets/finece-multidomain (the shipped scorer was trained on synthetic arithmetic only) plus
# the shipped scorer's own dev questions (reports/hybrid/dev_labels.py), a seeded sample of
# MAX_ANSWERS (default 1500); logprobs recomputed with the embedded generator. The combiner is
# written into the artifact (guardrail/_artifacts/finece-smollm2/hybrid/), so that
# hybrid:builtin:finece-smollm2 ships with it. eval: reports/multidomain/run.sh on the cached
# answers of that family (the same answers as the shipped and candidate scorers' reports).
set -euo pipefail
cd "$(dirname "$0")/../.."
GUARDRAIL=${GUARDRAIL:-.venv/bin/guardrail}
PYTHON=${PYTHON:-.venv/bin/python}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} MKL_NUM_THREADS=${OMP_NUM_THREADS:-1}
ARTIFACT=guardrail/_artifacts/finece-smollm2
case ${1:-fit} in
  fit)
    mkdir -p reports/hybrid/data
    "$PYTHON" reports/hybrid/dev_labels.py "$ARTIFACT" reports/hybrid/data/synthetic-dev.jsonl
    "$GUARDRAIL" calibrate --scorer hybrid:builtin:finece-smollm2 \
      --data datasets/finece-multidomain/{facts,fact-choice,table-lookup,unit-conversion}-train.jsonl \
      reports/hybrid/data/synthetic-dev.jsonl \
      --max-answers "${MAX_ANSWERS:-1500}" --seed 0 --device cpu \
      --features-out reports/hybrid/features.jsonl \
      --out "$ARTIFACT/hybrid/smollm2-135m-instruct.json"
    ;;
  gemma)
    # Gemma's Monte Carlo labels (datasets/finece-gemma3, train questions; the held-out Gemma
    # answers of reports/cross-generator are test questions), logprobs recomputed with Gemma
    "$GUARDRAIL" calibrate --scorer hybrid:builtin:finece-smollm2 \
      --data datasets/finece-gemma3/facts-train.jsonl \
      --max-answers "${MAX_ANSWERS:-600}" --seed 0 --device cpu \
      --features-out reports/hybrid/features-gemma3-facts.jsonl \
      --out "$ARTIFACT/hybrid/gemma3-270m.json"
    ;;
  eval)
    shift
    bash reports/multidomain/run.sh hybrid:builtin:finece-smollm2 hybrid "$@"
    ;;
  *) echo "usage: run.sh fit | eval FAMILY..." >&2; exit 2 ;;
esac
