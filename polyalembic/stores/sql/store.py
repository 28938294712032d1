"""The SQL base store: a store that is a SQL database reached by a DSN from its own variables.

Its migrations are Alembic's own ops or ``.up``/``.down`` pair files, and they can commit in one
transaction with their ledger row when the store's database is the ledger's. The ledger lives in
such a database by design, and the core reaches everything dialect-specific through this class:
the DSN forms and database identity, the migration lock, the upsert and JSON type the ledger is
written with, a dialect to compile its statements once, disposable databases for tests. The core
is handed a ``SqlStore`` (``Settings.ledger_store``, the registry); it never imports a dialect.

A migration on a database other than the ledger's commits apart from its ledger row: it writes a
step marker in its own transaction (``StepMarkers``, ``markers.py``).

Lazy imports: ``markers`` (SQLAlchemy), when a marker is read or written.
"""

from __future__ import annotations

from abc import abstractmethod
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from polyalembic.errors import StoreUnavailable
from polyalembic.masking import mask_dsn
from polyalembic.stores.contract import StepMarkers, Store
from polyalembic.stores.sql import connect

if TYPE_CHECKING:
    from collections.abc import Callable

    import sqlalchemy as sa

    from polyalembic.stores.contract import Settings


class CannotCreateDatabase(Exception):
    """The server refused CREATE DATABASE (the user has no privilege to create one)."""


