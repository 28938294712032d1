"""Errors polyalembic raises. Plain exceptions, so that reading commands never import Alembic;
where Alembic's own CLI can see them (migrations/env.py), ``runtime.environment`` raises them as
Alembic's CommandError too, which that CLI prints as one line (``FAILED: ...``)."""

from __future__ import annotations


class PolyalembicError(Exception):
    """A user-facing error: one line, passwords masked, names the store involved."""


class StoreUnavailable(PolyalembicError):
    """A store could not be reached (down, wrong credentials, unknown database, no extension)."""


class MigrationFailed(PolyalembicError):
    """A migration raised; earlier migrations stay applied and the ledger says which step failed."""


def cannot_connect(what: str, location: str, reason: str, fix: str) -> StoreUnavailable:
    """The one shape of every connection failure: who, where (masked), the server's reason, the fix."""
    return StoreUnavailable(f"{what}: cannot connect to {location}: {reason.rstrip('. ')}: {fix}")
