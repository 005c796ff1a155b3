"""Shared fixtures: a tiny random Llama for unit tests, the embedded model for slow tests."""

from __future__ import annotations

import gc
import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

EMBEDDED = "builtin:smollm2-135m-instruct"

CliRun = Callable[..., tuple[int, str, str]]
"""``run(*argv) -> (exit code, stdout, stderr)`` of the ``guardrail`` command line."""


@pytest.fixture
def cli_for(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Callable[..., CliRun]:
    """``cli_for("guardrail.cli.review", ...)``: the CLI with only those command modules."""
    import guardrail.cli

    def make(*modules: str) -> CliRun:
        monkeypatch.setattr(guardrail.cli, "_COMMAND_MODULES", modules)

        def run(*argv: str) -> tuple[int, str, str]:
            code = guardrail.cli.main(list(argv))
            out, err = capsys.readouterr()
            return code, out, err

        return run

    return make


@pytest.fixture(scope="module", autouse=True)
def _collect_garbage_per_module() -> Iterator[None]:
    """Collect each module's garbage as it ends.

    A socket or file a module leaked then warns (an error, under ``filterwarnings = error``) in
    that module's last teardown, instead of in whichever later test triggers a collection.
    """
    yield
    gc.collect()


@pytest.fixture(scope="session")
def tiny() -> tuple[Any, Any]:
    """``(model, tokenizer)`` of a seeded random two-layer Llama."""
    from guardrail.testing.tiny import tiny_llama

    return tiny_llama()


@pytest.fixture(scope="session")
def tiny_scorer(tiny: tuple[Any, Any]) -> Any:
    from guardrail.scorers.finece import FineCEScorer

    model, tokenizer = tiny
    return FineCEScorer(model, tokenizer, name="tiny")


@pytest.fixture(scope="session")
def embedded() -> Any:
    """The real embedded model (SmolLM2-135M-Instruct), loaded once per test session."""
    from guardrail.models import load_model

    return load_model(EMBEDDED)


@pytest.fixture(scope="session")
def embedded_scorer(embedded: Any) -> Any:
    from guardrail.scorers.finece import FineCEScorer

    return FineCEScorer(embedded.model, embedded.tokenizer, name=EMBEDDED)


@pytest.fixture(scope="session")
def postgres_server() -> Any:
    """A PostgreSQL server of the session's own (temporary data dir, loopback port).

    Skips, saying why, only where the server binaries are missing (`make test` installs
    Debian's ``postgresql`` package when run as root).
    """
    pytest.importorskip("psycopg", reason="the postgres extra is not installed")
    from guardrail.testing.postgres import PostgresServer, PostgresUnavailable, find_postgres_bin

    try:
        find_postgres_bin()
    except PostgresUnavailable as exc:
        pytest.skip(str(exc))
    server = PostgresServer.start_new()
    try:
        yield server
    finally:
        server.stop()
        server.remove()


@pytest.fixture
def postgres_url(postgres_server: Any) -> str:
    """The URL of a new, empty database on the session's server."""
    return str(postgres_server.create_database())
