"""A PostgreSQL session-level advisory lock, held on its own connection for a whole run.

Two concurrent runs never apply a migration twice: the second waits (and says so) until the
first releases the lock, then sees what the first applied. A transaction-level lock would be
released by ``autocommit_block``, so the lock lives on a separate session. A wait may have a
limit (``--lock-timeout``): past it the run stops, naming the holder.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from polyalembic.errors import PolyalembicError

log = logging.getLogger("polyalembic.lock")

# A fixed 64-bit key: "polyalembic" squeezed into a bigint (the ledger's in the default schema).
LOCK_KEY = 0x706F6C79616C656D
_HOLDER = sa.text(
    "SELECT l.pid, a.backend_start, a.application_name FROM pg_locks l "
    "LEFT JOIN pg_stat_activity a ON a.pid = l.pid "
    "WHERE l.locktype = 'advisory' AND l.granted AND ((l.classid::bigint << 32) | l.objid::bigint) = :k LIMIT 1")


def lock_key(schema: str | None) -> int:
    """The key of the migration lock of the ledger in ``schema`` (None: the database's default
    one): two schema targets of one database migrate at once, two runs of one schema never do.
    A signed 64-bit number, the same in every process."""
    if schema is None or schema == "public":
        return LOCK_KEY
    digest = hashlib.blake2b(f"polyalembic:{schema}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _holder(connection: sa.Connection, key: int) -> str:
    row = connection.execute(_HOLDER, {"k": key}).first()
    if row is None:
        return "another run"
    since = f", connected since {row[1].isoformat(timespec='seconds')}" if row[1] else ""
    return f"another run (backend pid {row[0]}{since})"


@contextmanager
def migration_lock(connection: sa.Connection, key: int = LOCK_KEY, on_wait: Callable[[str], object] | None = None,
                   timeout: float | None = None) -> Iterator[None]:
    """Hold ``pg_advisory_lock(key)`` on ``connection`` (an autocommit connection) for the block;
    wait for it at most ``timeout`` seconds (None: as long as it takes)."""
    try_lock = sa.text("SELECT pg_try_advisory_lock(:k)")
    if not connection.execute(try_lock, {"k": key}).scalar():
        holder = _holder(connection, key)
        limit = f" (at most {timeout:g}s)" if timeout is not None else ""
        (on_wait or log.warning)(f"waiting for the migration lock held by {holder}{limit}")
        if timeout is None:
            connection.execute(sa.text("SELECT pg_advisory_lock(:k)"), {"k": key})
        else:
            deadline = time.monotonic() + timeout
            while not connection.execute(try_lock, {"k": key}).scalar():
                if time.monotonic() >= deadline:
                    raise PolyalembicError(f"the migration lock is still held by {_holder(connection, key)} after "
                                           f"{timeout:g}s (--lock-timeout): nothing was applied; try again when "
                                           "that run has finished")
                time.sleep(0.2)
    try:
        yield
    finally:
        _unlock(connection, key)


def _unlock(connection: sa.Connection, key: int) -> None:
    """Give the lock back, unless its session is gone (a server restart, a terminated backend):
    the lock went with it, and the error that ended the run is the one to tell."""
    if connection.invalidated:
        return
    try:
        connection.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": key})
    except sa.exc.DBAPIError as exc:
        if not exc.connection_invalidated:
            raise


def try_named_lock(connection: sa.Connection, name: str) -> bool:
    """``pg_try_advisory_lock`` on the 64-bit hash of ``name`` (a session lock: held until released
    or the session ends)."""
    return bool(connection.execute(sa.text("SELECT pg_try_advisory_lock(hashtextextended(:n, 0))"),
                                   {"n": name}).scalar())


def release_named_lock(connection: sa.Connection, name: str) -> None:
    connection.execute(sa.text("SELECT pg_advisory_unlock(hashtextextended(:n, 0))"), {"n": name})
