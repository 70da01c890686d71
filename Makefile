# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST_PORT ?= 127.0.0.1:8000
run: export LOGBOOK_DATA_DIR ?= ./var

.PHONY: install run test bench

install: $(VENV)/.installed

$(VENV)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --editable '.[test]'
	touch $@

run: install
	$(BIN)/logbook init > /dev/null
	$(BIN)/logbook demo
	@token=$$($(BIN)/logbook accounts token admin); \
	echo; echo "admin token: $$token"; \
	echo "try:   curl -H 'Authorization: Bearer $$token' http://$(HOST_PORT)/api/v1/teams"; \
	echo "docs:  http://$(HOST_PORT)/api/v1/docs"; echo
	@$(BIN)/logbook projections run & projector=$$!; \
	trap 'kill $$projector 2>/dev/null' EXIT; \
	$(BIN)/logbook serve --bind $(HOST_PORT)

# The suite runs on SQLite, then on PostgreSQL (LOGBOOK_TEST_POSTGRES_URL, the local server
# by default); without a reachable server the second run skips every test and says why.
test: install
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m pytest -q
	$(BIN)/python -m pytest -q --store=postgres

bench: install
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/projections.py
