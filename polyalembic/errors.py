"""Errors polyalembic raises. They subclass Alembic's CommandError so that the `alembic` CLI
prints them as one line (``FAILED: ...``) instead of a traceback."""

from __future__ import annotations

from alembic.util import CommandError


class PolyalembicError(CommandError):
    """A user-facing error: one line, passwords masked, names the store involved."""


class StoreUnavailable(PolyalembicError):
    """A store could not be reached (down, wrong credentials, unknown database, no extension)."""


class MigrationFailed(PolyalembicError):
    """A migration raised; earlier migrations stay applied and the ledger says which step failed."""


def cannot_connect(what: str, location: str, reason: str, fix: str) -> StoreUnavailable:
    """The one shape of every connection failure: who, where (masked), the server's reason, the fix."""
    return StoreUnavailable(f"{what}: cannot connect to {location}: {reason.rstrip('. ')}: {fix}")
