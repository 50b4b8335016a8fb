# FlowKit-compatible CDR analytics platform. `make demo` and `make test` are all a new checkout needs.
SHELL := /bin/bash
.DEFAULT_GOAL := help

export FLOWDB_DATA_DIR ?= $(CURDIR)/.flowdb
export FLOWDB_PORT ?= 9000
UV = $(shell cat .tools/uv-path 2>/dev/null)
RUN = $(UV) run --locked --all-packages

# Synthetic data for `make up`/`make demo` when FlowDB is empty: a week for 20,000 subscribers, ~2.4 M events,
# and the next day as an operator's CSV.gz files in .stack/landing, which `make demo` ingests with FlowETL.
# Any N_* / P_* / DISASTER_* variable set in the environment wins; `flowdb synthetic` regenerates.
# A disaster takes the cells of admin2 SYN.4.2_1 (Padraimkot, 84 cells) down from 2016-01-05 to the FlowETL day,
# and its residents move away (what AutoFlow's example report shows). Setting the three DISASTER_* empty turns it off.
DEMO_ENV = N_DAYS=$${N_DAYS:-7} N_SUBSCRIBERS=$${N_SUBSCRIBERS:-20000} N_CALLS=$${N_CALLS:-100000} \
           N_SMS=$${N_SMS:-50000} N_MDS=$${N_MDS:-40000} N_TOPUPS=$${N_TOPUPS:-5000} \
           DISASTER_REGION_PCOD=$${DISASTER_REGION_PCOD-SYN.4.2_1} DISASTER_START=$${DISASTER_START-2016-01-05} \
           DISASTER_END=$${DISASTER_END-2016-01-08}

.PHONY: help deps test lint demo up down status bench bench-queries bench-api bench-etl bench-privacy clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/'

deps:  ## install apt packages (PostgreSQL 15, PostGIS, Redis) and uv, and sync the workspace
	@mkdir -p .tools && bash scripts/bootstrap.sh > .tools/uv-path.new && mv .tools/uv-path.new .tools/uv-path

lint: deps  ## ruff lint and format check, mypy over every src/
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) mypy

test: lint  ## install everything needed and run every test
	$(RUN) pytest

up: deps  ## start FlowDB (synthetic data if it has none), Redis, FlowMachine, FlowAPI and FlowAuth (AUTOFLOW_SENSOR=1: AutoFlow's sensor too); logs/PIDs in .stack/
	$(RUN) flowdb start
	$(DEMO_ENV) $(RUN) flowdb synthetic --if-empty --operator-files "$${STACK_DIR:-.stack}/landing"
	$(RUN) python scripts/stack.py up

down:  ## stop what `make up` started
	@if [ -n "$(UV)" ]; then $(RUN) python scripts/stack.py down; $(RUN) flowdb stop; else echo "nothing to stop"; fi

status: deps
	-$(RUN) flowdb status
	$(RUN) python scripts/stack.py status

demo: up  ## bring up the stack with synthetic data, ingest one more day through FlowETL, print summary counts, run an example analysis via flowclient, AutoFlow's situation report as a PDF, load FlowAuth's demo users
	$(RUN) python scripts/demo_etl.py
	$(RUN) flowdb psql -q -c "\\i scripts/demo_summary.sql"
	$(RUN) python scripts/demo_api.py
	$(RUN) python scripts/demo_autoflow.py
	@echo
	@$(RUN) python scripts/stack.py demo
	@echo "FlowAPI: http://127.0.0.1:$${FLOWAPI_PORT:-9090}/  (ReDoc: http://127.0.0.1:$${FLOWAPI_PORT:-9090}/api/0/spec/redoc)"
	@echo "FlowDB:  $$($(RUN) flowdb url)"
	@echo "A token for every scope, valid 24 h (also in $${STACK_DIR:-.stack}/demo-token; analysts mint their own in FlowAuth):"
	@echo; cat "$${STACK_DIR:-.stack}/demo-token"; echo
	@echo "First queries with flowclient: docs/quickstart.md. Stop everything with 'make down'."

bench: deps  ## synthetic-data generator benchmark (writes bench/RESULTS.md)
	$(RUN) python bench/synthetic.py

bench-queries: deps  ## FlowMachine query benchmark, S and L datasets (~20 min; writes bench/RESULTS.md)
	$(RUN) python bench/queries.py $(BENCH_ARGS)

bench-api: deps  ## FlowAPI HTTP benchmark: round trip, /get streaming, 200 clients (~3 min; writes bench/RESULTS.md)
	$(RUN) python bench/api.py $(BENCH_ARGS)

bench-etl: deps  ## FlowETL ingest of a 10 M-row calls day with QA checks vs a plain COPY of the file (~6 min; writes bench/RESULTS.md)
	$(RUN) python bench/etl.py $(BENCH_ARGS)

bench-privacy: deps  ## differential privacy vs the >15 rule on the synthetic disaster: error and drop detection per epsilon (~2 min; writes bench/RESULTS.md)
	$(RUN) python bench/privacy.py $(BENCH_ARGS)

clean: down  ## stop FlowDB and delete its data directory
	rm -rf "$(FLOWDB_DATA_DIR)"
