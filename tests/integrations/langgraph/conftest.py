"""These tests share the LangChain tests' doubles (``tests/integrations/langchain/lc_fakes.py``).

Put that folder on ``sys.path`` (subprocesses inherit it through ``PYTHONPATH``), as pytest does
for the folder of each test module it imports.
"""

from __future__ import annotations

import sys
from pathlib import Path

_FAKES = str(Path(__file__).resolve().parents[2] / "integrations" / "langchain")
if _FAKES not in sys.path:
    sys.path.insert(0, _FAKES)
