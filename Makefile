# The two commands of the README:
#   make example   install into .venv, migrate SQLite, create the demo user, serve on 127.0.0.1:8000
#   make test      install into .venv and run the whole test suite (SQLite unless DATABASE_URL is set)
PYTHON ?= python3
VENV ?= .venv
# Extra requirements for the test matrix, e.g. EXTRA='django>=6,<7'.
EXTRA ?=
BIN := $(VENV)/bin

.PHONY: install example test bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

install: $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]" $(if $(EXTRA),"$(EXTRA)")

example: install
	$(BIN)/python example_schema/manage.py migrate --noinput
	$(BIN)/python example_schema/manage.py demo_user
	@echo "GraphiQL: http://127.0.0.1:8000/graphql/  REST: http://127.0.0.1:8000/auth/  admin: http://127.0.0.1:8000/admin/"
	$(BIN)/python example_schema/manage.py runserver 127.0.0.1:8000

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Per-request cost of token authentication (see docs/performance.md); not part of `make test`.
bench: install
	$(BIN)/python -m tests.benchmarks.auth_cost $(BENCH_ARGS)
