#!/usr/bin/env bash
# The seed's migration manager, kept as a thin wrapper: ./migrations/migrate.sh up|down|status|...
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec "${PYTHON:-python3}" -m polyalembic -c "$here/../alembic.ini" "${@:-help}"
