# FlowKit-compatible CDR analytics platform. `make demo` and `make test` are all a new checkout needs.
SHELL := /bin/bash
.DEFAULT_GOAL := help

export FLOWDB_DATA_DIR ?= $(CURDIR)/.flowdb
export FLOWDB_PORT ?= 9000
UV = $(shell cat .tools/uv-path 2>/dev/null)
RUN = $(UV) run --locked --all-packages

# Synthetic data for `make up`/`make demo` when FlowDB is empty: a week for 20,000 subscribers, ~2.4 M events.
# Any N_* / P_* / DISASTER_* variable set in the environment wins; `flowdb synthetic` regenerates.
DEMO_ENV = N_DAYS=$${N_DAYS:-7} N_SUBSCRIBERS=$${N_SUBSCRIBERS:-20000} N_CALLS=$${N_CALLS:-100000} \
           N_SMS=$${N_SMS:-50000} N_MDS=$${N_MDS:-40000} N_TOPUPS=$${N_TOPUPS:-5000}

.PHONY: help deps test lint demo up down status bench bench-queries clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/'

deps:  ## install apt packages (PostgreSQL 15, PostGIS, Redis) and uv, and sync the workspace
	@mkdir -p .tools && bash scripts/bootstrap.sh > .tools/uv-path.new && mv .tools/uv-path.new .tools/uv-path

lint: deps  ## ruff lint and format check
	$(RUN) ruff check .
	$(RUN) ruff format --check .

test: lint  ## install everything needed and run every test
	$(RUN) pytest

up: deps  ## start FlowDB (initialised and migrated on first use), with synthetic data if it has none
	$(RUN) flowdb start
	$(DEMO_ENV) $(RUN) flowdb synthetic --if-empty

down:  ## stop what `make up` started
	@if [ -n "$(UV)" ]; then $(RUN) flowdb stop; else echo "nothing to stop"; fi

status: deps
	$(RUN) flowdb status

demo: up  ## bring up FlowDB with synthetic data, print summary counts and run an example FlowMachine analysis
	$(RUN) flowdb psql -q -c "\\i scripts/demo_summary.sql"
	$(RUN) python scripts/demo_analysis.py
	@echo
	@echo "FlowDB is running: $$($(RUN) flowdb url)"
	@echo "Open a shell with 'uv run flowdb psql'; stop it with 'make down'."

bench: deps  ## synthetic-data generator benchmark (writes bench/RESULTS.md)
	$(RUN) python bench/synthetic.py

bench-queries: deps  ## FlowMachine query benchmark, S and L datasets (~20 min; writes bench/RESULTS.md)
	$(RUN) python bench/queries.py $(BENCH_ARGS)

clean: down  ## stop FlowDB and delete its data directory
	rm -rf "$(FLOWDB_DATA_DIR)"
