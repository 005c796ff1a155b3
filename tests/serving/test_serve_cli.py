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


def test_a_short_token_is_a_config_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SERVE_CLI_TOKEN", "guessable")
    assert main(["serve", "--token-env", "SERVE_CLI_TOKEN"]) == 2
    err = capsys.readouterr().err
    assert "at least 16" in err
    assert "guessable" not in err


def test_bad_limits_are_config_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--max-items", "0", "--body-timeout-s", "-1"]) == 2
    err = capsys.readouterr().err
    assert "--max-items" in err
    assert "--body-timeout-s" in err


@pytest.mark.parametrize(
    ("host", "token", "warned"),
    [
        ("0.0.0.0", None, True),
        ("10.1.2.3", None, True),
        ("0.0.0.0", "x" * 20, False),
        ("127.0.0.1", None, False),
        ("localhost", None, False),
    ],
)
def test_binding_beyond_loopback_without_a_token_warns(
    host: str, token: str | None, warned: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    from guardrail.cli.serve import _warn_if_open

    _warn_if_open(host, token, "GUARDRAIL_SERVE_TOKEN")
    err = capsys.readouterr().err
    assert ("without authentication" in err) is warned
    if warned:
        assert "RAY_AUTH_MODE=token" in err
        assert "GUARDRAIL_SERVE_TOKEN" in err
