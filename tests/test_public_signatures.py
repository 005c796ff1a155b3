"""``Any`` in the public signatures of the runtime and the integrations: at most 10%.

Walks the source of ``guardrail/runtime/`` and ``integrations/guardrail/integrations/`` with
``ast`` (no import: the adapters' frameworks need not be installed): every public function,
and every public method of a public class, of a public module. A signature "mentions Any"
when a parameter or the return annotation names ``Any`` (``dict[str, Any]`` included).
Generated modules (``_sync``) are the async ones' twins and counted once, as written.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = [ROOT / "guardrail/runtime", ROOT / "integrations/guardrail/integrations"]
MAX_SHARE = 0.10


def _public_modules() -> Iterator[Path]:
    for package in PACKAGES:
        for path in sorted(package.rglob("*.py")):
            parts = path.relative_to(package).parts
            if any(p.startswith("_") and p != "__init__.py" for p in parts):
                continue  # private modules and packages (_async, _sync, _request...)
            yield path


def _signatures(path: Path) -> Iterator[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
    tree = ast.parse(path.read_text(), str(path))
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            if not node.name.startswith("_"):
                yield node.name, node
        elif isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
            for item in node.body:
                is_function = isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef)
                if is_function and (not item.name.startswith("_") or item.name == "__init__"):
                    yield f"{node.name}.{item.name}", item


def _mentions_any(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    args = node.args
    every = [*args.posonlyargs, *args.args, *args.kwonlyargs]
    every += [a for a in (args.vararg, args.kwarg) if a is not None]
    annotations = [a.annotation for a in every if a.annotation is not None]
    if node.returns is not None:
        annotations.append(node.returns)
    for annotation in annotations:
        for sub in ast.walk(annotation):
            if isinstance(sub, ast.Name) and sub.id == "Any":
                return True
            if isinstance(sub, ast.Attribute) and sub.attr == "Any":
                return True
            if isinstance(sub, ast.Constant) and isinstance(sub.value, str) and "Any" in sub.value:
                return True
    return False


def _counts() -> tuple[list[str], list[str]]:
    found: list[str] = []
    with_any: list[str] = []
    for path in _public_modules():
        where = path.relative_to(ROOT)
        for name, node in _signatures(path):
            found.append(f"{where}:{name}")
            if _mentions_any(node):
                with_any.append(f"{where}:{node.lineno}:{name}")
    return found, with_any


def test_any_is_in_at_most_a_tenth_of_the_public_signatures() -> None:
    found, with_any = _counts()
    assert len(found) > 50, f"too few public signatures found ({len(found)}): is the walk right?"
    share = len(with_any) / len(found)
    print(f"Any in {len(with_any)} of {len(found)} public signatures ({share:.1%})")
    assert share <= MAX_SHARE, (
        f"Any in {len(with_any)} of {len(found)} public signatures ({share:.1%} > "
        f"{MAX_SHARE:.0%}): " + ", ".join(with_any)
    )


def test_the_walk_sees_a_signature_with_any() -> None:
    tree = ast.parse("def f(x: dict[str, Any]) -> None: ...\ndef g(x: int) -> int: ...")
    first, second = (node for node in tree.body if isinstance(node, ast.FunctionDef))
    assert _mentions_any(first)
    assert not _mentions_any(second)
