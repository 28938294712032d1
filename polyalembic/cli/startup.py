"""The CLI process's garbage collector during start-up.

Starting a migration run builds hundreds of thousands of long-lived objects (Alembic, SQLAlchemy,
the drivers, every revision module), and Python's cyclic collector walks all of them several
times while they are created: about 0.3 s of a 200-migration run, none of it freeing anything.
The CLI turns collection off for start-up; ``resume`` (run just before the first migration, and
when the command ends) moves what start-up built out of later collections (``gc.freeze``) and
turns collection back on, so migrations that run for hours (a Chroma rebuild) are collected as
usual. env.py does the same for a run in a caller's process (``polyalembic/runtime/collection.py``).
"""

from __future__ import annotations

import gc

import click


def defer_collection(ctx: click.Context) -> None:
    """Collection off until ``resume`` (before the first migration, or at the end of the command)."""
    if gc.isenabled():
        gc.disable()
        ctx.call_on_close(_restore)


def resume() -> None:
    """Start-up is over: what it built is frozen out of collections; collection resumes."""
    if not gc.isenabled():
        gc.freeze()
        gc.enable()


def _restore() -> None:
    """The end of the command: collection on, nothing left frozen (the CLI may run in-process)."""
    gc.enable()
    gc.unfreeze()
