"""The sync drivers are generated from the async ones; a stale generated file fails here."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("unasync_script", ROOT / "scripts/unasync.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_the_generated_sync_drivers_are_up_to_date(capsys: pytest.CaptureFixture[str]) -> None:
    script = _script()
    assert script.main(["--check"]) == 0, capsys.readouterr().out
    generated = script.outputs()
    assert ROOT / "guardrail/runtime/_sync/drive.py" in generated
    assert ROOT / "integrations/guardrail/integrations/litellm/_sync/opening.py" in generated
    assert ROOT / "integrations/guardrail/integrations/langchain/_sync/calls.py" in generated


def test_a_loop_that_does_more_than_yield_stays_a_loop() -> None:
    script = _script()
    source = (
        "async def arunnable_stream(runnable: object) -> AsyncIterator[int]:\n"
        "    async for chunk in runnable.astream():\n"
        "        yield chunk\n"
        "        await adispatch()\n"
    )
    sync = script.unasync(source, "example.py")
    assert "    for chunk in runnable.stream():\n        yield chunk\n        dispatch()\n" in sync


def test_the_check_names_a_stale_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    script = _script()
    source_dir, target_dir = tmp_path / "_async", tmp_path / "_sync"
    source_dir.mkdir()
    (source_dir / "drive.py").write_text("async def adrive() -> None:\n    await thing()\n")
    monkeypatch.setattr(script, "ROOT", tmp_path)
    monkeypatch.setattr(script, "PAIRS", [(source_dir, target_dir)])
    assert script.main(["--check"]) == 1  # missing
    assert "_sync/drive.py" in capsys.readouterr().out
    assert script.main([]) == 0
    assert "def drive() -> None:\n    thing()\n" in (target_dir / "drive.py").read_text()
    assert script.main(["--check"]) == 0
    (target_dir / "drive.py").write_text("# edited by hand\n")
    assert script.main(["--check"]) == 1
    assert "stale generated sync code: _sync/drive.py" in capsys.readouterr().out


def test_the_rewrite_makes_sync_code() -> None:
    script = _script()
    source = (
        "import asyncio\n"
        "from collections.abc import AsyncIterator, Awaitable, Callable\n\n\n"
        "async def arun_call(sleep: Callable[[float], Awaitable[None]] = asyncio.sleep)"
        " -> AsyncIterator[int]:\n"
        "    value = await asyncio.to_thread(compute, 1)\n"
        "    async for item in adrive(value):\n"
        "        yield item\n"
    )
    sync = script.unasync(source, "example.py")
    code = sync.split("\n", 3)[3]  # after the three header lines
    assert "async" not in code
    assert "await" not in sync
    assert "def run_call(sleep: Callable[[float], None] = time.sleep) -> Iterator[int]:" in sync
    assert "value = compute(1)" in sync
    assert "yield from drive(value)" in sync
    assert "from collections.abc import Callable, Iterator" in sync
