"""Installed size of the guard: the base wheel, ``[langchain]``, and ``[local]`` (torch).

Builds the wheel from the checkout, installs it into fresh virtualenvs (from PyPI; torch from
``/opt/wheels`` where that folder holds the CPU wheel, else the ``local`` row is skipped) and
prints the size of each site-packages, with the ratio to the base install.

    python bench/install_size.py [--json] [--local]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

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
ROOT = Path(__file__).resolve().parents[1]
TORCH = "torch==2.13.0"


def _size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def _install(work: Path, name: str, wheel: Path, extra: str, pre: list[str]) -> int:
    env_dir = work / name
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = str(env_dir / "bin" / "python")
    site_packages = next((env_dir / "lib").glob("python3*/site-packages"))
    baseline = _size(site_packages)
    links = ["--find-links", "/opt/wheels"] if Path("/opt/wheels").is_dir() else []
    for requirement in pre:
        subprocess.run([python, "-m", "pip", "install", "-q", *links, requirement], check=True)
    target = f"{wheel}[{extra}]" if extra else str(wheel)
    subprocess.run([python, "-m", "pip", "install", "-q", *links, target], check=True)
    return _size(site_packages) - baseline


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--local", action="store_true", help="also install [local] (torch)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        subprocess.run(
            [*BUILD_WHEEL, str(work), str(ROOT)],
            check=True,
        )
        (wheel,) = work.glob("finece_guardrail-*.whl")
        rows = {"base": _install(work, "base", wheel, "", [])}
        rows["langchain"] = _install(work, "langchain", wheel, "langchain", [])
        if args.local:
            rows["local"] = _install(work, "local", wheel, "local", [TORCH])
    base = rows["base"]
    result = {
        name: {"mb": round(size / 1e6, 1), "x_base": round(size / base, 2)}
        for name, size in rows.items()
    }
    if args.json:
        print(json.dumps(result))
    else:
        for name, row in result.items():
            print(f"{name:10s} {row['mb']:8.1f} MB  {row['x_base']:6.2f}x base")


if __name__ == "__main__":
    main()
