"""The operations behind the CLI, on top of Alembic's commands: up, down, status, stamp, fresh.

Everything here runs Alembic's own ``command`` functions with the project's settings, so the
CLI, ``alembic upgrade head`` and ``make migrate`` take the same path through migrations/env.py.

Lazy imports: Alembic and the ledger's writes (SQLAlchemy) load when a call needs them: the reading
commands import this module and stay light.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from polyalembic.chain.migration import Migration
from polyalembic.chain.positions import History, resolve
from polyalembic.commands.committed_steps import with_markers
from polyalembic.commands.status import MigrationStatus, read_status
from polyalembic.errors import PolyalembicError
from polyalembic.ledger.reads import current_heads as read_current_heads
from polyalembic.ledger.reads import read_rows, reading, refuse_foreign
from polyalembic.project import Project
from polyalembic.request import RunRequest
from polyalembic.runtime.preconditions import changed_after_applied, refuse_invalid
from polyalembic.settings import Settings
from polyalembic.stores import STORES, get_store
from polyalembic.stores.connections import StoreConnections

if TYPE_CHECKING:
    pass

CONFIRM_PHRASE = "DELETE ALL DATA"
PRODUCTION_VARIABLES = ("POLYALEMBIC_ENV", "APP_ENV")


@dataclass(frozen=True)
class Plan:
    """What an up or down would do: the migrations, in the order they would run."""

    direction: str
    migrations: list[Migration]
    source: str | None
    target: str


def current_heads(project: Project) -> tuple[str, ...]:
    """The revisions Alembic's version table holds; () at base."""
    assert project.settings is not None
    with reading(project.settings) as query:
        return read_current_heads(query)


def plan_up(project: Project, target: str = "head") -> Plan:
    """The pending migrations up to ``target``, in the order they run."""
    history = History(project.chain())
    if target in ("head", "heads"):
        head = project.single_head()
        target = head or "base"
    heads = current_heads(project)
    source = ", ".join(heads) or None
    return Plan("upgrade", history.upgrade_plan(heads, target), source, target)


def plan_down(project: Project, steps: int = 1) -> Plan:
    """The last ``steps`` applied migrations, newest first."""
    history = History(project.chain())
    heads = current_heads(project)
    migrations = history.downgrade_plan(heads, steps)
    reverted = {m.revision for m in migrations}
    left = [m.revision for m in history.chain if m.revision in history.applied(heads) - reverted]
    return Plan("downgrade", migrations, ", ".join(heads) or None, left[-1] if left else "base")


def up(project: Project, target: str = "head") -> RunRequest:
    """Apply pending migrations up to ``target``; the run's request says what it really applied
    (``.migrations("applied")``: after a lock wait another run may have applied some or all of the
    plan). Alembic is imported, and ``.ran``, only when the plan was not empty."""
    request = project.new_request()
    plan = plan_up(project, target)
    if not plan.migrations:  # validate-on-migrate, as Alembic's run does when something is pending
        with reading(project.settings) as query:
            refuse_invalid(changed_after_applied(project.chain(), read_rows(query)))
        return request
    from alembic import command

    command.upgrade(project.config(request), plan.target)
    return request


def down(project: Project, steps: int = 1) -> RunRequest:
    """Roll back the last ``steps`` migrations across the stores, newest first; the request says
    what was reverted (``.migrations("reverted")``)."""
    from alembic import command

    plan_down(project, steps)  # refuses what can't be rolled back, before anything runs
    # env.py takes the last `steps` applied from the heads it reads under the migration lock
    request = project.new_request(down_steps=steps)
    command.downgrade(project.config(request), f"-{steps}")
    return request


def render(project: Project, plan: Plan, write: Callable[[str], None]) -> None:
    """Write every store's statements or plan for ``plan`` (Alembic's offline mode; no store is touched)."""
    from alembic import command

    if not plan.migrations:
        return
    if plan.source and ", " in plan.source:
        raise PolyalembicError(f"--dry-run renders from one revision, and alembic_version holds {plan.source} (two "
                               "branches applied, not yet joined): `polyalembic up` joins them, or `polyalembic "
                               "status` lists what is pending")
    config = project.config()
    config.output_buffer = _Writer(write)
    span = f"{plan.source or 'base'}:{plan.target}"
    if plan.direction == "upgrade":
        command.upgrade(config, span if plan.source else plan.target, sql=True)
    else:
        command.downgrade(config, span, sql=True)


