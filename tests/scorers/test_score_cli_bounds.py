"""``guardrail score`` on a 500 kB answer of 29k lines: bounded tokenization per checkpoint."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

import guardrail.cli as cli
from guardrail.scorers.answer_tokens import CHARS_PER_TOKEN_CAP, AnswerEncoder
from guardrail.scorers.finece import FineCEScorer


def _ledger(lines: int) -> str:
    rng = random.Random(0)
    words = ("the", "total", "step", "add", "so", "then", "carry", "sum")
    return "\n".join(" ".join(rng.choices(words, k=rng.randint(3, 5))) for _ in range(lines))


def test_a_long_many_line_answer_tokenizes_windows_not_the_answer(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    tiny: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(cli, "_COMMAND_MODULES", ("guardrail.cli.score",))
    scorer = FineCEScorer(*tiny, max_input_tokens=700)
    monkeypatch.setattr(FineCEScorer, "from_ref", staticmethod(lambda ref, **kw: scorer))
    seen: list[int] = []
    encode = AnswerEncoder.encode

    def counting(self: AnswerEncoder, text: str) -> Any:
        seen.append(len(text))
        return encode(self, text)

    monkeypatch.setattr(AnswerEncoder, "encode", counting)
    answer = _ledger(29_000)
    assert len(answer) > 400_000
    path = tmp_path / "answer.txt"
    path.write_text(answer, encoding="utf-8")
    code = cli.main(["score", "--question", "Total?", "--answer-file", str(path), "--json"])
    assert code == 0
    rows = json.loads(capsys.readouterr().out)["positions"]
    assert [row["stage"] for row in rows] == ["question"] + ["process"] * 32 + ["outcome"]
    window = CHARS_PER_TOKEN_CAP * scorer.max_input_tokens
    assert max(seen) <= window  # never the whole answer
    assert sum(seen) <= len(rows) * window  # a window per checkpoint at most, not a prefix
