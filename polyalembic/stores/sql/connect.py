"""Opening SQL connections with clear, masked one-line errors (the ledger's and the SQL stores').

Lazy imports: SQLAlchemy, when a connection is opened: the reading commands never open one."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from polyalembic.errors import StoreUnavailable, cannot_connect
from polyalembic.masking import mask_dsn, mask_text

if TYPE_CHECKING:
    import sqlalchemy as sa


class SqlStore(Protocol):
    """What connecting asks of a SQL store (``polyalembic.stores.sql.store.SqlStore``)."""

    def normalized(self, dsn: str) -> str: ...

    def sqlalchemy_url(self, dsn: str) -> str: ...

    def dbapi_connect(self, dsn: str) -> Any: ...

    def session_hook(self, dsn: str) -> Callable[[Any], None] | None: ...


@functools.lru_cache(maxsize=16)
def make_engine(url: str, store: SqlStore) -> sa.Engine:
    """An engine without a pool (a migration run opens few connections and must close them), made
    once per SQLAlchemy URL in a process (creating one is not cheap). Sessions are left as the
    server, the role and the DSN configure them (search_path included), after what ``store``'s
    session hook for the DSN runs."""
    import sqlalchemy as sa
    from sqlalchemy.pool import NullPool

    engine = sa.create_engine(url, poolclass=NullPool, connect_args={"connect_timeout": 10})
    hook = store.session_hook(url)
    if hook is not None:
        sa.event.listen(engine, "connect", lambda dbapi_connection, _record: hook(dbapi_connection))
    return engine


#: what the user can do about a refused connection, by the server's words
_FIXES = (
    (re.compile(r"(?i)refused|timeout|timed out|translate host|no route|unreachable|name or service"),
     "start the server or correct the host and port in {source}"),
    (re.compile(r"(?i)password|authentication"), "correct the user or password in {source}"),
    (re.compile(r'(?i)database ".*" does not exist'), "create the database or correct its name in {source}"),
    (re.compile(r'(?i)role ".*" does not exist'), "create the role or correct the user in {source}"),
)


def connection_fix(reason: str, source: str) -> str:
    """The fix for a failed SQL connection, naming the variable to change."""
    fix = next((fix for pattern, fix in _FIXES if pattern.search(reason)), "check {source}")
    return fix.format(source=source)


def _checked(store: SqlStore, dsn: str, what: str, source: str) -> str:
    try:
        return store.normalized(dsn)
    except ValueError as exc:
        raise StoreUnavailable(f"{what}: {source}={mask_dsn(dsn)} {exc}") from None


def _refused(what: str, dsn: str, source: str, driver_error: BaseException) -> StoreUnavailable:
    reason = mask_text(str(driver_error).strip().splitlines()[0] if str(driver_error).strip() else
                       type(driver_error).__name__)
    reason = reason.replace("connection failed: ", "", 1).replace("FATAL:  ", "")
    return cannot_connect(what, mask_dsn(dsn) or "", reason, connection_fix(reason, source))


def connect(store: SqlStore, dsn: str, what: str, source: str, autocommit: bool = False) -> sa.Connection:
    """Connect to ``dsn`` (of ``store``'s dialect), or raise StoreUnavailable naming ``what`` (a
    store, the ledger), the masked DSN and the fix in ``source`` (the variable it came from)."""
    import sqlalchemy as sa

    dsn = _checked(store, dsn, what, source)
    engine = make_engine(store.sqlalchemy_url(dsn), store)
    if autocommit:
        engine = engine.execution_options(isolation_level="AUTOCOMMIT")
    try:
        return engine.connect()
    except sa.exc.DBAPIError as exc:
        raise _refused(what, dsn, source, exc.orig or exc) from None


def connect_driver(store: SqlStore, dsn: str, what: str, source: str) -> Any:
    """A plain driver connection (``store.dbapi_connect``) with the same errors as ``connect``;
    None when the store has no such connection."""
    dsn = _checked(store, dsn, what, source)
    try:
        return store.dbapi_connect(dsn)
    except ImportError:
        raise  # a missing driver is not a connection failure
    except Exception as exc:  # noqa: BLE001 - the driver's connection errors, worded as connect's
        raise _refused(what, dsn, source, exc) from None
