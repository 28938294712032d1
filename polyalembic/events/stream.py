"""What a run tells while it runs: events for CI log processors and progress for a terminal.

The runtime and the stores' op implementations speak to one ``Events`` object per run (reached
through ``Run.events``); where the words go is a ``Reporter``'s business:

- ``Reporter``: the default, hears nothing; a run costs what it cost before (every method returns
  at once, a ``Progress`` only counts);
- ``JsonReporter``: one JSON object per line (``"v": 1``), for ``--log-format json``;
- ``polyalembic.events.terminal.TerminalReporter``: rich's live progress bars on a terminal's stderr
  (rich is imported only when a run starts there).

``polyalembic.events.reporters.reporter_for`` picks one for a run.

Stdlib only: ``import polyalembic`` and reading commands stay light. Fields are masked here, once,
so no reporter ever holds a secret.
"""

from __future__ import annotations

import errno
import json
import os
import sys
import time
from datetime import UTC, datetime
from types import TracebackType
from typing import IO, Any, Protocol

from polyalembic.masking import mask_text


class Settings(Protocol):
    """What events read of the run's settings (``polyalembic.settings.Settings``): the secrets
    they mask and where the stores are."""

    @property
    def ledger_dsn(self) -> str | None: ...

    def secrets(self) -> tuple[str, ...]: ...

    def location(self, store: str) -> str: ...

#: the ``v`` of every JSON event; bumped only when a field changes meaning or goes away
VERSION = 1
#: ``--log-format`` values
LOG_FORMATS = ("text", "json")


def reader_gone(exc: OSError) -> bool:
    """True for the error of writing to a pipe or terminal whose reader has gone."""
    return isinstance(exc, BrokenPipeError) or exc.errno in (errno.EPIPE, errno.EIO)


