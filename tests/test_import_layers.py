"""Import layers: no circles between modules, and the lower layers never reach up.

Every ``import`` of a ``guardrail`` module counts, wherever it is written (module level, inside a
function, under ``TYPE_CHECKING``): a lazy or type-only import still ties the two modules
together. Shared records move down a layer (``audit/sink.py``, ``evaluation/records.py``, a
protocol in ``scorers/streams.py``) instead.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# The package's two source roots: the core, and ``guardrail.integrations`` in ``integrations/``.
ROOTS = (ROOT / "guardrail", ROOT / "integrations" / "guardrail" / "integrations")
# What only the lab (data, training, evaluation, tasks, fitting) and the commands above it may use.
LAB = "guardrail.lab"
# Everything the guard runs in an agent process: none of it may import the lab.
RUNTIME_SIDE = (
    "guardrail.audit",
    "guardrail.integrations",
    "guardrail.monitor",
    "guardrail.policy",
    "guardrail.review",
    "guardrail.runtime",
    "guardrail.scorers",
    "guardrail.serving",
    "guardrail.storage",
    "guardrail.telemetry",
    "guardrail.triggers",
)

KNOWN_CIRCLES: list[set[str]] = []

# package -> packages (and top-level modules) it must never import, in any way.
# ``ALLOWED`` names the exceptions: a guard signal names the types of the decision and events it
# carries (``TYPE_CHECKING`` imports of record modules that never import ``errors``: the circle
# test keeps it so).
ALLOWED = {"guardrail.errors": {"guardrail.events", "guardrail.policy.decision"}}
FORBIDDEN = {
    "guardrail.errors": {"*"},
    "guardrail.events": {"*"},
    "guardrail.policy": {
        "guardrail.runtime",
        "guardrail.monitor",
        "guardrail.scorers",
        "guardrail.audit",
        "guardrail.review",
        "guardrail.integrations",
        "guardrail.cli",
    },
    "guardrail.triggers": {"guardrail.policy", "guardrail.runtime", "guardrail.scorers"},
    "guardrail.audit": {"guardrail.runtime", "guardrail.integrations", "guardrail.cli"},
    "guardrail.runtime": {
        "guardrail.integrations",
        "guardrail.cli",
        "guardrail.report",
        "guardrail.lab.evaluation",
        "guardrail.lab.training",
        "guardrail.lab.data",
    },
}


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for root in ROOTS:
        for path in root.rglob("*.py"):
            parts = path.relative_to(root.parent).with_suffix("").parts
            prefix = ("guardrail",) if root.name == "integrations" else ()
            found[".".join((*prefix, *parts)).removesuffix(".__init__")] = path
    return found


MODULES = _modules()


def _resolve(name: str) -> str | None:
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _imports(module: str, path: Path) -> Iterator[str]:
    """The guardrail modules ``module`` imports (``from pkg import mod`` resolves to mod)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package
                for _ in range(node.level - 1):
                    anchor = anchor.rpartition(".")[0]
                base = f"{anchor}.{base}" if base else anchor
            targets = [f"{base}.{alias.name}" for alias in node.names] or [base]
            targets = [t if t in MODULES else base for t in targets]
        else:
            continue
        for target in targets:
            resolved = _resolve(target) if target.startswith("guardrail") else None
            if resolved is not None and resolved != module:
                yield resolved


@functools.cache
def _full_graph() -> dict[str, frozenset[str]]:
    """Module (or package ``__init__``) -> the modules and packages it imports."""
    return {name: frozenset(_imports(name, path)) for name, path in MODULES.items()}


def _graph() -> dict[str, set[str]]:
    """Module -> modules it imports, without packages: an ``__init__`` that re-exports its
    modules would otherwise close a circle with every module that imports the package."""
    packages = {name for name, path in MODULES.items() if path.name == "__init__.py"}
    return {
        name: {t for t in targets if t not in packages}
        for name, targets in _full_graph().items()
        if name not in packages
    }


def _circles(graph: dict[str, set[str]]) -> list[set[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in graph:
                continue
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(component)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_scan_sees_the_package() -> None:
    assert not [path for root in ROOTS for path in root.rglob("*") if path.is_symlink()]
    assert "guardrail.integrations.langchain.handler" in MODULES  # the second root
    assert "guardrail.runtime" in _full_graph()["guardrail.integrations.langchain.handler"]
    imported = _full_graph()["guardrail.runtime.watch"]
    assert "guardrail.policy" in imported  # from guardrail.policy import Decision, ...
    assert "guardrail.monitor" in imported
    assert "guardrail.audit.sink" in imported  # a TYPE_CHECKING import


def test_no_import_circles() -> None:
    circles = [c for c in _circles(_graph()) if c not in KNOWN_CIRCLES]
    assert circles == [], "modules that import each other: " + "; ".join(
        " <-> ".join(sorted(c)) for c in circles
    )


def test_the_circle_detector_finds_a_circle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _circles(graph) == [{"a", "b", "c"}]


@pytest.mark.parametrize("lower", sorted(FORBIDDEN))
def test_lower_layers_do_not_import_upper_ones(lower: str) -> None:
    forbidden = FORBIDDEN[lower]
    graph = _full_graph()
    offending = sorted(
        f"{module} -> {target}"
        for module, targets in graph.items()
        if module == lower or module.startswith(lower + ".")
        for target in targets
        if not (target == lower or target.startswith(lower + "."))
        and target not in ALLOWED.get(module, set())
        and ("*" in forbidden or any(target == f or target.startswith(f + ".") for f in forbidden))
    )
    assert offending == []
