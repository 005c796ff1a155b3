"""Bounded work per checkpoint: the previous algorithm and the current one, measured in one run.

    OMP_NUM_THREADS=1 python bench/bounded_work.py [--json] [--skip-model]

Every figure is a ratio of two timings taken in this run, on this machine, with one torch
thread (a shared CPU makes absolute times noisy; the ratios are the result):

* ``one_estimate``: the input of one estimate on a 5 MB answer (embedded tokenizer): the whole
  answer tokenized (before) vs its character window (now); time and the peak memory each adds
  to a fresh process.
* ``stream_tokenization``: a 500 kB answer of 29k lines streamed line by line, a checkpoint
  every 256 lines: the whole answer re-tokenized at each checkpoint (before) vs only the new
  text and a seam (now).
* ``score_cli``: ``guardrail score``'s positions (question, ``--checkpoints`` line ends, outcome)
  on the same answer with the embedded scorer at ``--max-input-tokens``: the previous session
  (whole-answer tokenization, stale cache slots of a moved window kept in the pass) vs now.
  Each estimate still reads a whole window, so this part is bounded below by one forward pass
  of ``max_input_tokens`` tokens per checkpoint whose window moved.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import subprocess
import sys
import time
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

MODEL = "builtin:finece-smollm2"
QUESTION = "A ledger lists one step per line. What is the running total at the end?"
WORDS = ("the", "of", "total", "step", "we", "add", "so", "then", "carry", "sum", "is")


def answer_text(chars: int, seed: int = 0) -> str:
    """Short lines (about 17 characters, as in the 29k-line report) up to ``chars``."""
    rng = random.Random(seed)
    lines: list[str] = []
    size = 0
    while size < chars:
        line = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 5)))
        lines.append(line)
        size += len(line) + 1
    return "\n".join(lines)[:chars]


def _tokens() -> Any:
    from guardrail.scorers.remote.tokens import PromptTokens, load_tokenizer

    return PromptTokens.for_tokenizer(load_tokenizer(MODEL))


def _whole_answer_ids(prompt: Any, question: str, answer: str, bound: int) -> list[int]:
    """The previous one-estimate input: the whole answer tokenized, then its window kept."""
    from guardrail.scorers.prompt import answer_window

    q_ids, _ = prompt.bounded_question_ids(question, bound // 2)
    a_ids = prompt.answer_ids(answer)
    suffix = prompt.suffix_ids()
    drop = answer_window(len(a_ids), bound - len(q_ids) - len(suffix))
    return [*q_ids, *a_ids[drop:], *suffix]


def _one_estimate_child(mode: str, chars: int) -> None:
    """Run in a fresh process: build one input, print seconds and the peak memory it added."""
    prompt = _tokens().prompt
    answer = answer_text(chars)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    if mode == "before":
        ids = _whole_answer_ids(prompt, QUESTION, answer, 4096)
    else:
        ids = prompt.bounded_ids(QUESTION, answer, 4096)[0]
    seconds = time.perf_counter() - started
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base
    print(json.dumps({"seconds": seconds, "peak_mb": grown / 1024, "ids": len(ids)}))


def bench_one_estimate(chars: int) -> dict[str, Any]:
    runs = {}
    for mode in ("before", "now"):
        out = subprocess.run(
            [sys.executable, __file__, "--child", mode, "--chars", str(chars)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        runs[mode] = json.loads(out.strip().splitlines()[-1])
    assert runs["before"]["ids"] == runs["now"]["ids"] or runs["now"]["ids"] <= 4096
    return {
        "answer_chars": chars,
        "before": runs["before"],
        "now": runs["now"],
        "time_ratio": runs["before"]["seconds"] / runs["now"]["seconds"],
        # ru_maxrss is a peak: "now" often stays under what loading the tokenizer reached
        "memory_ratio": (
            runs["before"]["peak_mb"] / runs["now"]["peak_mb"]
            if runs["now"]["peak_mb"] >= 1.0
            else f"now adds under 1 MB to the peak (before {runs['before']['peak_mb']:.0f} MB)"
        ),
    }


def bench_stream_tokenization(answer: str, every: int) -> dict[str, Any]:
    from guardrail.scorers.answer_tokens import AnswerTokens

    prompt = _tokens().prompt
    lines = answer.splitlines(keepends=True)
    started = time.perf_counter()
    text = ""
    for index, line in enumerate(lines):
        text += line
        if index % every == every - 1:
            prompt.answer_ids(text)
    before = time.perf_counter() - started
    stream = AnswerTokens(prompt.encoder, 4096)
    started = time.perf_counter()
    for index, line in enumerate(lines):
        stream.append(line)
        if index % every == every - 1:
            stream.window()
    now = time.perf_counter() - started
    return {
        "answer_chars": len(answer),
        "lines": len(lines),
        "checkpoints": len(lines) // every,
        "before_s": before,
        "now_s": now,
        "ratio": before / now,
        "full_window_tokenizations": stream.full_encodes,
    }


def _previous_session(monkeypatch: list[tuple[Any, str, Any]]) -> None:
    """Re-enact the previous session: whole-answer ids at every step, no eager compaction."""
    from guardrail.scorers.answer_tokens import AnswerTokens, TokenWindow
    from guardrail.scorers.streams import StreamBatch

    class WholeAnswer(AnswerTokens):
        def __init__(self, prompt: Any, bound: int) -> None:
            super().__init__(prompt.encoder, bound)
            self._prompt = prompt
            self._bound = bound

        def window(self) -> TokenWindow:
            text = self.text
            ids = self._prompt.answer_ids(text)
            return TokenWindow(ids=ids, start=0, window_chars=len(text), max_input_tokens=0)

    def new_answer(self: Any) -> AnswerTokens:
        return WholeAnswer(self._scorer.prompt, self._scorer.max_input_tokens)

    compact = StreamBatch._compact

    def lazy_compact(self: Any, *, eager: bool = False) -> None:
        compact(self)

    for name, value in (("_new_answer", new_answer), ("_compact", lazy_compact)):
        monkeypatch.append((StreamBatch, name, getattr(StreamBatch, name)))
        setattr(StreamBatch, name, value)


def bench_score_cli(answer: str, bound: int, checkpoints: int) -> dict[str, Any]:
    import torch

    from guardrail.cli.score import positions
    from guardrail.scorers.finece import FineCEScorer

    torch.set_num_threads(1)
    scorer = FineCEScorer.from_ref(MODEL, device="cpu", max_input_tokens=bound)
    patched: list[tuple[Any, str, Any]] = []
    _previous_session(patched)
    started = time.perf_counter()
    before_rows = positions(QUESTION, answer, scorer, checkpoints)
    before = time.perf_counter() - started
    for owner, name, value in patched:
        setattr(owner, name, value)
    started = time.perf_counter()
    now_rows = positions(QUESTION, answer, scorer, checkpoints)
    now = time.perf_counter() - started
    gap = max(
        abs(a["confidence"] - b["confidence"]) for a, b in zip(before_rows, now_rows, strict=True)
    )
    return {
        "answer_chars": len(answer),
        "lines": answer.count("\n") + 1,
        "max_input_tokens": bound,
        "estimates": len(now_rows),
        "before_s": before,
        "now_s": now,
        "ratio": before / now,
        "now_s_per_estimate": now / len(now_rows),
        # past the character window the token window's quarter steps are counted from the
        # window's start, not the answer's: both keep the most recent tokens, a few more or less
        "max_confidence_gap": gap,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--skip-model", action="store_true", help="tokenization parts only")
    parser.add_argument("--cli-only", action="store_true", help="the score_cli part only")
    parser.add_argument("--max-input-tokens", type=int, default=1024)
    parser.add_argument("--checkpoints", type=int, default=8)
    parser.add_argument("--child", choices=["before", "now"], help=argparse.SUPPRESS)
    parser.add_argument("--chars", type=int, default=5_000_000, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _one_estimate_child(args.child, args.chars)
        return
    report: dict[str, Any] = {
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}",
        "torch_threads": 1,
    }
    answer = answer_text(500_000)
    if not args.cli_only:
        report["one_estimate"] = bench_one_estimate(5_000_000)
        report["stream_tokenization"] = bench_stream_tokenization(answer, 256)
    if not args.skip_model:
        report["score_cli"] = bench_score_cli(answer, args.max_input_tokens, args.checkpoints)
    if args.json:
        print(json.dumps(report, indent=2))
        return
    for part, figures in report.items():
        print(f"{part}: {figures}")


if __name__ == "__main__":
    main()
