"""PostgreSQL connection strings: the forms libpq (psycopg) and SQLAlchemy want, and database
identity. A URL or a libpq keyword DSN is accepted wherever a DSN is read; a DSN is parsed once
per process (a run compares the same few DSNs at every migration).

A store (or the ledger) in a schema of its own carries it in its DSN as libpq's
``options=-csearch_path=<schema>,public``: every connection made from the DSN (SQLAlchemy's,
psycopg's, the lock's) creates and finds its objects in that schema, and still finds the functions
extensions installed in ``public`` (TimescaleDB's); two DSNs of one database in two schemas are
two locations.

Lazy imports: psycopg's conninfo parser, only for a keyword DSN: URLs are read without psycopg."""

from __future__ import annotations

import functools
import re
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from polyalembic.masking import mask_text

#: the URL schemes a PostgreSQL DSN may have, the one libpq takes, and SQLAlchemy's (psycopg 3)
URL_SCHEMES = ("postgres", "postgresql", "postgresql+psycopg", "postgresql+psycopg2")
URL_SCHEME = "postgresql"
SQLALCHEMY_SCHEME = "postgresql+psycopg"
DEFAULT_PORT = 5432
#: a schema name polyalembic puts in a search_path unquoted (what a tenant's schema is named)
SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_SEARCH_PATH = re.compile(r"-c\s*search_path=(\S+)")


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


def with_schema(dsn: str, schema: str) -> str:
    """``dsn`` (as a URL) whose sessions start in ``schema``: its ``options`` gain
    ``-csearch_path=<schema>,public`` (any search_path it had is replaced). ValueError for a schema name
    that is not lower-case letters, digits and underscores."""
    if not SCHEMA_NAME.fullmatch(schema):
        raise ValueError(f"schema {schema!r} is not a plain lower-case name (a-z, 0-9, _; at most 63)")
    return _with_options(dsn, f"-csearch_path={schema},public")


def without_schema(dsn: str) -> str:
    """``dsn`` without the search_path ``with_schema`` gave it (for printing it with its schema apart)."""
    return _with_options(dsn, "") if schema_of(dsn) else dsn


def _with_options(dsn: str, search_path: str) -> str:
    parts = urlsplit(normalized(dsn))
    query = parse_qsl(parts.query, keep_blank_values=True)
    options = " ".join(_SEARCH_PATH.sub("", dict(query).get("options", "")).split())
    options = f"{options} {search_path}".strip()
    query = [(k, v) for k, v in query if k != "options"] + ([("options", options)] if options else [])
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query, quote_via=quote), parts.fragment))


@functools.lru_cache(maxsize=256)
def schema_of(dsn: str | None) -> str | None:
    """The schema a DSN's sessions start in (its ``options``' search_path, first entry); None: the
    server's default (``public``)."""
    if not dsn:
        return None
    return schema_in_options(dict(parse_qsl(urlsplit(_url(dsn)).query)).get("options", ""))


def schema_in_options(options: str) -> str | None:
    """The first schema of the search_path libpq ``options`` set (None: they set none)."""
    found = _SEARCH_PATH.search(options)
    return found[1].split(",")[0].strip('"') if found else None


def place_of(dsn: str) -> str:
    """``host:port/database`` and the schema (``public`` by default) of ``dsn``: the same for every
    spelling of one place, whatever user connects."""
    parts = urlsplit(libpq_dsn(_url(dsn)))
    return f"{parts.hostname}:{parts.port or DEFAULT_PORT}{parts.path} schema {schema_of(dsn) or 'public'}"


@functools.lru_cache(maxsize=64)
def same_database(a: str | None, b: str | None) -> bool:
    """True when two DSNs name the same host, port, database and schema."""
    return bool(a and b) and place_of(a) == place_of(b)  # type: ignore[arg-type]


def password_of(dsn: str | None) -> str | None:
    """The password in a DSN's userinfo, if any (for masking)."""
    return urlsplit(_url(dsn)).password if dsn else None


def _url(dsn: str) -> str:
    """``dsn`` as a URL when it can be one (keyword DSNs converted), else unchanged."""
    try:
        return normalized(dsn)
    except ValueError:
        return dsn
