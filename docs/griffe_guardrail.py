"""Griffe extension for the API reference: the second source root and the docstrings' roles.

``guardrail.integrations`` lives in ``integrations/guardrail/integrations`` and joins the
``guardrail`` package at import time through ``pkgutil.extend_path``, which griffe's static
finder does not follow: this extension loads it as a member of ``guardrail`` once the package
is loaded. The docstrings are written with Sphinx roles (``:class:`~guardrail.x.Name```), which
Markdown would print as is; they are rendered as code spans.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import griffe

INTEGRATIONS = Path(__file__).resolve().parent.parent / "integrations/guardrail/integrations"
_ROLE = re.compile(r":(?:class|func|meth|attr|mod|data|exc|obj|const|py:\w+):`~?([^`]+)`")


def plain_roles(text: str) -> str:
    """``text`` with each Sphinx role replaced by a code span of its target's short name."""
    return _ROLE.sub(lambda match: f"``{match.group(1).rsplit('.', 1)[-1]}``", text)


class GuardrailDocs(griffe.Extension):
    """Attach ``guardrail.integrations`` to ``guardrail`` and render Sphinx roles as code."""

    def on_package(self, *, pkg: griffe.Module, loader: griffe.GriffeLoader, **kwargs: Any) -> None:
        """Load the integrations source root as ``guardrail.integrations``."""
        if pkg.name != "guardrail" or "integrations" in pkg.members:
            return
        module = loader._load_module("integrations", INTEGRATIONS / "__init__.py", parent=pkg)
        pkg.set_member("integrations", module)

    def on_package_loaded(
        self, *, pkg: griffe.Module, loader: griffe.GriffeLoader, **kwargs: Any
    ) -> None:
        """The same, under the event's name in griffe releases before ``on_package``."""
        self.on_package(pkg=pkg, loader=loader)

    def on_object(self, *, obj: griffe.Object, loader: griffe.GriffeLoader, **kwargs: Any) -> None:
        """Render the roles of ``obj``'s docstring as code spans."""
        if obj.docstring is not None:
            obj.docstring.value = plain_roles(obj.docstring.value)
