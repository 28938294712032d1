"""Fresh stores for one test, from the test servers' settings.

A SQL database gets a new database beside it on the same server, with the same extensions
(``timescaledb``…), dropped after the test: tests never see each other's tables, ledger or
hypertable jobs. Where the server refuses ``CREATE DATABASE`` (no CREATEDB privilege) the given
database is emptied instead: every object of its public schema and the ledger. Neo4j Community
has one user database and a Chroma server's databases need its admin API: both are emptied with
the store's own ``drop_all`` (what ``polyalembic fresh`` uses) before the test.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from urllib.parse import urlsplit, urlunsplit

from polyalembic.runtime.connections import StoreConnections
from polyalembic.settings import LEDGER_VARIABLE, Settings
from polyalembic.stores import STORES, get_store
from polyalembic.stores.sql.dsn import libpq_dsn, same_database


def create_database(admin_dsn: str, prefix: str = "scratch", extensions: tuple[str, ...] = ()) -> str:
    """Create ``<prefix>_<random>`` on the server of ``admin_dsn`` with ``extensions``; return its DSN."""
    import psycopg

    name = f"{prefix}_{secrets.token_hex(4)}"
    with psycopg.connect(libpq_dsn(admin_dsn), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    dsn = with_database(admin_dsn, name)
    if extensions:
        with psycopg.connect(libpq_dsn(dsn), autocommit=True) as conn:
            for extension in extensions:
                conn.execute(f'CREATE EXTENSION IF NOT EXISTS "{extension}"')
    return dsn


def drop_database(admin_dsn: str, dsn: str) -> None:
    """Drop the database ``dsn`` names (connections to it are closed first)."""
    import psycopg
    from psycopg.conninfo import conninfo_to_dict

    name = conninfo_to_dict(libpq_dsn(dsn))["dbname"]
    with psycopg.connect(libpq_dsn(admin_dsn), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def with_database(dsn: str, name: str) -> str:
    """``dsn`` (a URL or a libpq keyword DSN, kept in its form and options) naming database ``name``."""
    from psycopg.conninfo import make_conninfo

    if "://" in dsn:
        return urlunsplit(urlsplit(dsn)._replace(path="/" + name))
    return make_conninfo(dsn, dbname=name)


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
    found = {get_store(name).source(settings): get_store(name).database_url(settings) or "" for name in stores
             if get_store(name).url_schemes}
    if settings.env.get(LEDGER_VARIABLE):
        found[LEDGER_VARIABLE] = settings.env[LEDGER_VARIABLE]
    return {variable: dsn for variable, dsn in found.items() if dsn}


def _fresh_sql_databases(settings: Settings, stores: set[str], prefix: str, cleanup: ExitStack) -> dict[str, str]:
    """variable -> a new database for every SQL variable (one per distinct database), or {} when the
    server refuses CREATE DATABASE."""
    import psycopg

    replaced: dict[str, str] = {}
    for variable, dsn in _sql_variables(settings, stores).items():
        twin = next((replaced[v] for v in replaced if same_database(settings.env[v], dsn)), None)
        if twin is None:
            try:
                twin = create_database(dsn, prefix, _extensions(dsn))
            except psycopg.errors.InsufficientPrivilege:
                return {}  # the databases created so far are dropped by ``cleanup``
            cleanup.callback(drop_database, dsn, twin)
        replaced[variable] = twin
    return replaced


def _extensions(dsn: str) -> tuple[str, ...]:
    """The extensions installed in ``dsn`` (beyond plpgsql), for its twin."""
    import psycopg

    with psycopg.connect(libpq_dsn(dsn)) as conn:
        rows = conn.execute("SELECT extname FROM pg_extension WHERE extname <> 'plpgsql' ORDER BY oid").fetchall()
    return tuple(row[0] for row in rows)


def _empty(settings: Settings, stores: set[str], skip: set[str]) -> None:
    """Empty every store of ``stores`` whose configuration is not in ``skip`` (SQL databases once
    each, by the registry's last store on them: its reset knows the most object kinds), and the
    ledger with them."""
    names = [name for name in STORES if name in stores and get_store(name).source(settings) not in skip]
    with StoreConnections(settings) as connections:
        for i, name in enumerate(names):
            store = get_store(name)
            url = store.database_url(settings)
            if url and any(same_database(get_store(later).database_url(settings), url) for later in names[i + 1:]):
                continue
            store.drop_all(connections.get(name))
            if url:
                _drop_ledger(connections.get(name))


def _drop_ledger(connection: object) -> None:
    """Drop polyalembic's and Alembic's own tables from a SQL store's connection."""
    import sqlalchemy as sa

    from polyalembic.stores.postgres.introspect import is_bookkeeping, objects

    assert isinstance(connection, sa.Connection)
    for name, kind in objects(connection, include_bookkeeping=True).items():
        if kind == "table" and is_bookkeeping(name):
            connection.execute(sa.text(f'DROP TABLE IF EXISTS public."{name}" CASCADE'))
    connection.commit()
