#!/usr/bin/env bash
# Serve the default scorer (builtin:finece-smollm2: SmolLM2-135M-Instruct + the FineCE LoRA) on
# SGLang and/or vLLM on a GPU machine, and check it against the in-process scorer.
#
#   bash bench/remote_gpu.sh [sglang|vllm|all]     (default: all)
#
# For each engine it:
#   1. installs the engine into its own virtual environment (.venv-gpu-ENGINE: the engines pin
#      their own CUDA torch) together with this package (`pip install -e .[remote]`);
#   2. starts the server with the exact line `guardrail serve --print-engine-command ENGINE`
#      prints (LoRA adapter served as "finece", float32 so that scores compare to the
#      in-process float32 scorer);
#   3. runs `bench/remote.py --engine ENGINE --url ...`, which checks that every served score
#      equals the in-process scorer's within 1e-3 (exit status 1 otherwise) and measures
#      checkpoints/s and p50/p99 latency at 1, 8 and 32 concurrent streams; on vLLM it also
#      measures the cost of the second prompt that reads the first digit
#      (vllm_two_prompt_cost_ratio: a call with both prompts over one with the tenths prompt);
#   4. writes the JSON to bench/results/remote_gpu_ENGINE.json and stops the server.
# It needs a CUDA GPU and the package registries; it downloads nothing at run time beyond pip.
set -euo pipefail

cd "$(dirname "$0")/.."
ENGINES=${1:-all}
[ "$ENGINES" = all ] && ENGINES="sglang vllm"
PORT=${PORT:-30123}
mkdir -p bench/results

if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi >/dev/null 2>&1; then
    echo "remote_gpu.sh: no CUDA GPU here (nvidia-smi fails); SGLang and vLLM need one" >&2
    exit 2
fi

for ENGINE in $ENGINES; do
    VENV=.venv-gpu-$ENGINE
    if [ ! -x "$VENV/bin/python" ]; then
        python3 -m venv "$VENV"
        case $ENGINE in
            vllm) "$VENV/bin/pip" install -q vllm ;;
            sglang) "$VENV/bin/pip" install -q "sglang[all]" ;;
            *) echo "unknown engine $ENGINE" >&2; exit 2 ;;
        esac
        "$VENV/bin/pip" install -q -e '.[remote]'
    fi
    LAUNCH=$("$VENV/bin/guardrail" serve --print-engine-command "$ENGINE" --dtype float32 --port "$PORT")
    echo "+ $LAUNCH"
    # the launch line names `python`/`vllm`: run them from the engine's environment
    PATH="$PWD/$VENV/bin:$PATH" bash -c "exec $LAUNCH" >"bench/results/remote_gpu_$ENGINE.log" 2>&1 &
    SERVER=$!
    trap 'kill $SERVER 2>/dev/null || true' EXIT
    for _ in $(seq 1 300); do
        curl -sf "http://127.0.0.1:$PORT/health" >/dev/null 2>&1 && break
        kill -0 $SERVER 2>/dev/null || { echo "$ENGINE exited; see its log" >&2; exit 1; }
        sleep 2
    done
    STATUS=0
    "$VENV/bin/python" bench/remote.py --json --engine "$ENGINE" --url "http://127.0.0.1:$PORT" \
        | tee "bench/results/remote_gpu_$ENGINE.json" || STATUS=$?
    kill $SERVER 2>/dev/null || true
    wait $SERVER 2>/dev/null || true
    trap - EXIT
    [ $STATUS -eq 0 ] || { echo "$ENGINE: served scores differ from in-process (see JSON)" >&2; exit $STATUS; }
done
