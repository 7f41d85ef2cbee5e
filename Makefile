# The README's two commands: `make run` and `make test`. Both set up .venv when needed.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP_RUN  := $(VENV)/.installed-run
STAMP_DEV  := $(VENV)/.installed-dev
DEPS   := setup.cfg pyproject.toml tests/example_plugin/setup.cfg

.PHONY: run test lint format bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade "pip>=24" "setuptools>=69" wheel

$(STAMP_RUN): $(BIN)/python setup.cfg pyproject.toml
	$(BIN)/pip install --quiet -e .
	touch $@

$(STAMP_DEV): $(BIN)/python $(DEPS)
	$(BIN)/pip install --quiet -e ".[dev]" -e tests/example_plugin
	touch $@ $(STAMP_RUN)

run: $(STAMP_RUN)
	$(BIN)/quarkbot serve

lint: $(STAMP_DEV)
	$(BIN)/ruff check quarkbot plugins tests bench
	$(BIN)/ruff format --check quarkbot plugins tests bench
	$(BIN)/mypy quarkbot plugins

test: lint
	$(BIN)/pytest -q

format: $(STAMP_DEV)
	$(BIN)/ruff check --fix quarkbot plugins tests bench
	$(BIN)/ruff format quarkbot plugins tests bench

bench: $(STAMP_DEV)
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
