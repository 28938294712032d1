"""Bind a plain ``NNN_name.up.<ext>`` / ``NNN_name.down.<ext>`` pair into the Alembic chain.

A pair is joined to the chain by a small revision file of the same stem that declares the
revision ids and the store, and ends with::

    upgrade, downgrade = migration_files(__file__)

The returned functions run the ``.up``/``.down`` file through the store's op
(``op.run_sql_file`` for SQL stores, ``op.run_cypher_file`` for Neo4j), so ``--sql`` renders them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from polyalembic.errors import PolyalembicError

PAIR_SUFFIXES = {".sql": "run_sql_file", ".cql": "run_cypher_file"}


def pair_paths(revision_file: str | Path) -> tuple[Path, Path] | None:
    """The (up, down) files beside ``revision_file``, or None when it has no pair."""
    path = Path(revision_file)
    stem = path.name.removesuffix(".py")
    for suffix in PAIR_SUFFIXES:
        up, down = path.with_name(f"{stem}.up{suffix}"), path.with_name(f"{stem}.down{suffix}")
        if up.exists() or down.exists():
            return up, down
    return None


def migration_files(revision_file: str) -> tuple[Callable[[], None], Callable[[], None]]:
    """``upgrade`` and ``downgrade`` functions that run the pair beside ``revision_file``."""
    paths = pair_paths(revision_file)
    if paths is None:
        raise PolyalembicError(f"{Path(revision_file).name}: no .up.sql/.down.sql or .up.cql/.down.cql beside it")
    up, down = paths
    op_name = PAIR_SUFFIXES[up.suffix]

    def run(path: Path, direction: str) -> Callable[[], None]:
        def step() -> None:
            from alembic import op

            getattr(op, op_name)(str(path))

        step.__name__ = direction
        step.__doc__ = f"Run {path.name}."
        return step

    upgrade, downgrade = run(up, "upgrade"), run(down, "downgrade")
    upgrade.polyalembic_file = up  # type: ignore[attr-defined]
    downgrade.polyalembic_file = down  # type: ignore[attr-defined]
    return upgrade, downgrade
