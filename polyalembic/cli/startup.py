"""The CLI process's garbage collector during start-up (see ``polyalembic/runtime/collection.py``): off
from the command's start; ``resume`` (run just before the first migration, and when the command
ends) freezes what start-up built and turns collection back on; the command's end restores it."""

from __future__ import annotations

import gc

import click

from polyalembic.runtime.collection import end_start_up, restore

#: handed to env.py: start-up is over (before the first migration)
resume = end_start_up


def defer_collection(ctx: click.Context) -> None:
    """Collection off until ``resume`` (before the first migration, or at the end of the command)."""
    if gc.isenabled():
        gc.disable()
        ctx.call_on_close(restore)
