"""Where a revision stands in the chain (-1: base), as up, down, stamp and repair resolve it."""

from __future__ import annotations

from polyalembic.chain.migration import Migration
from polyalembic.errors import PolyalembicError


def position_of(chain: list[Migration], revision: str | None) -> int:
    """Position of ``revision`` in the chain; -1 for base."""
    if revision is None:
        return -1
    for i, m in enumerate(chain):
        if m.revision == revision:
            return i
    raise PolyalembicError(f"the database is at revision {revision!r}, which no migration file defines")


def resolve(chain: list[Migration], target: str) -> int:
    """Position of ``target`` (``head``, ``base``, a revision or a unique prefix of one or of its
    file) in the chain; one line naming the candidates when it is unknown or ambiguous."""
    if target in ("head", "heads"):
        return len(chain) - 1
    if target == "base":
        return -1
    exact = [i for i, m in enumerate(chain) if m.revision == target]
    matches = exact or [i for i, m in enumerate(chain) if m.revision.startswith(target)
                        or m.migration_file.startswith(target)]
    if not matches:
        raise PolyalembicError(f"unknown revision {target!r}: `polyalembic status` lists the revisions")
    if len(matches) > 1:
        candidates = ", ".join(chain[i].revision for i in matches[:5]) + (", …" if len(matches) > 5 else "")
        raise PolyalembicError(f"revision {target!r} is ambiguous ({candidates}): give more of it")
    return matches[0]