class _Writer:
    """A file-like object forwarding Alembic's offline output to a callable."""

    def __init__(self, write: Callable[[str], None]) -> None:
        self._write = write

    def write(self, text: str) -> int:
        self._write(text)
        return len(text)

    def flush(self) -> None:
        pass


def status(project: Project) -> tuple[list[MigrationStatus], tuple[str, ...]]:
    """Every migration's state, and the revisions the version table holds; a half-done migration's store is asked
    which of its steps committed (its markers)."""
    statuses, current = read_status(project)
    return with_markers(statuses, project.settings), current


def stamp(project: Project, target: str = "head", backwards: bool = False) -> RunRequest:
    """Record ``target`` (and every migration before it) as applied without running them; the
    request says whose rows changed (``stamped``, or ``unstamped`` going back). Moving the ledger
    back (un-stamping what is recorded as applied: the stores still hold it) needs ``backwards``."""
    from alembic import command

    history = History(project.chain())
    wanted = _stamp_target(project, history, target)
    _refuse_stamping_an_unrecorded_history(project, history, wanted, target)
    applied = history.applied(current_heads(project))
    # as Alembic stamps: applied revisions standing on the target go back to it; other branches stay
    undone = [m.revision for m in reversed(history.chain) if m.revision in applied and m.revision != wanted
              and (wanted is None or wanted in history.applied((m.revision,)))]
    if undone and not backwards:
        raise PolyalembicError(f"stamp {target} would move the ledger back and un-stamp {', '.join(undone)} (their "
                               "changes stay in the stores): pass --backwards if that is what you mean")
    request = project.new_request(allow_backwards=backwards)
    command.stamp(project.config(request), wanted or "base")
    return request


def _stamp_target(project: Project, history: History, target: str) -> str | None:
    """The revision ``target`` names (None for base)."""
    if target == "base":
        return None
    if target in ("head", "heads"):
        return project.single_head()
    return history.chain[resolve(history.chain, target)].revision


def _refuse_stamping_an_unrecorded_history(project: Project, history: History, wanted: str | None,
                                           target: str) -> None:
    """Stamping where alembic_version already is would change nothing and leave an empty ledger
    (every revision pending): that is a database another Alembic project migrated, for ``adopt``."""
    assert project.settings is not None
    with reading(project.settings) as query:
        heads, rows = read_current_heads(query), read_rows(query)
    if heads and not rows and wanted in history.applied(heads):
        raise PolyalembicError(f"stamp {target}: alembic_version is at {', '.join(heads)} already, but the ledger "
                               "records none of it: `polyalembic adopt alembic` records the history up to there "
                               "(audited), and nothing runs")


def production_guard() -> None:
    for variable in PRODUCTION_VARIABLES:
        if os.environ.get(variable, "").strip().lower() in ("production", "prod"):
            raise PolyalembicError(f"fresh refuses to run with {variable}={os.environ[variable]}: "
                                   "it deletes all data")


def drop_everything(project: Project, confirmation: str | None) -> dict[str, list[str]]:
    """The destructive half of ``fresh``: refuses in production or without the phrase."""
    from polyalembic.ledger.writes import Ledger, locked

    production_guard()
    if confirmation != CONFIRM_PHRASE:
        raise PolyalembicError(f"fresh needs the confirmation phrase {CONFIRM_PHRASE!r}; nothing was changed")
    assert project.settings is not None
    with reading(project.settings) as query:  # another tool's ledger is not ours to clear
        refuse_foreign(query)
    stores = [s for s in STORES if s in {m.store for m in project.chain()}]
    dropped: dict[str, list[str]] = {}
    with StoreConnections(project.settings) as connections:
        for store in stores:  # connect to every store first: fail before anything is dropped
            connections.get(store)
        with locked(project.settings, ensure=False) as lock_conn:
            for store in _one_reset_per_database(project.settings, stores):
                dropped[store] = get_store(store).drop_all(connections.get(store))
            Ledger(project.settings.ledger_store).cleared(lock_conn)
    return dropped


def _one_reset_per_database(settings: Settings, stores: list[str]) -> list[str]:
    """Stores to reset, where stores sharing one database are reset once, by the later store of
    the registry (a later store's reset extends an earlier one's: it knows more object kinds)."""
    result: list[str] = []
    for store in stores:
        dsn = settings.database_url(store)
        result = [s for s in result if not (dsn and settings.same_database(settings.database_url(s), dsn))]
        result.append(store)
    return result
