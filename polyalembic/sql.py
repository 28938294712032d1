"""Opening SQL connections with clear, masked one-line errors (the ledger's and the SQL stores')."""

from __future__ import annotations

import functools

import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from polyalembic.dsn import normalized, sqlalchemy_url
from polyalembic.errors import StoreUnavailable
from polyalembic.masking import mask_dsn, mask_text


@functools.lru_cache(maxsize=16)
def make_engine(dsn: str) -> sa.Engine:
    """An engine without a pool (a migration run opens few connections and must close them), made
    once per DSN in a process (creating one costs ~40 ms). Sessions are left as the server and the
    role configure them (search_path included)."""
    return sa.create_engine(sqlalchemy_url(dsn), poolclass=NullPool, connect_args={"connect_timeout": 10})


def connect(dsn: str, what: str, autocommit: bool = False) -> sa.Connection:
    """Connect, or raise StoreUnavailable naming ``what`` (a store, the ledger) and the masked DSN."""
    try:
        dsn = normalized(dsn)
    except ValueError as exc:
        raise StoreUnavailable(f"{what}: {mask_dsn(dsn)} {exc}") from None
    engine = make_engine(dsn)
    if autocommit:
        engine = engine.execution_options(isolation_level="AUTOCOMMIT")
    try:
        return engine.connect()
    except sa.exc.DBAPIError as exc:
        reason = mask_text(str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc))
        raise StoreUnavailable(f"{what}: cannot connect to {mask_dsn(dsn)}: {reason}") from None
