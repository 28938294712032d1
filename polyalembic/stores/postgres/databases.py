"""New and dropped databases on a PostgreSQL server: the disposable twins that tests (the pytest
plugin's fresh stores, this project's own suite) migrate and throw away.

Lazy imports: psycopg, when a database is created or dropped."""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit, urlunsplit

from polyalembic.stores.postgres.dsn import libpq_dsn
from polyalembic.stores.sql.store import CannotCreateDatabase


def create_database(admin_dsn: str, prefix: str = "scratch", extensions: tuple[str, ...] = ()) -> str:
    """Create ``<prefix>_<random>`` on the server of ``admin_dsn`` with ``extensions``; return its DSN."""
    import psycopg

    name = f"{prefix}_{secrets.token_hex(4)}"
    with psycopg.connect(libpq_dsn(admin_dsn), autocommit=True) as conn:
        try:
            conn.execute(f'CREATE DATABASE "{name}"')
        except psycopg.errors.InsufficientPrivilege as exc:
            raise CannotCreateDatabase(str(exc).strip()) from None
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


def database_extensions(dsn: str) -> tuple[str, ...]:
    """The extensions installed in ``dsn`` (beyond plpgsql), for its twin."""
    import psycopg

    with psycopg.connect(libpq_dsn(dsn)) as conn:
        rows = conn.execute("SELECT extname FROM pg_extension WHERE extname <> 'plpgsql' ORDER BY oid").fetchall()
    return tuple(row[0] for row in rows)


