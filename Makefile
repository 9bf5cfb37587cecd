# make run   install, migrate, load the demo team once, serve on http://127.0.0.1:5000
# make test  install (Python packages, the npm packages of the test Bluesky network, the Debian
#            packages the tests need), run the suite
# make lint  ruff

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
NODE_STAMP := node_modules/.installed-stamp
HOST ?= 127.0.0.1
PORT ?= 5000
DEMO_PASSWORD ?= demo-kalender

.PHONY: install node-deps system-deps run test lint format clean bench translations

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# The reference Bluesky PDS and PLC directory the tests start (tests/support/bluesky.py), and the
# accessibility checker the browser tests run on every page (tests/support/axe.py).
$(NODE_STAMP): package-lock.json
	npm ci --no-audit --no-fund
	touch $(NODE_STAMP)

node-deps: $(NODE_STAMP)

system-deps:
	./scripts/system-deps.sh

# `make run` is for a developer's machine: development mode unless told otherwise.
run: export CALENDAR_ENV ?= development
run: install
	$(BIN)/calendar-app db upgrade
	$(BIN)/calendar-app demo --if-empty --password '$(DEMO_PASSWORD)'
	@echo "Log in at http://$(HOST):$(PORT) (demo users: see README; password $(DEMO_PASSWORD))"
	$(BIN)/calendar-app serve --host $(HOST) --port $(PORT)

# The suite in TEST_WORKERS processes (each with its own PostgreSQL server and test servers), a
# test module per process: module fixtures (browser, network servers) are started once. Three on
# two cores: much of the suite waits (for servers, schedulers, a browser's page), and a third
# process fills those waits (11 min against 14.5 with two, measured on one machine). Modules go
# out in the order tests/conftest.py gives them, the longest first (xdist's own order puts the
# modules with the fewest tests, which are the longest, last).
# The app's modules compiled first: the suite starts commands, servers and schedulers in new
# processes, and where PYTHONDONTWRITEBYTECODE is set each would compile them again.
TEST_WORKERS ?= 3
test: install node-deps system-deps
	$(BIN)/python -m compileall -q calendar_app config.py migrations
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder --durations=15

# Not part of `make test`: about a quarter of an hour; BENCH_ARGS=--quick for a smoke run.
bench: install node-deps system-deps
	PYTHONPATH=. $(BIN)/python -m bench.run $(BENCH_ARGS)

# Not part of `make test`: mutation testing of the core modules (hours for all; name some with
# MUTATE=claims,holds; MUTATE_ARGS=--resume to go on with an earlier run). Results in
# build/mutate/; scores and survivors in docs/TESTING.md.
comma := ,
mutate: install node-deps system-deps
	$(BIN)/python scripts/mutate.py $(MUTATE_ARGS) $(subst $(comma), ,$(MUTATE))

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) build .pytest_cache .ruff_cache

# After changing user-facing text: collect it, add new German lines to the catalogue, compile.
translations: install
	mkdir -p build
	$(BIN)/pybabel extract --no-location --sort-output --width=100 -F babel.cfg -k _l -k _n:1,2 -k lazy_gettext -o build/messages.pot .
	$(BIN)/pybabel update --no-fuzzy-matching --width=100 --ignore-obsolete --ignore-pot-creation-date -i build/messages.pot -d calendar_app/translations
	$(BIN)/pybabel compile -d calendar_app/translations
