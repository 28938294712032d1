"""`python -m stack up|down|status|leftovers|install-timescaledb [service ...]`: the local stack."""

from __future__ import annotations

import sys

from stack.base import CACHE_DIR, PrerequisiteMissing, StartFailed
from stack.manager import SERVICES, down, leftovers, status, up

USAGE = (f"usage: python -m stack env|up|down|status|leftovers|install-timescaledb [{'|'.join(SERVICES)}|all ...]\n"
         "  env: make or update the project environment (.venv, with uv from uv.lock)\n"
         "  up: start the default services (postgres, the Neo4j line of $POLYALEMBIC_NEO4J, chromadb) or those named\n"
         "  leftovers: exit 1 listing any process still running from the stack's folders\n"
         "  install-timescaledb: (root) build and install the vendored TimescaleDB once")


def install_timescaledb() -> None:
    from stack import timescaledb
    from stack.postgres import find_bindir

    print(f"TimescaleDB {timescaledb.VERSION}: {timescaledb.ensure(find_bindir(), CACHE_DIR)}")


def main(argv: list[str]) -> int:
    commands = {"env", "up", "down", "status", "leftovers", "install-timescaledb"}
    if not argv or argv[0] not in commands:
        print(USAGE, file=sys.stderr)
        return 2
    command, names = argv[0], argv[1:] or None
    try:
        if command == "env":
            from stack import environment

            environment.sync()
        elif command == "up":
            up(names)
        elif command == "down":
            down(names)
        elif command == "install-timescaledb":
            install_timescaledb()
        elif command == "leftovers":
            found = leftovers()
            for line in found:
                print(f"still running: {line}")
            return 1 if found else 0
        else:
            return status()
    except (PrerequisiteMissing, StartFailed, RuntimeError) as exc:
        print(f"stack: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
