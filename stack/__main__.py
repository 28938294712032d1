"""`python -m stack up|down|status [service ...]`: manage the local four-store stack."""

from __future__ import annotations

import sys

from stack.base import PrerequisiteMissing, StartFailed
from stack.manager import down, status, up

USAGE = "usage: python -m stack up|down|status [postgres|timescaledb|neo4j|chromadb ...]"


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"up", "down", "status"}:
        print(USAGE, file=sys.stderr)
        return 2
    command, names = argv[0], argv[1:] or None
    try:
        if command == "up":
            up(names)
        elif command == "down":
            down(names)
        else:
            return status()
    except (PrerequisiteMissing, StartFailed, RuntimeError) as exc:
        print(f"stack: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
