# The two commands of the README:
#   make run    set up .venv and serve on http://127.0.0.1:8000
#   make test   set up .venv and run the whole suite (ruff, mypy, pytest)
# and, while iterating:
#   make test-quick   the same without the slow fault tests (pytest -m "not slow")

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The suite must not need a configured secret; a deployment always brings its own.
TEST_SECRET_KEY ?= test-only-secret-key-not-for-production-0123456789abcdefghij

.PHONY: run test test-quick lint typecheck pytest openapi bench screenshots clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev,bench]"
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/chatapp serve

test: lint typecheck pytest

test-quick: lint typecheck
	SECRET_KEY=$${SECRET_KEY:-$(TEST_SECRET_KEY)} $(BIN)/pytest -m "not slow" $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests loadtest examples
	$(BIN)/ruff format --check src tests loadtest examples
	@if command -v shellcheck >/dev/null; then shellcheck deploy/install.sh; \
	elif [ "$$CI" = true ]; then echo "lint: shellcheck is missing (CI installs it)" >&2; exit 1; \
	else echo "lint: shellcheck is not installed; deploy/install.sh not checked" >&2; fi

typecheck: $(STAMP)
	SECRET_KEY=$${SECRET_KEY:-$(TEST_SECRET_KEY)} $(BIN)/mypy
	SECRET_KEY=$${SECRET_KEY:-$(TEST_SECRET_KEY)} $(BIN)/mypy loadtest examples

pytest: $(STAMP)
	SECRET_KEY=$${SECRET_KEY:-$(TEST_SECRET_KEY)} $(BIN)/pytest $(PYTEST_ARGS)

# docs/openapi.json, the document GET /api/openapi.json serves, after a change
# to an API view or a wire type (tests/core/test_openapi.py fails until then).
openapi: $(STAMP)
	SECRET_KEY=$${SECRET_KEY:-$(TEST_SECRET_KEY)} $(BIN)/chatapp openapi --out docs/openapi.json

# PNGs of the main pages at desktop and phone widths, from a server of its own
# (DATABASE_URL's PostgreSQL when set, else embedded) in Debian's Chromium.
screenshots: $(STAMP)
	$(BIN)/python -m tests.browser.screenshots

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
