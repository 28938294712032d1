"""Python's garbage collector while a migration run starts.

Starting a run builds hundreds of thousands of long-lived objects (Alembic, SQLAlchemy, the
drivers, every revision module, Alembic's revision map) that the cyclic collector walks several
times while they are created, freeing nothing (bench/README.md has what it cost). Collection is
kept off while a run starts; ``end_start_up`` (just before the first migration) freezes what
start-up built out of later collections and turns collection back on, so migrations that run for
hours (a Chroma rebuild) are collected as usual; ``restore`` leaves the process as it was
(collection on, nothing frozen).

The CLI turns collection off from its own start (``cli/startup.py``); env.py does it for a run in a
caller's process (``alembic upgrade``, a test suite, an app) whose collector is on with nothing
frozen (``start_up_uncollected``). A process that manages its collector itself is left alone.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager


def end_start_up() -> None:
    """Start-up is over: what it built is frozen out of collections; collection resumes."""
    if not gc.isenabled():
        gc.freeze()
        gc.enable()


def restore() -> None:
    """The end of the run: collection on, nothing left frozen (the process goes on)."""
    gc.enable()
    gc.unfreeze()


@contextmanager
def start_up_uncollected() -> Iterator[Callable[[], None]]:
    """Collection off for the block; the callable it yields ends start-up (``end_start_up``).
    On leaving: ``restore``, then one full collection: the process goes on (an app, a test suite
    running run after run), and what start-up left to collect was frozen with it, out of reach of
    the collections during the run (without it, each run's start-up garbage would outlive it:
    0.4 MB a run, measured over hundreds). A collector already off or with objects frozen is left
    alone."""
    if not gc.isenabled() or gc.get_freeze_count():
        yield lambda: None
        return
    gc.disable()
    try:
        yield end_start_up
    finally:
        restore()
        gc.collect()
