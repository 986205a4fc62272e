# The two commands of the README's quick start. Each creates .venv and installs what it needs.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: demo test lint type check wheel clean

$(PY):
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "flask-resilience needs Python >= 3.11 (set PYTHON=python3.11)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.demo-installed: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[demo]'
	touch $@

$(VENV)/.dev-installed: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.demo-installed

## Run the example quiz app on its embedded default (SQLite + fakeredis, no services needed).
demo: $(VENV)/.demo-installed
	$(PY) -m example_app

## Run the whole test suite against real PostgreSQL and Redis.
test: $(VENV)/.dev-installed
	VENV=$(VENV) ./scripts/test

lint: $(VENV)/.dev-installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

type: $(VENV)/.dev-installed
	$(VENV)/bin/mypy flask_resilience

check: lint type test

wheel: $(VENV)/.dev-installed
	$(PY) -m build --wheel --outdir dist .

clean:
	rm -rf $(VENV) dist build .pytest_cache .mypy_cache .ruff_cache
