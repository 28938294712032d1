"""Moving a project's chain up and down in a test, and reading its stores in between.

A data-migration test upgrades to the revision before the one under test, inserts rows, nodes
or records with each store's own handle (``with migrator.connection("postgres") as conn``),
upgrades on and asserts on the data. Every move goes through ``polyalembic.api`` (Alembic's
commands, the project's env.py, the ledger and the lock), exactly as ``polyalembic up`` would.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cached_property
from typing import Any

from polyalembic import api
from polyalembic.chain.migration import REVERSIBLE, Migration
from polyalembic.chain.order import heads
from polyalembic.chain.positions import History
from polyalembic.commands.status import MigrationStatus
from polyalembic.project import Project
from polyalembic.settings import Settings
from polyalembic.stores import get_store
from polyalembic.stores.connections import StoreConnections
from polyalembic.stores.sql.store import SqlStore


class Migrator:
    """The project's migrations against one test's disposable stores."""

    def __init__(self, project: Project) -> None:
        self.project = project
        #: every store's snapshot before anything ran: what a downgrade to base must give back
        self.empty_snapshot = self.snapshot()

    @property
    def settings(self) -> Settings:
        assert self.project.settings is not None
        return self.project.settings

    @cached_property
    def chain(self) -> list[Migration]:
        """Every migration, oldest first."""
        return self.project.chain()

    @property
    def revisions(self) -> list[str]:
        return [m.revision for m in self.chain]

    @property
    def stores(self) -> list[str]:
        """The stores the chain migrates, each once, in chain order."""
        return list(dict.fromkeys(m.store for m in self.chain))

    def current(self) -> str | None:
        """The revision the stores are at (None at base; while two branches are applied but not
        yet joined, the one the history orders last)."""
        heads = self.heads()
        return max(heads, key=[m.revision for m in self.chain].index) if heads else None

    def heads(self) -> tuple[str, ...]:
        """Every revision Alembic's version table holds (several between a branch point and its merge)."""
        return api.current_heads(self.project)

    def up(self, to: str = "head") -> list[Migration]:
        """Apply the migrations up to ``to`` (a revision, ``head``); return the ones applied."""
        return api.up(self.project, to).migrations("applied")

    def up_through(self, position: int) -> list[Migration]:
        """Apply every migration the history orders up to ``position`` (-1: none): what a floor
        of the up/down tests stands on, other branches before it included."""
        prefix = self.chain[:position + 1]
        applied: list[Migration] = []
        for head in heads(prefix):
            applied += self.up(head.revision)
        return applied

    def down(self, to: str = "base") -> list[Migration]:
        """Roll back to ``to`` (a revision id, which stays applied, or ``base``): the applied
        revisions the history orders after it, other branches' included; return the ones reverted."""
        applied = History(self.chain).applied(self.heads())
        if to != "base" and to not in applied:
            raise ValueError(f"{to} is not applied yet (current: {', '.join(self.heads()) or 'base'}): use up()")
        start = 0 if to == "base" else [m.revision for m in self.chain].index(to) + 1
        after = [m for m in self.chain[start:] if m.revision in applied]
        return api.down(self.project, len(after)).migrations("reverted") if after else []

    def status(self) -> list[MigrationStatus]:
        """Every migration's state, as ``polyalembic status`` shows it."""
        return api.status(self.project)[0]

    @contextmanager
    def connection(self, store: str) -> Iterator[Any]:
        """A new handle on ``store`` (SQLAlchemy connection, Neo4j ``GraphConnection``, Chroma client);
        SQL work is committed on a clean exit, and the handle is closed, so it holds no lock a
        migration would wait for."""
        with StoreConnections(self.settings) as connections:
            handle = connections.get(store)
            yield handle
            if isinstance(get_store(store), SqlStore):
                handle.commit()

    def snapshot(self, stores: list[str] | None = None) -> dict[str, Any]:
        """``{store: its declared schema}`` (the store contract's canonical JSON), for ``stores``
        (default: every store the chain migrates)."""
        with StoreConnections(self.settings) as connections:
            return {name: get_store(name).snapshot(connections.get(name)) for name in stores or self.stores}

    @property
    def reversible_from(self) -> int:
        """Where the history can be walked down to: the position of its last irreversible
        revision (-1, base, when it has none). The ready up/down tests start there."""
        return max((i for i, m in enumerate(self.chain) if m.reversal != REVERSIBLE), default=-1)

    def render(self, direction: str = "upgrade") -> str:
        """The ``--sql`` text of the whole chain (``upgrade`` base → head, or ``downgrade`` head →
        base, or down to the last irreversible revision), rendered offline: the project's settings
        are not used, nothing is connected to."""
        offline = Project(self.project.config_path, settings=Settings({}))
        stop = self.reversible_from
        migrations = self.chain if direction == "upgrade" else list(reversed(self.chain[stop + 1:]))
        plan = api.Plan(direction, migrations, None if direction == "upgrade" else self.chain[-1].revision,
                        self.chain[-1].revision if direction == "upgrade" else
                        self.chain[stop].revision if stop >= 0 else "base")
        parts: list[str] = []
        write: Callable[[str], None] = parts.append
        api.render(offline, plan, write)
        return "".join(parts)
