# Each target does its own set-up: a virtualenv at .venv/ with conveyor installed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

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
	$(BIN)/ruff check conveyor tests
	$(BIN)/python -m pytest -q --cov=conveyor --cov-report=term:skip-covered --cov-fail-under=80

bench: $(STAMP)
	$(BIN)/python bench/serve.py
	$(BIN)/python bench/batch_predict.py
	$(BIN)/python bench/parity.py

lint: $(STAMP)
	$(BIN)/ruff check conveyor tests
	$(BIN)/ruff format --check conveyor tests

clean:
	rm -rf $(VENV) .conveyor .pytest_cache .coverage
