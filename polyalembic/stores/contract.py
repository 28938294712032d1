"""The one contract between polyalembic's core and a store, and the capabilities a store may add.

The core (settings, ledger, runtime, api, commands, cli) knows stores only through this class,
the way Alembic's migration context knows a dialect only through its ``DefaultImpl`` and
golang-migrate knows a database only through ``database.Driver``. What every store does is small:
say where it is, connect, snapshot its schema, drop everything, check a pair file. What only some
do is a capability named as such: a SQL database (``polyalembic.stores.sql.store.SqlStore``: the
ledger can live in one, its migrations can commit with their ledger row) and comparison by
Alembic's autogenerate (:class:`Autogenerates`). A store is one object in the registry
(``polyalembic/stores/__init__.py``); its ops (what a revision declares) and their
implementations (what runs or renders them) live in the store's folder beside it.

Every method gets the run's settings (anything with ``env``, the connection variables as read)
or the handle :meth:`Store.connect` returned. Nothing here imports a driver: a store imports its
driver inside ``connect``, so ``import polyalembic`` and the CLI stay light.
``polyalembic.testing.conformance`` checks a store against this contract on a real server.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar, NamedTuple, Protocol


class Settings(Protocol):
    """What a store reads of the run's settings: the connection variables."""

    @property
    def env(self) -> Mapping[str, str]: ...


class DatabaseObject(NamedTuple):
    """An object of a SQL store's live database, as Alembic's autogenerate reflects it."""

    #: Alembic's ``include_name`` type: schema, table, column, index, unique_constraint, ...
    kind: str
    #: its schema (the connection's default schema spelled out)
    schema: str
    name: str
    #: the table it belongs to (None for a schema or a table)
    table: str | None = None


