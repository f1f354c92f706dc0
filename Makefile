# Two entry points: `make demo` and `make test`. Both work on a fresh clone.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
PLUGINS = plugins/twitter plugins/facebook plugins/email plugins/mastodon plugins/feeds
# What running needs (`make demo`), and on top of it the test tools (`make test`).
RUN_STAMP = $(VENV)/.installed-run
STAMP     = $(VENV)/.installed

.PHONY: demo test lint venv dist clean console-messages

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

## dist: wheels of scrm and the five channel distributions in dist/ (pip install dist/*.whl)
dist: $(BIN)/python
	rm -rf dist && mkdir dist
	$(BIN)/python -m pip wheel --quiet --no-deps --wheel-dir dist . $(PLUGINS)
	@ls dist

# The newest message of the bundled sample (tests/test_sample_data.py checks it): the demo
# moves every channel's sample by one amount so that this message is now.
SAMPLE_NEWEST = 2024-10-27T17:45:52+00:00
AS_OF = --as-of now --newest $(SAMPLE_NEWEST)

## demo: set everything up, ingest the bundled sample into SQLite as if it ended now, print the case board
demo: $(RUN_STAMP)
	rm -rf demo && mkdir demo
	install -m 600 scrm/data/sample/demo.toml demo/scrm.toml
	cd demo && ../$(BIN)/scrm db upgrade
	cd demo && ../$(BIN)/scrm ingest $(AS_OF) --channel twitter ../plugins/twitter/sample/twitter.jsonl
	cd demo && ../$(BIN)/scrm ingest $(AS_OF) --channel facebook ../plugins/facebook/sample/facebook.jsonl
	cd demo && ../$(BIN)/scrm email import $(AS_OF) ../plugins/email/sample
	cd demo && ../$(BIN)/scrm ingest $(AS_OF) --channel phone ../scrm/data/sample/phone.jsonl
	cd demo && ../$(BIN)/scrm feeds poll $(AS_OF)
	cd demo && ../$(BIN)/python ../scripts/demo_agents.py
	cd demo && ../$(BIN)/scrm cases list --status open --limit 40
	cd demo && ../$(BIN)/scrm cases list --channel feeds
	@echo "The demo database is demo/scrm.db; try: cd demo && ../$(BIN)/scrm case show 1"
	@echo "scrm is $(BIN)/scrm; put it on your PATH with: source $(BIN)/activate"

## test: set everything up, start a throwaway PostgreSQL, run lint, types and the whole suite on SQLite and PostgreSQL
test: $(STAMP)
	BIN=$(BIN) scripts/run-tests

## lint: ruff, mypy, the layer contracts (lint-imports) and the ReDoS scan of every regular expression (scripts/redos_scan.py)
lint: $(STAMP)
	$(BIN)/ruff check scrm tests bench plugins scripts docs
	$(BIN)/mypy
	$(BIN)/mypy docs/hook_examples.py docs/gen_hooks.py
	$(BIN)/lint-imports --no-logo
	$(BIN)/python scripts/redos_scan.py

## console-messages: extract the console's words, update each language's catalogue, compile it
CONSOLE = scrm/server/console
console-messages: $(STAMP)
	cd scrm && ../$(BIN)/pybabel -q extract -F server/console/babel.cfg -k N_ -k t --omit-header --no-location --sort-output -o server/console/locale/console.pot .
	$(BIN)/pybabel -q update --no-fuzzy-matching --ignore-pot-creation-date -i $(CONSOLE)/locale/console.pot -d $(CONSOLE)/locale -D console
	$(BIN)/pybabel -q compile --use-fuzzy -d $(CONSOLE)/locale -D console

clean:
	rm -rf $(VENV) demo dist build .pytest_cache .mypy_cache .ruff_cache .import_linter_cache
