# The two set-up commands of the README: `make demo` and `make test`. System packages they need
# (python3-venv; for the tests PostgreSQL with pgAudit and Java) come from .ci/system-deps.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: demo test typecheck system-deps lint bench fuzz-bench clean

$(BIN)/python:
	@PYTHON=$(PYTHON) .ci/system-deps venv
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@ $(VENV)/.installed

demo: $(VENV)/.installed
	$(BIN)/breachscope demo

# PostgreSQL with pgAudit and Java 17+ for the tests: installed when missing (as root, Debian), else
# make stops with the command to run
system-deps:
	@PYTHON=$(PYTHON) .ci/system-deps test

test: system-deps $(VENV)/.installed-dev
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy src/breachscope
	$(BIN)/python -m pytest -q

# mypy with the configuration in pyproject.toml ([tool.mypy]: strict on model and engines)
typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy src/breachscope

bench: $(VENV)/.installed-dev
	$(BIN)/python bench/ingest_bench.py

# >= 10^6 fuzz executions over every reader and scope's statement parser (docs/testing.md); not in CI
fuzz-bench: $(VENV)/.installed-dev
	$(BIN)/python -m pip install -q -e '.[fuzz]' || echo "atheris does not install here: mutation loop only"
	nice -n 10 $(BIN)/python bench/fuzz_bench.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache
