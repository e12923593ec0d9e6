# Two commands do all the set-up on a fresh machine with Python 3.11 and make:
#   make run    — the service on embedded SQLite (./var/), nothing else to install
#   make test   — lint, types, layer contracts and the whole test suite
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
UV_VERSION := 0.13.9
UV := $(VENV)/bin/uv

.PHONY: sync run test lint format demo browser

$(UV):
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

sync: $(UV)
	$(UV) sync --frozen --inexact --quiet

run: sync
	$(VENV)/bin/rodedraad serve

# A populated board for a newcomer: load a demo data set into ./var, then `make run`.
demo: sync
	$(VENV)/bin/python -m benchmarks demo

lint: sync
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

# The browser tests' tools (issue #23): Debian's chromium and axe-core from the npm registry, each
# installed only when missing (CI runs as root; elsewhere install chromium yourself, or the
# browser tests skip: with CI=true they fail instead).
AXE_VERSION := 4.14.1
AXE := .cache/axe/node_modules/axe-core/axe.min.js

browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium; } || \
		echo "chromium is not installed: the browser tests will skip (apt-get install chromium)"
	@test -f $(AXE) || npm install --prefix .cache/axe --no-save --no-audit --no-fund \
		--loglevel=error axe-core@$(AXE_VERSION)

test: lint browser
	$(VENV)/bin/pytest

format: sync
	$(VENV)/bin/ruff check --fix src tests benchmarks
	$(VENV)/bin/ruff format src tests benchmarks
