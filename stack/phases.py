"""Phase lines: a first run that takes minutes says what it is doing while it does it.

Every step that can take more than a few seconds (apt, the TimescaleDB build, Maven, the project
environment, each server's start) runs inside :func:`phase`, which prints its name when it starts
and its elapsed time when it ends. Each phase is a *download* (waiting for a registry) or *work*
(this machine's own time), so a slow network is told apart from a slow build.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

KINDS = ("download", "work")
_print_lock = threading.Lock()  # servers start in threads: one whole line at a time


def say(line: str) -> None:
    """One line on stdout, flushed (make and CI logs show it at once)."""
    with _print_lock:
        print(line, flush=True)


@contextmanager
def phase(name: str, kind: str = "work") -> Iterator[None]:
    """Print ``==> name [kind]`` now and ``<== name [kind]: 12.3 s`` (or ``FAILED after``) at the end."""
    if kind not in KINDS:
        raise ValueError(f"phase kind {kind!r}: use one of {', '.join(KINDS)}")
    label = f"{name} [{kind}]"
    say(f"==> {label}")
    started = time.monotonic()
    try:
        yield
    except BaseException:
        say(f"<== {label}: FAILED after {time.monotonic() - started:.1f} s")
        raise
    say(f"<== {label}: {time.monotonic() - started:.1f} s")
