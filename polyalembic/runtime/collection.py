"""Python's garbage collector while env.py starts a run under a caller's process (``alembic``).

Loading a long chain builds hundreds of thousands of long-lived objects (every revision module,
Alembic's revision map) that the cyclic collector walks several times while they are created,
freeing nothing: ~0.15 s of a 1,000-revision ``alembic upgrade``. As the ``polyalembic`` CLI does
for itself (``polyalembic/cli/startup.py``), a run started with collection on and nothing frozen
turns collection off until its first migration, then freezes what start-up built and turns it back
on; at the end of the run the process is left as it was (collection on, nothing frozen). A
process that already manages its collector (the CLI, an app that froze its own objects) is left
alone.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager


def _resume() -> None:
    if not gc.isenabled():
        gc.freeze()
        gc.enable()


@contextmanager
def start_up_uncollected() -> Iterator[Callable[[], None]]:
    """Collection off for the block; the callable it yields ends start-up (freeze, collection on).
    On leaving: collection on, nothing frozen, as before the block."""
    if not gc.isenabled() or gc.get_freeze_count():
        yield lambda: None
        return
    gc.disable()
    try:
        yield _resume
    finally:
        gc.enable()
        gc.unfreeze()
