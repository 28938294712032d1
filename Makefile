# polyalembic — make migrate (the main job, on the local stack) and make test.
# Everything runs in the project environment, .venv in the checkout (uv, from uv.lock); the
# machine's own python3 only makes it (`python3 -m stack env`) and never gets a package.
SYSTEM_PYTHON ?= python3
VENV    ?= .venv
PYTHON   = $(VENV)/bin/python
STACK    = $(PYTHON) -m stack
CLI      = $(PYTHON) -m polyalembic
SYNCED   = $(VENV)/.synced
# what the environment's tools start (alembic, chroma, pytest's subprocesses) is the environment's too
export PATH := $(abspath $(VENV))/bin:$(PATH)
export VIRTUAL_ENV := $(abspath $(VENV))
export POLYALEMBIC_VENV := $(abspath $(VENV))
# The Neo4j release line the stack's settings point at: lts (5.26) or newest (2026.x).
export POLYALEMBIC_NEO4J ?= lts

.PHONY: install validators services-up services-down services-status migrate status validate test lint \
        bench bench-quick crash fleet-crash

install: $(SYNCED)  ## the project environment: the package (editable) with every extra and the dev tools

# re-synced when pyproject.toml or uv.lock changed since, or the environment is gone
$(SYNCED): pyproject.toml uv.lock
	$(SYSTEM_PYTHON) -m stack env
	@touch $@

validators: install ## the deploy kit's checkers (actionlint, the compose schema) into the per-user cache
	@$(PYTHON) -m tests.unit.validators

services-up: install ## start PostgreSQL (+ TimescaleDB), Neo4j ($(POLYALEMBIC_NEO4J)) and ChromaDB on 127.0.0.1
	$(STACK) up

services-down:      ## stop every server the stack started
	$(STACK) down

services-status:    ## each server: health, version, port, pid
	$(STACK) status

migrate: services-up  ## apply every pending migration to the local stack and show the status
	$(CLI) up
	$(CLI) status

status: install
	$(CLI) status

validate: install
	$(CLI) validate

# The whole suite on Neo4j 5.26 LTS, then the Neo4j op and execution tests and the engine's Neo4j and
# whole-chain tests on the newest release line.
test: validators    ## lint, then the test suite against the real servers
	$(STACK) up all
	$(PYTHON) -m ruff check polyalembic stack tests migrations bench
	@# the suite starts hundreds of Pythons: each reads bytecode compiled once (PYTHONDONTWRITEBYTECODE may be set)
	$(PYTHON) -m compileall -q polyalembic stack tests migrations
	$(PYTHON) -m pytest
	POLYALEMBIC_NEO4J=newest $(PYTHON) -m pytest tests/test_ops_neo4j.py tests/test_neo4j_execution.py tests/test_engine.py \
		-k "ops_neo4j or neo4j_execution or neo4j_migration or upgrade_head or downgrade_base or concurrent"

lint: install
	$(PYTHON) -m ruff check polyalembic stack tests migrations bench

# every comparison of bench/README.md with its baseline (about an hour on 2 cores: Chroma's 200,000-record
# copies take 12 minutes each); exit 1 where a target is missed
bench: services-up
	$(PYTHON) bench/run.py
	$(PYTHON) bench/scale.py --plot bench/growth.png
	$(PYTHON) bench/neo4j_scale.py
	$(PYTHON) bench/chroma_scale.py
	$(PYTHON) bench/fleet.py
	$(PYTHON) bench/fleet_schemas.py

# before you stop, when you touched the path: status/no-op up/validate on 5,000 revisions and a
# 300-revision upgrade against Alembic (under 3 minutes)
bench-quick: services-up
	$(PYTHON) bench/scale.py --quick

crash: services-up  ## SIGKILL `up` 100 times in four windows, recover, check every store converged
	$(PYTHON) bench/crash.py --kills 100

# the fleet's: only PostgreSQL and ChromaDB (a few minutes on 2 cores; the bytecode compiled first,
# as for the suite: every kill starts a fleet and its workers again)
fleet-crash: install  ## SIGKILL a worker or the whole `fleet up` 30 times, recover, check every target converged
	$(STACK) up postgres chromadb
	$(PYTHON) -m compileall -q polyalembic bench
	$(PYTHON) bench/fleet_crash.py --kills 30
