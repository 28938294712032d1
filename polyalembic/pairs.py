"""Bind a plain ``NNN_name.up.<ext>`` / ``NNN_name.down.<ext>`` pair into the Alembic chain.

A pair is joined to the chain by a small revision file of the same stem that declares the
revision ids and the store, and ends with::

    upgrade, downgrade = migration_files(__file__)

The returned functions run the ``.up``/``.down`` file through the op its store declares for pair
files (``Store.pair_op``), so ``--sql`` renders them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from polyalembic.errors import PolyalembicError, as_command_error
from polyalembic.runtime.current_run import ONE_BATCH
from polyalembic.stores import pair_ops


def pair_paths(revision_file: str | Path) -> tuple[Path, Path] | None:
    """The (up, down) files beside ``revision_file``, or None when it has no pair."""
    path = Path(revision_file)
    stem = path.name.removesuffix(".py")
    for suffix in pair_ops():
        up, down = path.with_name(f"{stem}.up{suffix}"), path.with_name(f"{stem}.down{suffix}")
        if up.exists() or down.exists():
            return up, down
    return None


def migration_files(revision_file: str) -> tuple[Callable[[], None], Callable[[], None]]:
    """``upgrade`` and ``downgrade`` functions that run the pair beside ``revision_file``."""
    paths = pair_paths(revision_file)
    if paths is None:
        pairs = " or ".join(f".up{s}/.down{s}" for s in pair_ops())
        # raised while Alembic loads the revision (also `alembic heads`, `history`): its kind of error
        raise as_command_error(PolyalembicError(f"{Path(revision_file).name}: no {pairs} file beside it"))
    up, down = paths
    op_name = pair_ops()[up.suffix]

    def run(path: Path, direction: str) -> Callable[[], None]:
        def step() -> None:
            from alembic import op

            getattr(op, op_name)(str(path))

        step.__name__ = direction
        step.__doc__ = f"Run {path.name}."
        setattr(step, ONE_BATCH, True)
        return step

    return run(up, "upgrade"), run(down, "downgrade")
