# The two entry points of the README: `make demo` and `make test`. Both set up .venv first.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# torch is pinned and installed first: on the project's CPU machines 2.13.0 is a local CPU wheel,
# whereas an unpinned torch (or one pulled in by another package) resolves to a multi-GB CUDA build.
TORCH  ?= torch==2.13.0
FIND_LINKS := $(if $(wildcard /opt/wheels),--find-links /opt/wheels,)

.PHONY: setup demo test lint typecheck docs unit bench clean browser postgres

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet $(FIND_LINKS) '$(TORCH)'
	$(BIN)/pip install --quiet $(FIND_LINKS) -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/guardrail demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

# The documentation site, built strictly: a broken link, anchor, snippet or API reference fails.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet --site-dir .cache/site

unit: $(STAMP)
	$(BIN)/pytest -m "not slow"

# The report test takes a screenshot in headless Chromium (Debian's package); it skips, saying
# so, where Chromium is missing and cannot be installed (not root, no apt).
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
	  && (apt-get install -y -q chromium >/dev/null 2>&1 || (apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null)) \
	  || echo "chromium not installed: the screenshot test will skip"; }

# The review queue and audit log tests run against a real PostgreSQL server (Debian's package),
# which the test fixtures start in a temporary folder on a loopback port; they skip, saying so,
# where the server binaries are missing and cannot be installed.
postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
	  && (apt-get install -y -q postgresql >/dev/null 2>&1 || (apt-get update -q >/dev/null && apt-get install -y -q postgresql >/dev/null)) \
	  || echo "postgresql not installed: the PostgreSQL tests will skip"; }

test: lint typecheck docs browser postgres
	$(BIN)/pytest

bench: $(STAMP)
	$(BIN)/python bench/scorer.py --json

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
