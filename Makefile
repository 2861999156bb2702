# Two commands for a fresh machine with Python 3.11: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
export PORT

.PHONY: run test lint format fuzz bench bench-reservations bench-order-instructions bench-expiry bench-bulk bench-dashboard bench-connectors bench-oversell

$(BIN)/python:
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Python 3.11 is required, found " + sys.version.split()[0]'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstall only when a requirements file changed.
$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.runtime

# SIMULATE=1 make run: the hub also places, pays, ships and cancels demo orders as it runs.
run: $(VENV)/.runtime
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py load_demo
	$(BIN)/python manage.py ensure_demo_admin
	$(BIN)/python manage.py runhub --port $(PORT)$(if $(filter 1 yes true on,$(SIMULATE)), --simulate)

test: $(VENV)/.dev
	$(BIN)/python -m pytest

# Schema-driven fuzzing of every API operation (tests/api/test_fuzz.py; `make test` runs a
# short deterministic pass of it): fresh randomness, schemathesis' coverage phase and
# FUZZ_EXAMPLES generated requests per operation. Needs PostgreSQL, as the tests do.
FUZZ_EXAMPLES ?= 300
fuzz: $(VENV)/.dev
	FUZZ_THOROUGH=1 FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/python -m pytest tests/api/test_fuzz.py

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench-reservations: $(VENV)/.runtime
	$(BIN)/python -m bench.reservations

bench-order-instructions: $(VENV)/.runtime
	$(BIN)/python -m bench.order_instructions

bench-expiry: $(VENV)/.runtime
	$(BIN)/python -m bench.expiry

bench-bulk: $(VENV)/.runtime
	$(BIN)/python -m bench.bulk_stock

bench-dashboard: $(VENV)/.runtime
	$(BIN)/python -m bench.dashboard

bench-connectors: $(VENV)/.runtime
	$(BIN)/python -m bench.connectors

bench-oversell: $(VENV)/.runtime
	$(BIN)/python -m bench.oversell
