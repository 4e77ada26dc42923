# Each target does its own set-up: a virtualenv at .venv/ with conveyor installed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.bench-installed

.PHONY: demo test lint clean venv bench

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m conveyor.demo

test: $(STAMP)
	@# The drift report's browser test drives Debian's Chromium (Playwright cannot download one).
	@test -x /usr/bin/chromium || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null)
	$(BIN)/ruff check conveyor tests bench
	$(BIN)/python -m pytest -q --cov=conveyor --cov-report=term:skip-covered --cov-fail-under=80

$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	touch $(BENCH_STAMP)

# wrk is installed by bench/serve.py if missing; MLflow and BentoML into bench/.venvs/.
bench: $(BENCH_STAMP)
	$(BIN)/python -m bench.run
	$(BIN)/python bench/parity.py

lint: $(STAMP)
	$(BIN)/ruff check conveyor tests bench
	$(BIN)/ruff format --check conveyor tests

clean:
	rm -rf $(VENV) .conveyor .pytest_cache .coverage
