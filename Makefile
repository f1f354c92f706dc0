# Two entry points: `make demo` and `make test`. Both work on a fresh clone.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
PLUGINS = plugins/twitter plugins/facebook plugins/email
# What running needs (`make demo`), and on top of it the test tools (`make test`).
RUN_STAMP = $(VENV)/.installed-run
STAMP     = $(VENV)/.installed

.PHONY: demo test lint venv dist clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(RUN_STAMP): $(BIN)/python pyproject.toml $(addsuffix /pyproject.toml,$(PLUGINS))
	$(BIN)/python -m pip install --quiet -e . $(addprefix -e ,$(PLUGINS))
	touch $(RUN_STAMP)

$(STAMP): $(RUN_STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test]' -e 'plugins/email[test]'
	touch $(STAMP)

venv: $(STAMP)

## dist: wheels of scrm and the three channel distributions in dist/ (pip install dist/*.whl)
dist: $(BIN)/python
	rm -rf dist && mkdir dist
	$(BIN)/python -m pip wheel --quiet --no-deps --wheel-dir dist . $(PLUGINS)
	@ls dist

## demo: set everything up, ingest the bundled sample into SQLite, print the case board
demo: $(RUN_STAMP)
	rm -rf demo && mkdir demo
	install -m 600 scrm/data/sample/demo.toml demo/scrm.toml
	cd demo && ../$(BIN)/scrm db upgrade
	cd demo && ../$(BIN)/scrm ingest --channel twitter ../plugins/twitter/sample/twitter.jsonl
	cd demo && ../$(BIN)/scrm ingest --channel facebook ../plugins/facebook/sample/facebook.jsonl
	cd demo && ../$(BIN)/scrm email import ../plugins/email/sample
	cd demo && ../$(BIN)/scrm ingest --channel phone ../scrm/data/sample/phone.jsonl
	cd demo && ../$(BIN)/scrm cases list --status open --limit 40
	@echo "The demo database is demo/scrm.db; try: cd demo && ../$(BIN)/scrm case show 1"
	@echo "scrm is $(BIN)/scrm; put it on your PATH with: source $(BIN)/activate"

## test: set everything up, start a throwaway PostgreSQL, run lint, types and the whole suite on SQLite and PostgreSQL
test: $(STAMP)
	BIN=$(BIN) scripts/run-tests

## lint: ruff, mypy, the layer contracts (lint-imports) and the ReDoS scan of every regular expression (scripts/redos_scan.py)
lint: $(STAMP)
	$(BIN)/ruff check scrm tests bench plugins scripts
	$(BIN)/mypy
	$(BIN)/lint-imports --no-logo
	$(BIN)/python scripts/redos_scan.py

clean:
	rm -rf $(VENV) demo dist build .pytest_cache .mypy_cache .ruff_cache .import_linter_cache
