"""A PostgreSQL session-level advisory lock, held on its own connection for a whole run.

Two concurrent runs never apply a migration twice: the second waits (and says so) until the
first releases the lock, then sees what the first applied. A transaction-level lock would be
released by ``autocommit_block``, so the lock lives on a separate session.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import sqlalchemy as sa

log = logging.getLogger("polyalembic.lock")

# A fixed 64-bit key: "polyalembic" squeezed into a bigint (any constant shared by all runs works).
LOCK_KEY = 0x706F6C79616C656D


@contextmanager
def migration_lock(connection: sa.Connection, key: int = LOCK_KEY,
                   on_wait: Callable[[str], object] | None = None) -> Iterator[None]:
    """Hold ``pg_advisory_lock(key)`` on ``connection`` (an autocommit connection) for the block."""
    got = connection.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar()
    if not got:
        holder = connection.execute(sa.text(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted "
            "AND ((classid::bigint << 32) | objid::bigint) = :k LIMIT 1"), {"k": key}).scalar()
        message = f"waiting for the migration lock (held by another run, backend pid {holder})"
        (on_wait or log.warning)(message)
        connection.execute(sa.text("SELECT pg_advisory_lock(:k)"), {"k": key})
    try:
        yield
    finally:
        connection.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": key})
