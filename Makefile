# polyalembic — make migrate (the main job, on the local stack) and make test.
PYTHON ?= python3
STACK   = $(PYTHON) -m stack
CLI     = $(PYTHON) -m polyalembic

INSTALLED = .cache/installed.stamp
# The Neo4j release line the stack's settings point at: lts (5.26) or newest (2026.x).
export POLYALEMBIC_NEO4J ?= lts

.PHONY: install services-up services-down services-status migrate status validate test lint bench bench-quick crash

# pip runs when pyproject.toml changed or this interpreter can't import the package and its tools
install:            ## Python package with all extras and the dev tools
	@if [ $(INSTALLED) -nt pyproject.toml ] && \
	    $(PYTHON) -c "import importlib.util as u, sys; sys.exit(any(u.find_spec(m) is None for m in \
	      ('polyalembic', 'alembic', 'neo4j', 'chromadb', 'pglast', 'pytest', 'pytest_alembic', 'ruff', 'jsonschema', 'dockerfile_parse')))"; then :; \
	else $(PYTHON) -m pip install -q --disable-pip-version-check -e '.[dev]' && mkdir -p .cache && touch $(INSTALLED); fi

services-up: install ## start PostgreSQL (+ TimescaleDB), Neo4j ($(POLYALEMBIC_NEO4J)) and ChromaDB on 127.0.0.1
	$(STACK) up

services-down:      ## stop every server the stack started
	$(STACK) down

services-status:    ## each server: health, version, port, pid
	$(STACK) status

migrate: services-up  ## apply every pending migration to the local stack and show the status
	$(CLI) up
	$(CLI) status

status:
	$(CLI) status

validate:
	$(CLI) validate

# The whole suite on Neo4j 5.26 LTS, then the Neo4j op and engine tests on the newest release line.
test: install       ## the test suite, against the real servers
	$(STACK) up all
	$(PYTHON) -m pytest
	POLYALEMBIC_NEO4J=newest $(PYTHON) -m pytest tests/test_ops_neo4j.py tests/test_neo4j_execution.py tests/test_engine.py

lint:
	$(PYTHON) -m ruff check polyalembic stack tests migrations bench

# every comparison of bench/README.md with its baseline (about an hour on 2 cores: Chroma's 200,000-record
# copies take 12 minutes each); exit 1 where a target is missed
bench: services-up
	$(PYTHON) bench/run.py
	$(PYTHON) bench/scale.py --plot bench/growth.png
	$(PYTHON) bench/neo4j_scale.py
	$(PYTHON) bench/chroma_scale.py

# before you stop, when you touched the path: status/no-op up/validate on 5,000 revisions and a
# 300-revision upgrade against Alembic (under 3 minutes)
bench-quick: services-up
	$(PYTHON) bench/scale.py --quick

crash: services-up  ## SIGKILL `up` at 50 points, recover, check every store converged
	$(PYTHON) bench/crash.py --kills 50
