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

# everything the built-in plugins need at run time: the numeric stack too
RUN_INSTALL := $(BIN)/pip install --quiet -e ".[numeric]"

$(STAMP_RUN): $(BIN)/python setup.cfg pyproject.toml
	$(RUN_INSTALL)
	touch $@

$(STAMP_DEV): $(BIN)/python $(DEPS)
	$(BIN)/pip install --quiet -e ".[dev]" -e tests/example_plugin
	touch $@ $(STAMP_RUN)

# bytecode for our own sources, kept current where Python does not write it
# (PYTHONDONTWRITEBYTECODE): every start would compile them again, about 0.3 s
COMPILE := $(BIN)/python -m compileall -q quarkbot plugins

run: $(STAMP_RUN)
	@$(COMPILE)
	@echo "quarkbot: serving on http://127.0.0.1:8000 (API docs at /docs, health at /health)."
	@echo "  Log in as admin: on a first start the password is printed below and kept in"
	@echo "  var/admin-credentials.txt. Then, in another terminal: $(BIN)/quarkbot demo"
	@echo "  (demo instruments, years of bars, a live feed, a paper-trading strategy, a sweep)."
	$(BIN)/quarkbot serve

lint: $(STAMP_DEV)
	$(BIN)/ruff check quarkbot plugins tests bench
	$(BIN)/ruff format --check quarkbot plugins tests bench
	$(BIN)/mypy quarkbot plugins
	$(BIN)/lint-imports --no-cache

# one pytest process per core (pytest-xdist), each test file on one of them (its module-scoped
# servers and browsers started once); TEST_WORKERS=0 runs in this process
TEST_WORKERS ?= auto

test: lint
	$(BIN)/pytest -q -n $(TEST_WORKERS) --dist loadfile

format: $(STAMP_DEV)
	$(BIN)/ruff check --fix quarkbot plugins tests bench
	$(BIN)/ruff format quarkbot plugins tests bench

bench: $(STAMP_DEV)
	@$(COMPILE)
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