class SqlStore(Store, StepMarkers):
    """A SQL database store. Subclasses name their variables and supply the dialect's facts."""

    #: the variables naming the database, first set wins
    dsn_variables: ClassVar[tuple[str, ...]]
    #: the variable naming the schema the store lives in, one per DSN variable (its pair: the
    #: schema of the DSN that was taken); () for a dialect without schemas
    schema_variables: ClassVar[tuple[str, ...]] = ()
    #: True when a migration's changes can commit in one transaction with its ledger row (when
    #: the store's database is the ledger's)
    transactional: ClassVar[bool] = True
    #: a SQLAlchemy URL naming the dialect alone: what ``--sql`` renders with when no DSN is set
    offline_url: ClassVar[str]

    # -- configuration -------------------------------------------------------------------------
    def database_url(self, settings: Settings) -> str | None:
        """The DSN of the store's database as configured, in its schema when one is set (None:
        not configured)."""
        for k, variable in enumerate(self.dsn_variables):
            if settings.env.get(variable):
                dsn = settings.env[variable]
                schema_variable = self.schema_variables[k] if k < len(self.schema_variables) else None
                schema = settings.env.get(schema_variable) if schema_variable else None
                return self.schema_dsn(dsn, schema, schema_variable) if schema else dsn
        return None

    def schema_dsn(self, dsn: str, schema: str, source: str | None) -> str:
        """``dsn`` with its sessions in ``schema`` (set by the variable ``source``), or
        ``StoreUnavailable`` naming the variable when the schema cannot be."""
        try:
            return self.in_schema(dsn, schema)
        except ValueError as exc:
            raise StoreUnavailable(f"{self.name}: {source}={schema!r}: {exc}") from None

    def variables_for(self, url: str) -> dict[str, str | None]:
        """The settings that point the store at ``url`` alone (its schema variables unset): a
        connection a caller hands in defines where the store is."""
        return {self.dsn_variables[0]: url, **dict.fromkeys(self.schema_variables)}

    def place(self, settings: Settings) -> str | None:
        dsn = self.database_url(settings)
        return self.place_of(dsn) if dsn else None

    def place_of(self, dsn: str) -> str:
        """``dsn``'s database (and schema) as a key: equal for two DSNs of one place, whoever
        connects and however the DSN is spelled."""
        return self.normalized(dsn)

    def source(self, settings: Settings) -> str:
        return next((v for v in self.dsn_variables if settings.env.get(v)), self.dsn_variables[0])

    @property
    def setup_hint(self) -> str:
        return f"set {' or '.join(self.dsn_variables)}"

    def location(self, settings: Settings) -> str:
        return mask_dsn(self.database_url(settings)) or f"(not configured: {self.setup_hint})"

    def secrets(self, settings: Settings) -> tuple[str, ...]:
        password = self.password_of(self.database_url(settings))
        return (password,) if password else ()

    # -- the dialect's DSN forms ---------------------------------------------------------------
    @abstractmethod
    def normalized(self, dsn: str) -> str:
        """A URL for ``dsn`` (URLs kept, the dialect's other DSN forms converted); ValueError
        (masked, saying what is wrong) for anything else."""

    @abstractmethod
    def sqlalchemy_url(self, dsn: str) -> str:
        """``dsn`` as the URL SQLAlchemy's engine takes (its driver named)."""

    @abstractmethod
    def same_database(self, a: str | None, b: str | None) -> bool:
        """True when two DSNs name the same database on the same server (False when one is None)."""

    @abstractmethod
    def password_of(self, dsn: str | None) -> str | None:
        """The password a DSN carries, if any (for masking)."""

    # -- schemas -------------------------------------------------------------------------------
    def in_schema(self, dsn: str, schema: str) -> str:
        """A DSN of the database ``dsn`` names whose sessions live in ``schema`` (a tenant's, a
        project's ledger); ValueError when the dialect has no schemas or the name is not one."""
        del dsn
        raise ValueError(f"the {self.name} store has no schemas ({schema!r} cannot be one)")

    def schema_of(self, dsn: str | None) -> str | None:
        """The schema ``dsn`` puts its sessions in (None: the database's default)."""
        del dsn
        return None

    def session_statements(self, dsn: str | None) -> list[str]:
        """What a script rendered for ``dsn`` (``--sql``) runs first, to land where a session of
        ``dsn`` would (its schema)."""
        del dsn
        return []

    def session_hook(self, dsn: str) -> Callable[[Any], None] | None:
        """What a new driver session of ``dsn`` must run before anything reads through it (None:
        nothing)."""
        del dsn
        return None

    def ensure_schema(self, connection: sa.Connection) -> None:
        """Before a write on ``connection`` (nothing of its own pending): create the schema its DSN
        names if it is missing."""
        del connection

    # -- connections ---------------------------------------------------------------------------
    def connect(self, settings: Settings) -> sa.Connection:
        dsn = self.database_url(settings)
        if not dsn:
            raise StoreUnavailable(f"{self.name}: no database configured ({self.setup_hint})")
        connection = self.connect_to(dsn, self.name, self.source(settings))
        try:
            self.verify(connection, settings)
        except StoreUnavailable:
            connection.close()
            raise
        return connection

    def close(self, handle: sa.Connection) -> None:
        handle.close()

    def connect_to(self, dsn: str, what: str, source: str, autocommit: bool = False) -> sa.Connection:
        """A SQLAlchemy connection to ``dsn``, or ``StoreUnavailable`` naming ``what`` (a store, the
        ledger), the masked DSN and the fix in ``source`` (the variable the DSN came from)."""
        return connect.connect(self, dsn, what, source, autocommit)

    def driver_connection(self, dsn: str, what: str, source: str) -> Any:
        """A plain DB-API connection to ``dsn`` with ``connect_to``'s errors, for reading the
        ledger without importing SQLAlchemy (status, a no-op up); None when the store has none."""
        return connect.connect_driver(self, dsn, what, source)

    def dbapi_connect(self, dsn: str) -> Any:
        """The driver's own connection to the URL ``dsn`` (errors raised as the driver's); None
        when the store has no driver of its own to read with."""
        del dsn
        return None

    # -- what the ledger is written with -------------------------------------------------------
    @abstractmethod
    def migration_lock(self, connection: sa.Connection, on_wait: Callable[[str], object] | None = None,
                       timeout: float | None = None) -> AbstractContextManager[None]:
        """Hold the one migration lock of the database ``connection`` (autocommit) is on for the
        block, waiting at most ``timeout`` seconds (None: as long as it takes); ``on_wait`` hears
        who holds it when the run has to wait."""

    @abstractmethod
    def json_type(self) -> Any:
        """The column type of a JSON document (a store's snapshot in the ledger)."""

    @abstractmethod
    def upsert(self, table: sa.Table) -> Any:
        """An INSERT into ``table`` that can become an upsert (``.on_conflict_do_update(...)``)."""

    @abstractmethod
    def plain_dialect(self, paramstyle: str) -> sa.Dialect:
        """A dialect that compiles statements once, as text with ``paramstyle`` placeholders."""

    @abstractmethod
    def literal(self, value: Any) -> str:
        """``value`` (None, a number, text) as a literal of the dialect that reads back unchanged
        whatever the session's settings, for statements sent with the values written in."""

    @abstractmethod
    def rename_table(self, connection: sa.Connection, old: str, new: str) -> list[str]:
        """Rename table ``old`` to ``new`` in the connection's transaction, with the indexes and
        constraints named after it (so a new ``old`` can take their names); what was renamed."""

    @abstractmethod
    def try_claim(self, connection: sa.Connection, name: str) -> bool:
        """Take the lock named ``name`` for ``connection``'s session (autocommit) unless another
        session holds it: True when taken. It is held until ``release_claim`` or the session ends
        (a machine that dies gives its claims up): how fleet runs share out targets."""

    @abstractmethod
    def release_claim(self, connection: sa.Connection, name: str) -> None:
        """Give up the lock ``try_claim`` took."""

    # -- migration files -----------------------------------------------------------------------
    def commits_early(self, path: Path) -> bool:
        """True when the pair file at ``path`` runs outside a transaction, statement by statement."""
        del path
        return False

    # -- step markers (a migration on a database other than the ledger's) ------------------------
    def mark_step(self, connection: sa.Connection, revision: str, step: int, first: bool) -> None:
        """In the migration's transaction on ``connection``, after its work: the marker that says
        it committed (``first``: the run's first on this database, which makes the table)."""
        from polyalembic.stores.sql import markers

        if first:
            markers.ensure_table(connection)
        markers.mark(connection, revision, step)

    def marked_steps(self, handle: sa.Connection, revision: str) -> set[int]:
        from polyalembic.stores.sql import markers

        return markers.marked_steps(handle, revision)

    def clear_marks(self, handle: sa.Connection, keep: set[str]) -> None:
        from polyalembic.stores.sql import markers

        markers.clear_marks(handle, keep)

    def drop_marks(self, handle: sa.Connection, revision: str) -> None:
        from polyalembic.stores.sql import markers

        markers.drop_marks(handle, revision)

    # -- disposable databases (the pytest plugin's, tests') ------------------------------------
    @abstractmethod
    def create_database(self, admin_dsn: str, prefix: str, extensions: tuple[str, ...] = ()) -> str:
        """Create a database named ``<prefix>_<random>`` on ``admin_dsn``'s server with
        ``extensions``; return its DSN. ``CannotCreateDatabase`` when the server refuses."""

    @abstractmethod
    def drop_database(self, admin_dsn: str, dsn: str) -> None:
        """Drop the database ``dsn`` names, through ``admin_dsn``."""

    def database_extensions(self, dsn: str) -> tuple[str, ...]:
        """What a twin of the database ``dsn`` needs installed to run its migrations."""
        del dsn
        return ()


def is_transactional(store: Store) -> bool:
    """True for a store whose migrations can commit in one transaction with their ledger row."""
    return isinstance(store, SqlStore) and store.transactional


def commits_early(store: Store, path: Path) -> bool:
    """True for a pair file at ``path`` that ``store`` runs outside a transaction, statement by
    statement (only a transactional store has a transaction to run outside of)."""
    return isinstance(store, SqlStore) and store.transactional and store.commits_early(path)


def database_url(store: Store, settings: Settings) -> str | None:
    """The SQL database ``store`` lives in (None for a store that is not a SQL database)."""
    return store.database_url(settings) if isinstance(store, SqlStore) else None
