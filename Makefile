# Agency Portal. `make demo` runs everything on the embedded default; `make test` runs the suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=
# Run the tests as if it were this instant (UTC): `make test FAKE_NOW="2026-12-31 23:59:00"`. Every process
# loading the test settings shifts its clock by the same offset (agency_portal/settings/test.py, time-machine).
FAKE_NOW ?=
PYTEST := $(if $(FAKE_NOW),TEST_CLOCK_OFFSET=$$(( $$(date -u -d '$(FAKE_NOW) UTC' +%s) - $$(date +%s) )) )$(BIN)/pytest

.PHONY: demo test test-long test-all test-smoke lint migrations-check clean

$(BIN)/.installed: requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

demo: $(BIN)/.installed
	$(BIN)/python manage.py demo

# The suite in parallel (pytest-xdist, one process per core) without the `long` group (fault suite, fuzzing).
test: $(BIN)/.installed
	$(PYTEST) -m "not long" $(PYTEST_ARGS)

# Only the `long` group: the fault suite and the schema fuzzing (CI always runs it).
test-long: $(BIN)/.installed
	$(PYTEST) -m long $(PYTEST_ARGS)

# Everything, as CI runs it.
test-all: $(BIN)/.installed
	$(PYTEST) $(PYTEST_ARGS)

test-smoke: $(BIN)/.installed
	env -u DATABASE_URL -u REDIS_URL $(PYTEST) -m smoke $(PYTEST_ARGS)

lint: $(BIN)/.installed
	$(BIN)/ruff check .

migrations-check: $(BIN)/.installed
	$(BIN)/python manage.py makemigrations --check --dry-run

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
