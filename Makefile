# The two commands a user needs: `make run` and `make test`.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
RUN_STAMP := $(VENV)/.installed-run
TEST_STAMP := $(VENV)/.installed-test

.PHONY: run test install lint typecheck check clean bench-venv

# What the service needs (make run); the test tools (dev extras) only for make test.
$(RUN_STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e .
	@touch $(RUN_STAMP)

$(TEST_STAMP): $(RUN_STAMP)
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $(TEST_STAMP)

install: $(TEST_STAMP)

## Create the venv, install, migrate, start API + one worker (embedded SQLite + filesystem broker).
run: $(RUN_STAMP)
	$(BIN)/sslpt up

## Lint, type-check and run every test (integration tests included where services exist).
test: $(TEST_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m pytest -q -ra $(PYTEST_ARGS)

lint: $(TEST_STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

typecheck: $(TEST_STAMP)
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .sslpt .pytest_cache .mypy_cache .ruff_cache
