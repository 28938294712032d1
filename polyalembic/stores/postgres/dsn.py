"""PostgreSQL connection strings: the forms libpq (psycopg) and SQLAlchemy want, and database
identity. A URL or a libpq keyword DSN is accepted wherever a DSN is read; a DSN is parsed once
per process (a run compares the same few DSNs at every migration).

Lazy imports: psycopg's conninfo parser, only for a keyword DSN: URLs are read without psycopg."""

from __future__ import annotations

import functools
from urllib.parse import quote, urlsplit, urlunsplit

from polyalembic.masking import mask_text

#: the URL schemes a PostgreSQL DSN may have, the one libpq takes, and SQLAlchemy's (psycopg 3)
URL_SCHEMES = ("postgres", "postgresql", "postgresql+psycopg", "postgresql+psycopg2")
URL_SCHEME = "postgresql"
SQLALCHEMY_SCHEME = "postgresql+psycopg"
DEFAULT_PORT = 5432


@functools.lru_cache(maxsize=64)
def normalized(dsn: str) -> str:
    """A ``postgresql://`` URL for ``dsn``: URLs are kept, a libpq keyword DSN
    (``host=db user=app password=…``) is converted; ValueError (masked) for anything else."""
    text = dsn.strip()
    if "://" in text:
        scheme = text.split("://", 1)[0].lower()
        if scheme not in URL_SCHEMES:
            raise ValueError(f"{scheme}:// is not a {URL_SCHEME}:// URL: use a {URL_SCHEME}:// URL "
                             "or a keyword DSN (host=… user=… dbname=…)")
        return text
    if "=" not in text:
        raise ValueError(f"is neither a {URL_SCHEME}:// URL nor a keyword DSN (host=… dbname=…)")
    from psycopg.conninfo import conninfo_to_dict

    try:
        parts = conninfo_to_dict(text)
    except Exception as exc:  # noqa: BLE001 - psycopg's parse error, reworded below

        raise ValueError(f"is not a valid keyword DSN ({mask_text(str(exc).splitlines()[0])})") from None
    user = quote(str(parts.pop("user", "")), safe="")
    password = parts.pop("password", None)
    auth = f"{user}:{quote(str(password), safe='')}@" if password is not None else (f"{user}@" if user else "")
    host = str(parts.pop("host", "localhost"))
    port = f":{parts.pop('port')}" if "port" in parts else ""
    database = quote(str(parts.pop("dbname", "")), safe="")
    query = "&".join(f"{k}={quote(str(v), safe='')}" for k, v in parts.items())
    return f"{URL_SCHEME}://{auth}{host}{port}/{database}" + (f"?{query}" if query else "")


def sqlalchemy_url(dsn: str) -> str:
    """A libpq-style URL as a SQLAlchemy URL (psycopg 3)."""
    parts = urlsplit(dsn)
    scheme = SQLALCHEMY_SCHEME if parts.scheme in URL_SCHEMES else parts.scheme
    return urlunsplit((scheme, parts.netloc, parts.path, parts.query, parts.fragment))


def libpq_dsn(dsn: str) -> str:
    """A SQLAlchemy-style URL back to what the driver (psycopg.connect) accepts."""
    parts = urlsplit(dsn)
    scheme = URL_SCHEME if parts.scheme in URL_SCHEMES else parts.scheme
    return urlunsplit((scheme, parts.netloc, parts.path, parts.query, parts.fragment))


@functools.lru_cache(maxsize=64)
def same_database(a: str | None, b: str | None) -> bool:
    """True when two DSNs name the same host, port and database."""
    if not a or not b:
        return False
    pa, pb = urlsplit(libpq_dsn(_url(a))), urlsplit(libpq_dsn(_url(b)))
    return (pa.hostname, pa.port or DEFAULT_PORT, pa.path) == (pb.hostname, pb.port or DEFAULT_PORT, pb.path)


def password_of(dsn: str | None) -> str | None:
    """The password in a DSN's userinfo, if any (for masking)."""
    return urlsplit(_url(dsn)).password if dsn else None


def _url(dsn: str) -> str:
    """``dsn`` as a URL when it can be one (keyword DSNs converted), else unchanged."""
    try:
        return normalized(dsn)
    except ValueError:
        return dsn
