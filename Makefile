# Agency Portal. `make demo` runs everything on the embedded default; `make test` runs the suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: demo test test-smoke lint migrations-check clean

$(BIN)/.installed: requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

demo: $(BIN)/.installed
	$(BIN)/python manage.py demo

test: $(BIN)/.installed
	$(BIN)/pytest $(PYTEST_ARGS)

test-smoke: $(BIN)/.installed
	env -u DATABASE_URL -u REDIS_URL $(BIN)/pytest -m smoke $(PYTEST_ARGS)

lint: $(BIN)/.installed
	$(BIN)/ruff check .

migrations-check: $(BIN)/.installed
	$(BIN)/python manage.py makemigrations --check --dry-run

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
