"""Bind a plain ``NNN_name.up.<ext>`` / ``NNN_name.down.<ext>`` pair into the Alembic chain.

A pair is joined to the chain by a small revision file of the same stem that declares the
revision ids and the store, and ends with::

    upgrade, downgrade = migration_files(__file__)

The returned functions run the ``.up``/``.down`` file through the op its store declares for pair
files (``Store.pair_op``), so ``--sql`` renders them.

Lazy imports: Alembic, when a binder file's migration runs: importing a revision file for the index
costs nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from polyalembic.errors import PolyalembicError, as_command_error
from polyalembic.stores import pair_ops

#: marks a revision function that only runs a pair file's op, as one batch (see ``Run.trailer``)
ONE_BATCH = "__polyalembic_one_batch__"
#: the first line of a down file nobody wrote yet (``adopt`` makes them for a tool that had no
#: undo): a downgrade through it is refused until someone writes the file
STUB_MARK = "polyalembic: no downgrade written"


def is_stub(path: Path) -> bool:
    """True when the down file at ``path`` is still the stub ``adopt`` wrote."""
    try:
        with path.open("rb") as file:
            return STUB_MARK.encode() in file.readline(512)
    except OSError:
        return False


def stub_refusal(revision: str, down: Path, up_name: str) -> PolyalembicError:
    """The one line a downgrade through a stub down file stops with."""
    return PolyalembicError(f"cannot roll back {revision}: its down file {down.name} is the stub adopt wrote (the tool "
                            f"it came from had no undo): write what reverts {up_name} in it and delete its first line")


def pair_file_names(stem: str, exists: Callable[[str], bool], suffixes: Iterable[str]) -> tuple[str, str] | None:
    """The one rule of what a pair is: the names of revision ``stem``'s (up, down) files, for the
    first store suffix either of them ``exists`` with; None when it has no pair."""
    for suffix in suffixes:
        up, down = f"{stem}.up{suffix}", f"{stem}.down{suffix}"
        if exists(up) or exists(down):
            return up, down
    return None


def pair_paths(revision_file: str | Path) -> tuple[Path, Path] | None:
    """The (up, down) files beside ``revision_file``, or None when it has no pair."""
    path = Path(revision_file)
    names = pair_file_names(path.name.removesuffix(".py"), lambda name: path.with_name(name).exists(), pair_ops())
    return (path.with_name(names[0]), path.with_name(names[1])) if names else None


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

            if direction == "downgrade" and is_stub(path):
                raise as_command_error(stub_refusal(Path(revision_file).stem, path, up.name))
            getattr(op, op_name)(str(path))

        step.__name__ = direction
        step.__doc__ = f"Run {path.name}."
        setattr(step, ONE_BATCH, True)
        return step

    return run(up, "upgrade"), run(down, "downgrade")
