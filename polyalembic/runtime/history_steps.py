"""The steps an upgrade or downgrade runs, in the history's order (``chain/order.py``).

Alembic plans an upgrade in an order of its own; polyalembic's plans, its status and its ledger
follow the history's order, so env.py hands Alembic the same steps sorted that way
(``configure(fn=...)``). ``polyalembic down N`` reverts the last N applied revisions as the
history orders them, from the heads read under the migration lock: Alembic's relative downgrade
(``-N``) can't walk past a merge. Any downgrade that would revert an irreversible revision is
refused before its first step.
"""

from __future__ import annotations

import functools
from typing import Any

from polyalembic.chain.migration import Migration
from polyalembic.chain.positions import History, refuse_irreversible
from polyalembic.runtime.alembic_internals import command_steps, downgrade_steps


def history_steps(context: Any, migrations: dict[str, Migration], down_steps: int | None) -> dict[str, Any]:
    """The ``configure`` keyword that makes the running upgrade/downgrade take its steps in the
    history's order ({} under any other command); ``migrations``: the bound ones, in that order."""
    alembic_steps = command_steps(context)
    if alembic_steps is None:
        return {}
    history = History(list(migrations.values()))
    rank = {m.revision: i for i, m in enumerate(history.chain)}
    script_directory = context.script

    @functools.wraps(alembic_steps)
    def steps(heads: Any, migration_context: Any) -> list[Any]:
        if down_steps is not None and alembic_steps.__name__ == "downgrade":
            plan = history.downgrade_plan(tuple(heads), down_steps)
            return downgrade_steps(script_directory, [m.revision for m in plan])
        planned = list(alembic_steps(heads, migration_context))
        revisions = [getattr(getattr(step, "revision", None), "revision", None) for step in planned]
        if alembic_steps.__name__ == "downgrade":
            refuse_irreversible([migrations[r] for r in revisions if r in migrations])
            return planned
        if None in revisions or any(r not in rank for r in revisions):
            return planned  # a stamp step, or a revision not bound: Alembic's own order
        return [step for _, step in sorted(zip((rank[r] for r in revisions), planned, strict=True),
                                           key=lambda pair: pair[0])]

    return {"fn": steps}


