"""The PostgreSQL store, and the base of the stores on a PostgreSQL server (TimescaleDB, a fifth
PostgreSQL database): the SQL base store with PostgreSQL's DSN forms, advisory lock, upsert,
JSONB and disposable databases.

Lazy imports: psycopg, SQLAlchemy, pglast and this store's own modules (the lock, the dialect,
introspection, drift), when a run or check needs them: the registry imports every store at start-up.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from polyalembic.errors import StoreUnavailable
from polyalembic.masking import mask_dsn
from polyalembic.stores.contract import Autogenerates, ForeignHistory
from polyalembic.stores.postgres import databases
from polyalembic.stores.postgres import dsn as dsn_forms
from polyalembic.stores.postgres.transactions import NO_TRANSACTION
from polyalembic.stores.sql.literals import escaped
from polyalembic.stores.sql.store import SqlStore

if TYPE_CHECKING:
    import sqlalchemy as sa

    from polyalembic.stores.contract import DatabaseObject, ForeignApplied, ForeignMigration, Settings



class PostgresStore(SqlStore, Autogenerates, ForeignHistory):
    """PostgreSQL; ``POSTGRES_DSN``, falling back to ``TIMESCALE_DSN`` (one server for both); in
    the schema ``POSTGRES_SCHEMA`` names (``TIMESCALE_SCHEMA`` with ``TIMESCALE_DSN``), if set."""

    name = "postgres"
    dsn_variables: ClassVar[tuple[str, ...]] = ("POSTGRES_DSN", "TIMESCALE_DSN")
    schema_variables: ClassVar[tuple[str, ...]] = ("POSTGRES_SCHEMA", "TIMESCALE_SCHEMA")
    env_keys = ("POSTGRES_DSN", "POSTGRES_SCHEMA")
    offline_url = f"{dsn_forms.SQLALCHEMY_SCHEME}://"
    pair_suffix = ".sql"
    pair_op = "run_sql_file"
    op_modules = ("polyalembic.stores.postgres.ops", "polyalembic.stores.postgres.impl")
    templates_module = "polyalembic.stores.postgres.templates"
    #: what reads the live schema (``snapshot(connection)``) and drops it (``drop_all(connection)``)
    introspect_module: ClassVar[str] = "polyalembic.stores.postgres.introspect"
    reset_module: ClassVar[str] = "polyalembic.stores.postgres.reset"
    #: what autogenerate must not report (``hidden(connection)``)
    autogenerate_module: ClassVar[str] = "polyalembic.stores.postgres.autogenerate"
    tool = "flyway"
    tool_title = "Flyway"
    adopted_suffix = ".sql"

    # -- the dialect's DSN forms (libpq's) -----------------------------------------------------
    def normalized(self, dsn: str) -> str:
        return dsn_forms.normalized(dsn)

    def sqlalchemy_url(self, dsn: str) -> str:
        return dsn_forms.sqlalchemy_url(dsn)

    def same_database(self, a: str | None, b: str | None) -> bool:
        return dsn_forms.same_database(a, b)

    def place_of(self, dsn: str) -> str:
        return dsn_forms.place_of(dsn)

    def location(self, settings: Settings) -> str:
        dsn = self.database_url(settings)
        schema = dsn_forms.schema_of(dsn)
        if dsn is None or schema is None:
            return super().location(settings)
        return f"{mask_dsn(dsn_forms.without_schema(dsn))} (schema {schema})"

    def password_of(self, dsn: str | None) -> str | None:
        return dsn_forms.password_of(dsn)

    def dbapi_connect(self, dsn: str) -> Any:
        import psycopg

        connection = psycopg.connect(dsn_forms.libpq_dsn(dsn), connect_timeout=10)
        hook = self.session_hook(dsn)
        if hook is not None:
            hook(connection)
        return connection

    # -- schemas (a tenant's, a project's ledger) ----------------------------------------------
    def in_schema(self, dsn: str, schema: str) -> str:
        return dsn_forms.with_schema(dsn, schema)

    def schema_of(self, dsn: str | None) -> str | None:
        return dsn_forms.schema_of(dsn)

    def session_statements(self, dsn: str | None) -> list[str]:
        schema = dsn_forms.schema_of(dsn)
        return [f'CREATE SCHEMA IF NOT EXISTS "{schema}"', f'SET search_path TO "{schema}", public'] if schema else []

    def session_hook(self, dsn: str) -> Callable[[Any], None] | None:
        schema = dsn_forms.schema_of(dsn)
        if schema is None:
            return None
        from polyalembic.stores.postgres import schemas

        return lambda dbapi_connection: schemas.enter(dbapi_connection, schema)

    def ensure_schema(self, connection: sa.Connection) -> None:
        from polyalembic.stores.postgres import schemas

        schema = schemas.schema_of_connection(connection)
        if schema is not None:
            schemas.ensure(connection, schema)

    # -- what the ledger is written with -------------------------------------------------------
    def migration_lock(self, connection: sa.Connection, on_wait: Callable[[str], object] | None = None,
                       timeout: float | None = None) -> AbstractContextManager[None]:
        from polyalembic.stores.postgres.lock import lock_key, migration_lock
        from polyalembic.stores.postgres.schemas import schema_of_connection

        return migration_lock(connection, lock_key(schema_of_connection(connection)), on_wait=on_wait,
                              timeout=timeout)

    def json_type(self) -> Any:
        from polyalembic.stores.postgres.dialect import JSON

        return JSON

    def upsert(self, table: sa.Table) -> Any:
        from polyalembic.stores.postgres.dialect import insert

        return insert(table)

    def plain_dialect(self, paramstyle: str) -> sa.Dialect:
        from polyalembic.stores.postgres.dialect import plain_dialect

        return plain_dialect(paramstyle)

    def literal(self, value: Any) -> str:
        return escaped(value)

    def try_claim(self, connection: sa.Connection, name: str) -> bool:
        from polyalembic.stores.postgres.lock import try_named_lock

        return try_named_lock(connection, name)

    def release_claim(self, connection: sa.Connection, name: str) -> None:
        from polyalembic.stores.postgres.lock import release_named_lock

        release_named_lock(connection, name)

    # -- disposable databases ------------------------------------------------------------------
    def rename_table(self, connection: sa.Connection, old: str, new: str) -> list[str]:
        from polyalembic.stores.postgres import renames

        return renames.rename_table(connection, old, new)

    def create_database(self, admin_dsn: str, prefix: str, extensions: tuple[str, ...] = ()) -> str:
        return databases.create_database(admin_dsn, prefix, extensions)

    def drop_database(self, admin_dsn: str, dsn: str) -> None:
        databases.drop_database(admin_dsn, dsn)

    def database_extensions(self, dsn: str) -> tuple[str, ...]:
        return databases.database_extensions(dsn)

    def verify(self, handle: sa.Connection, settings: Settings) -> None:
        """Migrations create things: the store's own schema first (when its DSN names one), then
        refuse a user who may not create in its schema before anything runs, rather than failing
        half-way through the chain."""
        self._schema_made(handle, settings)
        user, schema, may_create = _reading(handle, _create_privilege)
        if not may_create:
            where = f"schema {schema}" if schema else "any schema of its search_path"
            raise StoreUnavailable(
                f"{self.name}: user {user} may not create tables in {where} of {self.location(settings)}: "
                f"GRANT CREATE ON SCHEMA {schema or 'public'} TO {user}, or set {self.source(settings)} to the "
                "schema owner's DSN")

    def _schema_made(self, handle: sa.Connection, settings: Settings) -> None:
        import sqlalchemy as sa

        try:
            self.ensure_schema(handle)
        except sa.exc.DBAPIError as exc:  # the server's refusal, in one line with the fix
            reason = " ".join(str(exc.orig or exc).split())
            schema = dsn_forms.schema_of(self.database_url(settings))
            raise StoreUnavailable(f"{self.name}: cannot create schema {schema} in {self.location(settings)}: "
                                   f"{reason}: create it (CREATE SCHEMA {schema}) or let this user create "
                                   "schemas (GRANT CREATE ON DATABASE …)") from None

    def snapshot(self, handle: sa.Connection) -> dict[str, Any]:
        return _reading(handle, importlib.import_module(self.introspect_module).snapshot)

    def snapshot_objects(self, snapshot: Mapping[str, Any]) -> dict[str, Any]:
        from polyalembic.stores.postgres import drift

        return drift.objects(snapshot)

    def describe_object(self, key: str, old: Any, new: Any) -> list[str]:
        from polyalembic.stores.postgres import drift

        return drift.describe(key, old, new)

    def autogenerate_hidden(self, handle: sa.Connection) -> Callable[[DatabaseObject], bool]:
        return _reading(handle, importlib.import_module(self.autogenerate_module).hidden)

    def drop_all(self, handle: sa.Connection) -> list[str]:
        dropped = importlib.import_module(self.reset_module).drop_all(handle)
        handle.commit()
        return dropped

    def check_file(self, path: Path, text: str) -> list[str]:
        if not _strip_comments(text):
            return ["is empty: write the statements (or delete the migration)"]
        error = sql_syntax_error(text)
        return [f"does not parse ({error}): fix the SQL"] if error else []

    def commits_early(self, path: Path) -> bool:
        return runs_outside_transaction(_leading_text(path))

    # -- Flyway's history (``polyalembic adopt flyway DIR``) ---------------------------------------
    def foreign_migrations(self, folder: Path) -> list[ForeignMigration]:
        from polyalembic.stores.postgres import flyway

        return flyway.foreign_migrations(folder)

    def foreign_applied(self, handle: sa.Connection) -> list[ForeignApplied]:
        from polyalembic.stores.postgres import flyway

        return _reading(handle, flyway.foreign_applied)

    def foreign_version_key(self, version: str) -> tuple[int, ...]:
        from polyalembic.stores.postgres import flyway

        return flyway.version_key(version)


def _leading_text(path: Path, chunk: int = 4096) -> str:
    """The start of the file at ``path`` up to its first chunk with more than blanks ("": none):
    the marker is all a run asks of a file before it runs it (read whole, once, by the op)."""
    try:
        with open(path, "rb") as file:
            head = file.read(chunk)
            while head and not head.strip():
                more = file.read(chunk)
                if not more:
                    break
                head += more
    except FileNotFoundError:
        return ""
    return head.decode("utf-8-sig", "replace")


def runs_outside_transaction(text: str) -> bool:
    """True for SQL whose first line is the no-transaction marker."""
    return text.lstrip().lower().startswith(NO_TRANSACTION)


def _create_privilege(handle: sa.Connection) -> tuple[str, str | None, bool]:
    import sqlalchemy as sa

    row = handle.execute(sa.text("SELECT current_user, current_schema(), "
                                 "coalesce(has_schema_privilege(current_schema(), 'CREATE'), false)")).one()
    return row[0], row[1], bool(row[2])


def _reading(handle: sa.Connection, read: Any) -> Any:
    """Run ``read(handle)`` and leave the connection's transaction state as it was."""
    was_in_transaction = handle.in_transaction()
    try:
        return read(handle)
    finally:
        if not was_in_transaction and handle.in_transaction():
            handle.rollback()


def _strip_comments(text: str) -> str:
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.DOTALL)
    return "\n".join(line.split("--", 1)[0] for line in text.splitlines()).strip()


def sql_syntax_error(text: str) -> str | None:
    """PostgreSQL's own parser (libpg_query, via pglast) on ``text``: the error with its line, or None."""
    from pglast import parser

    try:
        parser.parse_sql_json(text)  # the C parser alone: ~15x faster than building pglast's AST
    except parser.ParseError as exc:
        message = str(exc)
        match = re.search(r"at index (\d+)", message)
        if match:
            line = text.count("\n", 0, int(match[1])) + 1
            message = re.sub(r",? at index \d+", f" on line {line}", message)
        return message
    return None
