"""The two places where polyalembic reaches into Alembic's internals, and nowhere else.

``tests/unit/test_alembic_internals.py`` checks both against the installed Alembic, so an Alembic
release that changes them fails that test loudly instead of a migration quietly; pyproject.toml
pins the range that was checked.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from alembic import op as op_proxy
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext

# Only Alembic's upgrade/downgrade commands compute their steps without side effects (`current`,
# `stamp` and others print or write from their function).
_PLANNING_COMMANDS = ("upgrade", "downgrade")


def planned_command(migration_context: MigrationContext) -> str | None:
    """``upgrade`` or ``downgrade`` when one of those commands is running; None otherwise."""
    name = getattr(getattr(migration_context, "_migrations_fn", None), "__name__", None)
    return name if name in _PLANNING_COMMANDS else None


def planned_revisions(migration_context: MigrationContext) -> list[str] | None:
    """The revisions the running ``upgrade``/``downgrade`` command is about to run, in order; None
    for any other command. Reads the command's step function (``MigrationContext._migrations_fn``)."""
    if planned_command(migration_context) is None:
        return None
    steps_fn = migration_context._migrations_fn
    revisions = []
    for step in steps_fn(migration_context.get_current_heads(), migration_context):
        script = getattr(step, "revision", None)  # a RevisionStep; a StampStep runs nothing
        if script is not None:
            revisions.append(script.revision)
    return revisions


@contextmanager
def operations_on(migration_context: MigrationContext) -> Iterator[Operations]:
    """Point ``alembic.op`` at ``migration_context`` for the block, then back at the outer context
    (``Operations.context`` removes the proxy on exit instead of restoring the previous one)."""
    outer = op_proxy._proxy  # type: ignore[attr-defined]
    try:
        with Operations.context(migration_context) as operations:
            yield operations
    finally:
        outer._install_proxy()


def current_context() -> Any:
    """The migration context of the revision being run."""
    return op_proxy.get_context()
