"""The ledger's write of a migration, sent with the COMMIT of the migration's transaction.

A migration in the ledger's transaction commits its change and its ledger row together
(``runtime/recording.py``, rule 1). Sent the usual way, the row costs a round trip of its own,
as much as a small migration's whole statement. In psycopg 3's pipeline mode the row is queued
and reaches the server with the COMMIT that Alembic sends next: one round trip for both, and
still one transaction (PostgreSQL skips the rest of a pipeline after an error, the COMMIT
included, and the error is raised by the commit).

The pipeline is opened just before the row is written (Alembic's ``on_version_apply`` hook, the
last thing before the commit) and closed before the next migration runs anything, or when the run
ends. Connections of other drivers (one a caller hands in, psycopg2) write the usual way.
"""

from __future__ import annotations

import logging
from contextlib import ExitStack
from typing import Any

log = logging.getLogger("polyalembic")


def _pipeline_capable(raw: Any) -> bool:
    if type(raw).__module__.split(".")[0] != "psycopg" or not hasattr(raw, "pipeline"):
        return False
    import psycopg

    return bool(psycopg.Pipeline.is_supported())


class CommitPipeline:
    """At most one open pipeline, on the ledger's migration connection."""

    def __init__(self) -> None:
        self._stack: ExitStack | None = None
        self._raw: Any = None

    def open(self, connection: Any) -> None:
        """Queue the next statements on ``connection`` (a SQLAlchemy Connection) until ``close``."""
        if self._stack is not None:
            return
        raw = connection.connection.dbapi_connection
        if not _pipeline_capable(raw):
            return
        stack = ExitStack()
        stack.enter_context(raw.pipeline())
        self._stack, self._raw = stack, raw

    def close(self) -> None:
        """Leave pipeline mode. An error it raises here was already raised by the commit (the run
        is failing): the connection is rolled back and left as a usual one."""
        stack, raw = self._stack, self._raw
        if stack is None:
            return
        self._stack = self._raw = None
        try:
            stack.close()
        except Exception as exc:  # noqa: BLE001 - see the docstring
            log.debug("closing the ledger's pipeline after a failed commit: %s", exc)
            try:
                raw.rollback()
            except Exception as again:  # noqa: BLE001 - the connection is discarded by the caller
                log.debug("rollback after the pipeline failed: %s", again)
