# The two commands of the quick start: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test check setup setup-dev clean

demo: setup
	$(BIN)/livecart serve

test: setup-dev
	scripts/test.sh

check: setup-dev
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/mypy
	$(BIN)/lint-imports

setup: $(VENV)/.installed
setup-dev: $(VENV)/.installed-dev

$(VENV)/.installed: pyproject.toml
	scripts/setup.sh
	touch $@

$(VENV)/.installed-dev: pyproject.toml
	scripts/setup.sh --dev
	touch $(VENV)/.installed $@

clean:
	rm -rf $(VENV) var test-artifacts .pytest_cache .mypy_cache .ruff_cache
