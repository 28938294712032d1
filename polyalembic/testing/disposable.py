"""Fresh stores for one test, from the test servers' settings.

A SQL database gets a new database beside it on the same server, with the same extensions
(``timescaledb``…), dropped after the test: tests never see each other's tables, ledger or
hypertable jobs. Where the server refuses ``CREATE DATABASE`` (no CREATEDB privilege) the given
database is emptied instead: every object of its public schema and the ledger. Neo4j Community
has one user database and a Chroma server's databases need its admin API: both are emptied with
the store's own ``drop_all`` (what ``polyalembic fresh`` uses) before the test.

Lazy imports: SQLAlchemy and the ledger's schema, when a test's stores are emptied.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

from polyalembic.settings import LEDGER_VARIABLE, Settings
from polyalembic.stores import STORES, get_store
from polyalembic.stores.connections import StoreConnections
from polyalembic.stores.sql.store import CannotCreateDatabase, SqlStore


@contextmanager
def disposable_stores(settings: Settings, stores: set[str], prefix: str = "polyalembic_test") -> Iterator[Settings]:
    """Settings for ``stores`` that a test may fill and break: new SQL databases where the server
    allows it (dropped on exit), every other store emptied first."""
    with ExitStack() as cleanup:
        fresh = _fresh_sql_databases(settings, stores, prefix, cleanup)
        test_settings = settings.replace(**fresh)
        _empty(test_settings, stores, skip=set(fresh))
        yield test_settings


def _sql_variables(settings: Settings, stores: set[str]) -> dict[str, str]:
    """variable -> DSN of every SQL database the stores (and the ledger) use."""
    found = {get_store(name).source(settings): settings.database_url(name) or "" for name in stores
             if isinstance(get_store(name), SqlStore)}
    if settings.env.get(LEDGER_VARIABLE):
        found[LEDGER_VARIABLE] = settings.env[LEDGER_VARIABLE]
    return {variable: dsn for variable, dsn in found.items() if dsn}


def _fresh_sql_databases(settings: Settings, stores: set[str], prefix: str, cleanup: ExitStack) -> dict[str, str]:
    """variable -> a new database for every SQL variable (one per distinct database), or {} when the
    server refuses CREATE DATABASE."""
    replaced: dict[str, str] = {}
    server = settings.ledger_store  # every SQL store of a run shares the ledger's dialect
    for variable, dsn in _sql_variables(settings, stores).items():
        twin = next((replaced[v] for v in replaced if settings.same_database(settings.env[v], dsn)), None)
        if twin is None:
            try:
                twin = server.create_database(dsn, prefix, server.database_extensions(dsn))
            except CannotCreateDatabase:
                return {}  # the databases created so far are dropped by ``cleanup``
            cleanup.callback(server.drop_database, dsn, twin)
        replaced[variable] = twin
    return replaced


def _empty(settings: Settings, stores: set[str], skip: set[str]) -> None:
    """Empty every store of ``stores`` whose configuration is not in ``skip`` (SQL databases once
    each, by the registry's last store on them: its reset knows the most object kinds), and the
    ledger with them."""
    names = [name for name in STORES if name in stores and get_store(name).source(settings) not in skip]
    with StoreConnections(settings) as connections:
        for i, name in enumerate(names):
            store = get_store(name)
            url = settings.database_url(name)
            if url and any(settings.same_database(settings.database_url(later), url) for later in names[i + 1:]):
                continue
            store.drop_all(connections.get(name))
            if url:
                _drop_ledger(connections.get(name))


def _drop_ledger(connection: object) -> None:
    """Drop polyalembic's and Alembic's own tables from a SQL store's connection."""
    import sqlalchemy as sa

    from polyalembic.ledger import schema as ledger_schema

    assert isinstance(connection, sa.Connection)
    ledger_schema.drop(connection)
    connection.commit()