def silence_stdout() -> None:
    """Point stdout at /dev/null, so that nothing more (not even the exit flush) hits the closed pipe."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


class Reporter:
    """Hears a run's events; this base hears nothing. ``interval``: at most one progress report per
    that many seconds (the step's counter is only read then); ``every_end``: every counted step's
    end is reported, even one shorter than the interval (else only those reported before)."""

    active = False
    interval = 1.0
    every_end = False

    def emit(self, event: str, fields: dict[str, Any]) -> None:
        """One event: its name and its (masked) fields."""

    def close(self) -> None:
        """The run is over (called once, also after a failure)."""


class JsonReporter(Reporter):
    """One JSON object per line on ``stream`` (stdout): ``v``, ``ts`` (UTC, ISO 8601), ``event``,
    then the event's fields. Flushed per line, so a log processor sees each as it happens."""

    active = True
    interval = 2.0
    every_end = True  # a log keeps each step's count and rate, however short the step

    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream = stream

    def emit(self, event: str, fields: dict[str, Any]) -> None:
        stamp = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        stream = self.stream or sys.stdout
        stream.write(json.dumps({"v": VERSION, "ts": stamp, "event": event, **fields}, default=str) + "\n")
        stream.flush()


class Progress:
    """The counter of one long step (records copied, statements run, chunks decompressed).
    ``advance`` adds to a counter; the reporter hears of it at most once per its interval, and of
    a step shorter than that only at its end when it keeps every end (JSON), else not at all."""

    __slots__ = ("_events", "_next", "done", "started", "task", "total", "unit")

    def __init__(self, events: Events | None, task: str, total: int | None, unit: str) -> None:
        self._events, self.task, self.total, self.unit = events, task, total, unit
        self.done = 0
        self.started = time.monotonic()
        self._next = self.started + events.reporter.interval if events else float("inf")

    def advance(self, count: int = 1) -> None:
        """``count`` more units are done."""
        self.done += count
        if self._events is not None and (now := time.monotonic()) >= self._next:
            self._next = now + self._events.reporter.interval
            self._events.progress(self, now, finished=False)

    def close(self) -> None:
        """The step ended: a step that was reported (or any step, for a reporter that keeps every
        end) gets its final count."""
        events = self._events
        if events is not None and (events.reporter.every_end or self._next - events.reporter.interval > self.started):
            self._events.progress(self, time.monotonic(), finished=True)
        self._events = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


class Events:
    """A run's events, in order: ``run_started``, then for each migration ``migration_started``,
    ``step``\\* and ``progress``\\*, then ``applied``/``reverted`` or ``failed``; ``run_finished``
    last. Holds where the run is (migration i of n) so the stores need only say what they do."""

    def __init__(self, reporter: Reporter | None = None, settings: Settings | None = None) -> None:
        self.reporter = reporter or Reporter()
        self.active = self.reporter.active
        self.settings = settings
        self.command: str | None = None
        self.total: int | None = None
        self.index = 0
        self.applied = 0
        self.started = time.monotonic()
        self.finished = False
        self._migration: dict[str, Any] = {}
        self._secrets: tuple[str, ...] | None = None
        self._locations: dict[str, str] = {}

    def _mask(self, text: str | None) -> str | None:
        if text is None:
            return None

        if self._secrets is None:  # read once: the settings don't change during a run
            self._secrets = self.settings.secrets() if self.settings is not None else ()
        return mask_text(text, self._secrets)

    def _location(self, store: str) -> str | None:
        if self.settings is None:
            return None
        if store not in self._locations:
            self._locations[store] = self.settings.location(store)
        return self._locations[store]

    def _emit(self, event: str, **fields: Any) -> None:
        try:
            self.reporter.emit(event, fields)
        except OSError as exc:
            if not reader_gone(exc):
                raise
            # the reader went away (`| head`, a log shipper that died): the run goes on without its
            # events, the ledger says what it did
            silence_stdout()
            self.reporter = Reporter()
            self.active = False

    def run_started(self, command: str, migrations: int) -> None:
        """An upgrade or downgrade of ``migrations`` migrations starts (under the lock)."""
        self.command, self.total, self.started = command, migrations, time.monotonic()
        if self.active:
            ledger = self._mask(self.settings.ledger_dsn) if self.settings else None
            self._emit("run_started", command=command, migrations=migrations, ledger=ledger)

    def migration_started(self, revision: str, store: str, file: str) -> None:
        self.index += 1
        if not self.active:
            return
        self._migration = {"revision": revision, "store": store, "file": file}
        self._emit("migration_started", **self._migration, index=self.index, of=self.total,
                   location=self._location(store))

    def step(self, description: str) -> None:
        """A named step of the current migration begins (a statement, an op)."""
        if self.active:
            self._emit("step", **self._migration, step=self._mask(description[:200]))

    def progress_of(self, task: str, total: int | None, unit: str) -> Progress:
        """The counter of a long step of the current migration (see ``Progress``)."""
        return Progress(self if self.active else None, task, total, unit)

    def progress(self, counter: Progress, now: float, finished: bool) -> None:
        elapsed = max(now - counter.started, 1e-6)
        rate = counter.done / elapsed
        left = (counter.total - counter.done) / rate if counter.total is not None and rate > 0 else None
        self._emit("progress", **self._migration, task=self._mask(counter.task), done=counter.done,
                   total=counter.total, unit=counter.unit, rate=round(rate, 1),
                   eta_s=None if left is None or finished else round(max(left, 0.0), 1),
                   elapsed_ms=int(elapsed * 1000), finished=finished)

    def migration_finished(self, outcome: str, ms: int | None) -> None:
        """``applied`` or ``reverted``."""
        self.applied += 1
        if self.active:
            self._emit(outcome, **self._migration, index=self.index, of=self.total, ms=ms)
            self._migration = {}

    def migration_failed(self, error: str, step: str | None, ms: int) -> None:
        """The current migration failed: ``error`` is the one line the user sees."""
        if self.active:
            self._emit("failed", **self._migration, index=self.index, of=self.total, ms=ms,
                       error=self._mask(error), step=self._mask(step))
            self._migration = {}

    def run_finished(self, error: BaseException | str | None = None) -> None:
        """The last event of a run (once), ``ok`` false with the error's first line on a failure.
        A command that migrates nothing (stamp, current) tells only its failure."""
        if self.finished:
            return
        self.finished = True
        if self.active and (self.command is not None or error is not None):
            line = (str(error).strip() or type(error).__name__).splitlines()[0] if error is not None else None
            self._emit("run_finished", command=self.command, ok=error is None, migrations=self.total,
                       applied=self.applied, ms=int((time.monotonic() - self.started) * 1000),
                       error=self._mask(line))
        self.reporter.close()

