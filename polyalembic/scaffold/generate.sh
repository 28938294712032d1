#!/usr/bin/env bash
# The seed's migration generator: ./migrations/generate.sh <postgres|timescaledb|neo4j|chromadb> <name>
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec "${PYTHON:-python3}" -m polyalembic -c "$here/../alembic.ini" generate "$@"
