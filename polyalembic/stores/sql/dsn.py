"""SQL connection strings: the forms the driver (libpq) and SQLAlchemy want, and database identity.

The URL schemes are the SQL dialect's, declared by the store that holds the ledger (every
transactional store shares that dialect), so this module names no store.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit


def _dialect() -> Any:
    """The store declaring the SQL dialect's URL schemes: the ledger's home."""
    from polyalembic.stores import ledger_home

    home = ledger_home()
    if home is None:
        raise ValueError("no registered store holds a SQL database")
    return home


def normalized(dsn: str) -> str:
    """A URL of the dialect's scheme for ``dsn``: URLs are kept, a libpq keyword DSN
    (``host=db user=app password=…``) is converted; ValueError (masked) for anything else."""
    dialect = _dialect()
    text = dsn.strip()
    if "://" in text:
        scheme = text.split("://", 1)[0].lower()
        if scheme not in dialect.url_schemes:
            raise ValueError(f"{scheme}:// is not a {dialect.url_scheme}:// URL: use a {dialect.url_scheme}:// URL "
                             "or a keyword DSN (host=… user=… dbname=…)")
        return text
    if "=" not in text:
        raise ValueError(f"is neither a {dialect.url_scheme}:// URL nor a keyword DSN (host=… dbname=…)")
    from urllib.parse import quote

    from psycopg.conninfo import conninfo_to_dict

    try:
        parts = conninfo_to_dict(text)
    except Exception as exc:  # noqa: BLE001 - psycopg's parse error, reworded below
        from polyalembic.masking import mask_text

        raise ValueError(f"is not a valid keyword DSN ({mask_text(str(exc).splitlines()[0])})") from None
    user = quote(str(parts.pop("user", "")), safe="")
    password = parts.pop("password", None)
    auth = f"{user}:{quote(str(password), safe='')}@" if password is not None else (f"{user}@" if user else "")
    host = str(parts.pop("host", "localhost"))
    port = f":{parts.pop('port')}" if "port" in parts else ""
    database = quote(str(parts.pop("dbname", "")), safe="")
    query = "&".join(f"{k}={quote(str(v), safe='')}" for k, v in parts.items())
    return f"{dialect.url_scheme}://{auth}{host}{port}/{database}" + (f"?{query}" if query else "")


def sqlalchemy_url(dsn: str) -> str:
    """A driver-style URL as a SQLAlchemy URL (the dialect's SQLAlchemy scheme)."""
    dialect = _dialect()
    parts = urlsplit(dsn)
    scheme = dialect.sqlalchemy_scheme if parts.scheme in dialect.url_schemes else parts.scheme
    return urlunsplit((scheme, parts.netloc, parts.path, parts.query, parts.fragment))


def libpq_dsn(dsn: str) -> str:
    """A SQLAlchemy-style URL back to what the driver (psycopg.connect) accepts."""
    dialect = _dialect()
    parts = urlsplit(dsn)
    scheme = dialect.url_scheme if parts.scheme in dialect.url_schemes else parts.scheme
    return urlunsplit((scheme, parts.netloc, parts.path, parts.query, parts.fragment))


def same_database(a: str | None, b: str | None) -> bool:
    """True when two DSNs name the same host, port and database."""
    if not a or not b:
        return False
    pa, pb = urlsplit(libpq_dsn(_url(a))), urlsplit(libpq_dsn(_url(b)))
    return (pa.hostname, pa.port or 5432, pa.path) == (pb.hostname, pb.port or 5432, pb.path)


def password_of(dsn: str | None) -> str | None:
    """The password in a DSN's userinfo, if any (for masking)."""
    return urlsplit(_url(dsn)).password if dsn else None


def _url(dsn: str) -> str:
    """``dsn`` as a URL when it can be one (keyword DSNs converted), else unchanged."""
    try:
        return normalized(dsn)
    except ValueError:
        return dsn
