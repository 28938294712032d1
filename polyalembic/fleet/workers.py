"""Worker processes for a fleet: each is fed one target at a time through a pipe of its own, so a
worker that dies (killed, out of memory) fails only the target it was running and is replaced;
the other workers go on with theirs. (A ``ProcessPoolExecutor`` breaks as a whole when one worker
dies: it would stop every other target mid-migration.)

Workers are spawned (a clean interpreter: nothing of the parent's connections or state is
inherited) and live for the whole run, each loading the chain once and running target after
target. After its first task a worker freezes what that built (the modules, Alembic, the
drivers) out of garbage collection and collects as usual from then on: a run's own start-up
handling of the collector (``runtime/collection.py``) is meant for one run in a process, and
repeated run after run it would freeze each run's garbage with the next start-up, so a worker
would grow with every target (0.4 MB each, measured).
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
from collections.abc import Callable
from multiprocessing.connection import Connection, wait
from typing import Any


def _serve(connection: Connection) -> None:
    """A worker's loop: run each ``(function, arguments)`` it is sent, send back what it returned."""
    while True:
        try:
            task = connection.recv()
        except (EOFError, KeyboardInterrupt):
            return
        if task is None:
            return
        function, arguments = task
        connection.send(function(*arguments))
        if not gc.get_freeze_count():  # the first task's start-up: frozen once, not per target
            gc.collect()
            gc.freeze()


def _received(worker: Worker) -> tuple[Any] | None:
    """(what the worker sent back,), or None when its pipe closed first (it died)."""
    try:
        return (worker.connection.recv(),)
    except (EOFError, OSError):
        return None


class Worker:
    def __init__(self, context: Any) -> None:
        self.connection, child = context.Pipe()
        self.process = context.Process(target=_serve, args=(child,), daemon=True)
        self.process.start()
        child.close()
        self.task: Any = None


class WorkerPool:
    """``size`` workers; ``submit`` hands one a task, ``finished`` waits for the next ends."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._context = multiprocessing.get_context("spawn")
        self._idle: list[Worker] = []
        self._busy: list[Worker] = []

    def free(self) -> int:
        return self.size - len(self._busy)

    def busy(self) -> int:
        return len(self._busy)

    def submit(self, key: Any, function: Callable[..., Any], *arguments: Any) -> None:
        """Run ``function(*arguments)`` in a free worker (one is started if none is idle and
        alive: an idle worker killed while it waited for work is replaced, not sent to)."""
        worker = self._live_idle() or Worker(self._context)
        try:
            worker.connection.send((function, arguments))
        except OSError:  # it died between the look and the send
            self._discard(worker)
            worker = Worker(self._context)
            worker.connection.send((function, arguments))
        worker.task = key
        self._busy.append(worker)

    def _live_idle(self) -> Worker | None:
        while self._idle:
            worker = self._idle.pop()
            if worker.process.is_alive():
                return worker
            self._discard(worker)
        return None

    @staticmethod
    def _discard(worker: Worker) -> None:
        worker.process.join(timeout=10)
        worker.connection.close()

    def finished(self, timeout: float | None = None) -> list[tuple[Any, Any, int | None]]:
        """(key, result, None) for each task that ended within ``timeout``, or (key, None, exit
        code) for one whose worker died."""
        ready = set(wait([w.connection for w in self._busy] + [w.process.sentinel for w in self._busy], timeout))
        ended = []
        for worker in [w for w in self._busy if w.connection in ready or w.process.sentinel in ready]:
            self._busy.remove(worker)
            returned = _received(worker) if worker.connection in ready else None
            if returned is not None:
                ended.append((worker.task, returned[0], None))
                self._idle.append(worker)
            else:  # the pipe closed with nothing in it: the worker died
                worker.process.join()
                ended.append((worker.task, None, worker.process.exitcode))
                worker.connection.close()
        return ended

    def close(self) -> None:
        """Stop the idle workers; the busy ones (a run stopped by an error) are terminated."""
        for worker in self._idle:
            with contextlib.suppress(OSError):
                worker.connection.send(None)
        for worker in self._busy:
            worker.process.terminate()
        for worker in self._idle + self._busy:
            worker.process.join(timeout=10)
            worker.connection.close()
        self._idle, self._busy = [], []
