# Two commands for a newcomer: `make run` and `make test`. Each sets up what it needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test install system-deps lint format bench bench-quick clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

## make run: the gateway on SQLite (instance/gateway.db) on http://127.0.0.1:8000, with three demo organizations
## that sign in through the built-in demo identity provider (/demo-idp: OIDC for demo.example and invite.example,
## SAML 2.0 for saml.example), and the outbox worker that delivers
## invitation emails to the development mailbox (`.venv/bin/gateway mailbox`).
run: export GATEWAY_DEMO_IDP = 1
run: $(STAMP)
	$(BIN)/gateway db upgrade
	$(BIN)/gateway demo seed
	eval "$$($(BIN)/gateway demo env)" && { $(BIN)/gateway worker & trap 'kill $$! 2>/dev/null' EXIT INT TERM; $(BIN)/gateway serve; }

## make test: lint, then the whole suite on SQLite and PostgreSQL
test: $(STAMP) system-deps
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest -n auto

system-deps:
	@sh scripts/system-deps.sh

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## make bench: the benchmark (bench/run.py, about 20-30 minutes on 2 cores with today's code): the gateway beside the PyPI
## scim2-server peer and a bare Flask endpoint under wrk, the SAML ACS, an initial sync, growth and profiles, on
## SQLite and PostgreSQL (127.0.0.1:5432); results go into docs/benchmarks.md. `make bench-quick` takes 5-15 minutes.
## Other sizes: make bench BENCH_ARGS="--sync-users 100000 --growth-members 100000" (see bench/README.md).
BENCH_STAMP := $(VENV)/.bench-stamp
BENCH_ARGS ?=

$(BENCH_STAMP): $(STAMP)
	$(BIN)/pip install --quiet -e '.[test,bench]'
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP) system-deps
	$(BIN)/python bench/run.py $(BENCH_ARGS)

bench-quick: $(BENCH_STAMP) system-deps
	$(BIN)/python bench/run.py --quick $(BENCH_ARGS)

clean:
	rm -rf $(VENV) instance .pytest_cache .ruff_cache
