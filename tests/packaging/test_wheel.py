"""The built wheel: one package with both source roots and the presets, a torch-free base.

The wheel is built from the checkout (hatchling, no build isolation); one test installs it with
the ``langchain`` extra into a fresh virtualenv (from PyPI, as a user would) and runs a guarded
LangChain call there with a ``logprob:`` scorer and with ``RemoteScorer``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

BUILD_WHEEL = [
    sys.executable,
    "-m",
    "pip",
    "wheel",
    "--no-deps",
    "--no-build-isolation",
    "-q",
    "-w",
]
ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("torch", "transformers", "peft", "gguf", "accelerate", "safetensors", "scikit-learn")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [*BUILD_WHEEL, str(out), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (built,) = out.glob("finece_guardrail-*.whl")
    return built


def _metadata(wheel: Path) -> tuple[list[str], dict[str, list[str]]]:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        (meta,) = [n for n in names if n.endswith(".dist-info/METADATA")]
        message = Parser().parsestr(archive.read(meta).decode())
    base: list[str] = []
    extras: dict[str, list[str]] = {}
    for requirement in message.get_all("Requires-Dist") or []:
        if "extra ==" in requirement:
            extra = requirement.split("extra ==")[1].strip().strip("'\"")
            extras.setdefault(extra, []).append(requirement)
        else:
            base.append(requirement)
    return names, {"": base, **extras}


def test_the_wheel_merges_the_roots_and_ships_the_presets(wheel: Path) -> None:
    names, _ = _metadata(wheel)
    for expected in (
        "guardrail/__init__.py",
        "guardrail/integrations/langchain/middleware.py",
        "guardrail/integrations/litellm/proxy.py",
        "guardrail/lab/training/trainer.py",
        "guardrail/_presets/default.yaml",
        "guardrail/_presets/policy.schema.json",
        "guardrail/_artifacts/finece-smollm2/finece.json",
        "guardrail/py.typed",
    ):
        assert expected in names, expected
    assert not [n for n in names if n.startswith(("tests/", "integrations/", "policies/"))]
    # each module once: the second root is merged, not copied beside a stale twin
    modules = [n for n in names if n.endswith(".py")]
    assert len(modules) == len(set(modules))


def test_an_editable_install_reads_both_roots_in_place_and_copies_nothing(tmp_path: Path) -> None:
    """The editable wheel is a path file naming the two roots: no module copied beside them.

    A copy in site-packages would be a stale twin that ``pkgutil.extend_path`` puts on
    ``guardrail.__path__`` ahead of the checkout's ``integrations/``.
    """
    code = (
        "import sys; from hatchling.build import build_editable; print(build_editable(sys.argv[1]))"
    )
    subprocess.run([sys.executable, "-c", code, str(tmp_path)], check=True, cwd=ROOT)
    (editable,) = tmp_path.glob("finece_guardrail-*.whl")
    with zipfile.ZipFile(editable) as archive:
        names = archive.namelist()
        (pth,) = [n for n in names if n.endswith(".pth")]
        roots = archive.read(pth).decode().split()
    assert [n for n in names if not n.endswith(".pth") and ".dist-info/" not in n] == []
    assert roots == [str(ROOT), str(ROOT / "integrations")]


def test_the_base_install_has_no_torch_and_the_extras_name_it(wheel: Path) -> None:
    _, requires = _metadata(wheel)
    base = " ".join(requires[""]).lower()
    assert "pydantic" in base
    assert "httpx" in base  # the remote scorer clients are part of the guard
    for heavy in HEAVY:
        assert heavy not in base, heavy
    local = " ".join(requires["local"]).lower()
    assert "torch" in local
    assert "transformers" in local
    assert "langchain" in " ".join(requires["langchain"])
    assert {"lab", "litellm", "proxy", "postgres", "otel", "serve", "all"} <= set(requires)


def test_a_fresh_base_install_guards_a_langchain_call_without_torch(
    wheel: Path, tmp_path: Path
) -> None:
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", f"{wheel}[langchain]"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if install.returncode != 0 and "NewConnectionError" in install.stderr:
        pytest.skip("PyPI is not reachable from this machine: " + install.stderr[-300:])
    assert install.returncode == 0, install.stderr[-2000:]
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    env["GUARDRAIL_CACHE"] = str(tmp_path / "cache")
    run = subprocess.run(
        [str(python), str(Path(__file__).with_name("smoke_base_install.py"))],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,  # not the checkout: the installed wheel, not the source tree, is imported
        env=env,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    report = json.loads(run.stdout.strip().splitlines()[-1])
    assert report["logprob"]["status"] == "ok"
    assert report["logprob"]["text"] == "The answer is 42."
    assert report["logprob"]["checkpoints"] >= 1
    assert report["remote"]["status"] == "ok"
    assert report["remote_requests"] == report["remote"]["checkpoints"] >= 1
    assert "finece-guardrail[local]" in report["local_error"]
