"""PostgreSQL connection strings: the forms psycopg and SQLAlchemy want, and database identity."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit


def sqlalchemy_url(dsn: str) -> str:
    """A libpq-style ``postgresql://`` DSN as a SQLAlchemy URL using psycopg 3."""
    parts = urlsplit(dsn)
    scheme = parts.scheme
    if scheme in ("postgres", "postgresql", "postgresql+psycopg2"):
        scheme = "postgresql+psycopg"
    return urlunsplit((scheme, parts.netloc, parts.path, parts.query, parts.fragment))


def libpq_dsn(dsn: str) -> str:
    """A SQLAlchemy-style URL back to what psycopg.connect accepts."""
    parts = urlsplit(dsn)
    scheme = "postgresql" if parts.scheme.startswith("postgres") else parts.scheme
    return urlunsplit((scheme, parts.netloc, parts.path, parts.query, parts.fragment))


def same_database(a: str | None, b: str | None) -> bool:
    """True when two DSNs name the same host, port and database."""
    if not a or not b:
        return False
    pa, pb = urlsplit(libpq_dsn(a)), urlsplit(libpq_dsn(b))
    return (pa.hostname, pa.port or 5432, pa.path) == (pb.hostname, pb.port or 5432, pb.path)


def password_of(dsn: str | None) -> str | None:
    """The password in a DSN's userinfo, if any (for masking)."""
    return urlsplit(dsn).password if dsn else None
