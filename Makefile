# The two commands of the README:
#   make example   install into .venv, migrate SQLite, create the demo user, serve on 127.0.0.1:$(PORT)
#   make test      install into .venv and run the whole test suite (SQLite unless DATABASE_URL is set)
PYTHON ?= python3
VENV ?= .venv
# Extra requirements for the test matrix, e.g. EXTRA='django>=6,<7'.
EXTRA ?=
# The example's port: `make example PORT=8001` (its mailed links follow it).
PORT ?= 8000
BIN := $(VENV)/bin

.PHONY: install example test bench bench-all docs lint schema

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

install: $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]" $(if $(EXTRA),"$(EXTRA)")

# Only what the example needs (not the test tools).
example: $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[example]" $(if $(EXTRA),"$(EXTRA)")
	$(BIN)/python example_schema/manage.py migrate --noinput
	$(BIN)/python example_schema/manage.py demo_user
	@echo "GraphiQL: http://127.0.0.1:$(PORT)/graphql/  REST: http://127.0.0.1:$(PORT)/auth/login/  app: http://127.0.0.1:$(PORT)/app/  admin: http://127.0.0.1:$(PORT)/admin/"
	EXAMPLE_PORT=$(PORT) $(BIN)/python example_schema/manage.py runserver 127.0.0.1:$(PORT)

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Per-request cost of token authentication beside DRF authtoken, knox, durin and a one-cache.get
# floor and a one-SELECT-1 floor, REST and GraphQL (see docs/performance.md); not part of `make test`. With DATABASE_URL and
# REDIS_URL it runs on PostgreSQL and Redis.
bench: install
	$(BIN)/python -m tests.benchmarks.auth_cost $(BENCH_ARGS)

# Every benchmark; the scale one needs DATABASE_URL pointing at PostgreSQL. Takes minutes.
bench-all: bench
	$(BIN)/python -m tests.benchmarks.login
	$(BIN)/python -m tests.benchmarks.scale

# The documentation site, built as CI builds it (warnings are errors).
docs: install
	$(BIN)/python -m pip install --quiet -e ".[docs]"
	NO_MKDOCS_2_WARNING=1 $(BIN)/python -m mkdocs build --strict --site-dir build/site

# Lint the whole tree (ruff) and type-check the package (mypy with the Django and DRF stubs), as CI does.
lint: install
	$(BIN)/python -m pip install --quiet -e ".[lint]" $(if $(EXTRA),"$(EXTRA)")
	$(BIN)/python -m ruff check .
	$(BIN)/python -m mypy

# Re-export the example's GraphQL schema into docs/ (CI checks it is current).
schema: install
	$(BIN)/python example_schema/manage.py export_schema example.schema --path docs/schema.graphql