class Store(ABC):
    """One kind of store. Subclasses set the class attributes and implement the abstract methods."""

    #: the store's name: its migrations folder, ``store = "<name>"`` in revisions, the ledger's
    #: ``database_type``
    name: ClassVar[str]
    #: the environment variables that configure it (read by ``load_settings``)
    env_keys: ClassVar[tuple[str, ...]] = ()
    #: ``NNN_name.up<suffix>`` / ``.down<suffix>`` plain migration files, and the op that runs one
    pair_suffix: ClassVar[str | None] = None
    pair_op: ClassVar[str | None] = None
    #: modules that register the store's ops (``op.<name>``) and their implementations
    op_modules: ClassVar[tuple[str, ...]] = ()
    #: module with what ``generate`` writes: ``UP``/``DOWN`` for a pair store, else ``REVISION``
    templates_module: ClassVar[str]
    #: what a user sets to configure the store, for "not configured" errors
    setup_hint: str = ""

    # -- configuration -------------------------------------------------------------------------
    @abstractmethod
    def location(self, settings: Settings) -> str:
        """Where the store is, for status and errors; never holds a secret."""

    def place(self, settings: Settings) -> str | None:
        """Where the store's migrations land, as a key two settings share exactly when they reach
        the same place (a fleet's targets must not share one: each would apply the chain there);
        None when the settings do not configure the store. The default: its location."""
        return self.location(settings) if any(settings.env.get(key) for key in self.env_keys) else None

    def source(self, settings: Settings) -> str:
        """The variable(s) the store's configuration came from: errors name them as the place to fix."""
        del settings
        return " / ".join(self.env_keys)

    def secrets(self, settings: Settings) -> tuple[str, ...]:
        """Secret values of its configuration that masking must hide wherever they appear."""
        del settings
        return ()

    # -- connections ---------------------------------------------------------------------------
    @abstractmethod
    def connect(self, settings: Settings) -> Any:
        """An open, checked handle; ``StoreUnavailable`` (masked, naming the store) otherwise."""

    def close(self, handle: Any) -> None:
        """Release ``handle``."""
        del handle

    def verify(self, handle: Any, settings: Settings) -> None:
        """Preflight beyond connecting (an extension the migrations need, say): raise
        ``StoreUnavailable`` with the fix. ``handle`` may be in a transaction: leave it as it was."""
        del handle, settings

    # -- live state ----------------------------------------------------------------------------
    @abstractmethod
    def snapshot(self, handle: Any) -> dict[str, Any]:
        """The declared schema as canonical JSON-able data (sorted; no row counts or other
        volatile facts): equal snapshots mean equal schemas."""

    # -- drift (``polyalembic drift``: a recorded snapshot against the live one) ---------------
    def snapshot_objects(self, snapshot: Mapping[str, Any]) -> dict[str, Any]:
        """The snapshot as its objects, ``"<kind> <name>" -> definition``: the unit drift reports as
        added, dropped or changed, and what counts as managed once a snapshot held it. The default
        takes every entry of a mapping or list section, named by the section."""
        found: dict[str, Any] = {}
        for section, value in snapshot.items():
            if isinstance(value, Mapping):
                found |= {f"{section} {name}": definition for name, definition in value.items()}
            elif isinstance(value, list):
                found |= {f"{section} {_label(item)}": item for item in value}
            else:
                found[section] = value
        return found

    def describe_object(self, key: str, old: Any, new: Any) -> list[str]:
        """Plain words for one object that differs (``old`` None: added by hand; ``new`` None: gone).
        Stores word their own kinds (a column, a policy, an hnsw setting); this is the fallback."""
        if old is None:
            return [f"{key} added (not in any migration)"]
        if new is None:
            return [f"{key} dropped"]
        return [f"{key} changed"]

    def describe_difference(self, old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
        """Every difference between two snapshots of this store, in plain words, sorted by object."""
        before, after = self.snapshot_objects(old), self.snapshot_objects(new)
        lines: list[str] = []
        for key in sorted(before.keys() | after.keys()):
            if before.get(key) != after.get(key):
                lines += self.describe_object(key, before.get(key), after.get(key))
        return lines

    @abstractmethod
    def drop_all(self, handle: Any) -> list[str]:
        """Drop everything in the store (dev only: ``fresh``, tests) and commit; say what went."""

    # -- migration files -----------------------------------------------------------------------
    def check_file(self, path: Path, text: str) -> list[str]:
        """Problems of one ``.up``/``.down`` file that ``validate`` reports (no server needed)."""
        del path, text
        return []

    # -- code ----------------------------------------------------------------------------------
    def register_ops(self) -> None:
        """Import the store's ops and implementations, so revisions can call ``op.<name>``."""
        for module in self.op_modules:
            importlib.import_module(module)

    def templates(self) -> ModuleType:
        return importlib.import_module(self.templates_module)

    def __repr__(self) -> str:
        return f"<store {self.name}>"


class Autogenerates(ABC):
    """A capability: a SQL store whose database Alembic's autogenerate compares with a SQLAlchemy
    MetaData (``[polyalembic] target_metadata``, ``alembic revision --autogenerate``, ``alembic check``)."""

    @abstractmethod
    def autogenerate_hidden(self, handle: Any) -> Callable[[DatabaseObject], bool]:
        """What autogenerate never reports in a database of this store unless the metadata
        declares it: True for an object the store or its extension makes itself, not a migration
        (bookkeeping tables, an extension's schemas, TimescaleDB's default hypertable index).
        Read from ``handle`` once per comparison."""


class StepMarkers(ABC):
    """A capability: a store whose steps that commit on their own each write a marker in their own
    transaction (the migration's revision and the step's position), so a resume tells a step that
    committed from one that never did, and never runs a committed one again. The markers live in
    the store, never in its snapshot, and go at the end of the run that recorded the migration
    (a kill just before leaves them, inert, to the next run that touches the store)."""

    @abstractmethod
    def marked_steps(self, handle: Any, revision: str) -> set[int]:
        """The positions of ``revision``'s steps whose markers are in the store."""

    @abstractmethod
    def clear_marks(self, handle: Any, keep: set[str]) -> None:
        """Remove every marker but those of the revisions in ``keep`` (still half done)."""

    @abstractmethod
    def drop_marks(self, handle: Any, revision: str) -> None:
        """Remove ``revision``'s markers (it runs again from its first step)."""

    def step_in_place(self, handle: Any, step: str) -> bool:
        """For a step that can't carry a marker (a schema statement), True when the live store
        shows it done (the object it creates exists, the one it drops is gone)."""
        del handle, step
        return False



class ForeignMigration(NamedTuple):
    """One versioned migration file of another tool, read as that tool reads it."""

    #: the tool's version, spelled as the tool prints it ("1", "1.1")
    version: str
    #: a snake_case name for polyalembic's files ("create_person")
    name: str
    #: the file's name in the tool's folder ("V1__create_person.cypher")
    source: str
    #: the file's text (what becomes the ``.up`` file)
    up: str
    #: the tool's undo file's text, None when it has none (the down file becomes a refusing stub)
    down: str | None
    #: the checksum the tool computes over the file, as it records it
    checksum: str


class ForeignApplied(NamedTuple):
    """One migration another tool recorded as run in the store."""

    version: str
    #: the checksum the tool recorded (None when it records none)
    checksum: str | None
    #: when it ran (None when the tool records no time)
    applied_at: Any
    #: False for a row the tool recorded as failed
    success: bool
    #: what the tool recorded it as (its script or description), for messages
    recorded_as: str
    #: True for a baseline: every migration up to this version was in place before the tool ran
    baseline: bool = False


class ForeignHistory(ABC):
    """A capability: another migration tool's history of this store, which ``polyalembic adopt
    <tool> DIR`` converts into revisions of the store and records as applied. The store reads the
    tool's folder and the tool's bookkeeping in the store; the core decides what is adopted."""

    #: the command's name (``polyalembic adopt <tool>``)
    tool: ClassVar[str]
    #: the tool's name in messages ("neo4j-migrations", "Flyway")
    tool_title: ClassVar[str]
    #: the suffix of the pair files the tool's migrations become (".cypher", ".sql")
    adopted_suffix: ClassVar[str]

    @abstractmethod
    def foreign_migrations(self, folder: Path) -> list[ForeignMigration]:
        """The tool's versioned migrations in ``folder``, in the tool's order; a PolyalembicError
        naming the file for one the tool would not run or polyalembic can't adopt."""

    @abstractmethod
    def foreign_applied(self, handle: Any) -> list[ForeignApplied]:
        """What the tool recorded as run in the store, in the order it ran; [] when the store holds
        no history of the tool's."""

    def foreign_version_key(self, version: str) -> Any:
        """The tool's equality and order of versions (Flyway's ``1`` is its ``1.0``): a value that
        compares as the tool compares; the version itself by default."""
        return version


def _label(item: Any) -> str:
    """A list item's name in drift's words: a string as it is, a pair or tuple joined."""
    if isinstance(item, (list, tuple)):
        return " ".join(str(part) for part in item)
    return str(item)
