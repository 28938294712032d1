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


#: whether a run in this process has started already (then its start-up garbage is still about)
_ran_before = [False]


@contextmanager
def start_up_uncollected() -> Iterator[Callable[[], None]]:
    """Collection off for the block; the callable it yields ends start-up (``end_start_up``).
    On leaving: ``restore``. A collector already off or with objects frozen is left alone.

    What a start-up left to collect is frozen with it, out of reach of the collections during its
    run, and stays after: a second run in the process (an app, a test suite) first collects it
    fully, or every run would leave its own behind (0.4 MB a run, measured over hundreds). The
    first run of a process (``alembic upgrade``) pays nothing: its process ends with it."""
    if not gc.isenabled() or gc.get_freeze_count():
        yield lambda: None
        return
    if _ran_before[0]:
        gc.collect()
    _ran_before[0] = True
    gc.disable()
    try:
        yield end_start_up
    finally:
        restore()
