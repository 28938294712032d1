"""Errors polyalembic raises. Plain exceptions, so that reading commands never import Alembic;
where Alembic's own CLI can see them (migrations/env.py, a pair's revision file being loaded),
they are raised as Alembic's CommandError too (``as_command_error``), which that CLI prints as one
line (``FAILED: ...``).

Lazy imports: Alembic's CommandError, only when an error is handed to Alembic: the reading commands
never import Alembic."""

from __future__ import annotations

from typing import Any


class PolyalembicError(Exception):
    """A user-facing error: one line, passwords masked, names the store involved."""


class StoreUnavailable(PolyalembicError):
    """A store could not be reached (down, wrong credentials, unknown database, no extension)."""


class MigrationFailed(PolyalembicError):
    """A migration raised; earlier migrations stay applied and the ledger says which step failed."""


class MayHavePartlyRun(PolyalembicError):
    """A resume refused to run again a step that may have partly run (it can carry no marker):
    nothing ran, the ledger keeps what it said, the user decides with retry or mark-applied."""


def cannot_connect(what: str, location: str, reason: str, fix: str) -> StoreUnavailable:
    """The one shape of every connection failure: who, where (masked), the server's reason, the fix."""
    return StoreUnavailable(f"{what}: cannot connect to {location}: {reason.rstrip('. ')}: {fix}")


_COMMAND_ERRORS: dict[type, type] = {}


def as_command_error(exc: PolyalembicError) -> PolyalembicError:
    """``exc`` as an instance of its own class and of Alembic's CommandError, so that the
    ``alembic`` CLI prints it as one line and callers still catch it by its polyalembic class
    (it pickles as its own class)."""
    from alembic.util import CommandError

    if isinstance(exc, CommandError):
        return exc
    cls = type(exc)
    if cls not in _COMMAND_ERRORS:
        def reduce(self: Any, cls: type = cls) -> tuple[type, tuple[Any, ...]]:
            return cls, self.args

        _COMMAND_ERRORS[cls] = type(cls.__name__, (cls, CommandError),
                                    {"__module__": cls.__module__, "__reduce__": reduce})
    return _COMMAND_ERRORS[cls](*exc.args)
