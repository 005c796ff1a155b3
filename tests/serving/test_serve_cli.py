"""``guardrail serve``: engine launch lines and argument errors."""

from __future__ import annotations

import shlex

import pytest

from guardrail.cli import main


@pytest.mark.slow
@pytest.mark.parametrize(
    ("engine", "expected"),
    [
        ("vllm", ["vllm", "serve", "--enable-lora", "--lora-modules", "--max-lora-rank"]),
        ("sglang", ["sglang.launch_server", "--enable-lora", "--lora-paths", "--max-lora-rank"]),
    ],
)
def test_prints_the_engine_launch_line(
    engine: str, expected: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["serve", "--print-engine-command", engine, "--port", "30001"]) == 0
    argv = shlex.split(capsys.readouterr().out)
    for word in expected:
        assert word in argv
    adapter = next(a for a in argv if a.startswith("finece="))
    assert adapter.endswith("finece-smollm2")  # the shipped adapter, served as "finece"
    assert argv[argv.index("--max-lora-rank") + 1] == "8"
    assert argv[argv.index("--port") + 1] == "30001"


def test_a_model_that_is_not_an_adapter_is_refused(
    tmp_path: object, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["serve", "--print-engine-command", "vllm", "--model", "/no/such/model"]) != 0
    assert "model" in capsys.readouterr().err


def test_zero_replicas_is_a_config_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--replicas", "0"]) == 2
    assert "--replicas must be at least 1" in capsys.readouterr().err
