"""Progress on a terminal: rich's live bars on stderr while a run lasts, gone when it ends.

One bar for the run (migration i of n, its store and file, the step it is at, elapsed time) and one
per long step a store reports (records, records/s, ETA). A finished long step leaves one line
(``rebuild docs: 20,000 records in 46.1 s, 434 records/s``). Lines printed meanwhile (the CLI's
``applied`` lines, log warnings) appear above the bars instead of tearing them. Only
``reporters.reporter_for`` builds this, and only when stderr is a terminal; rich is imported when a run
starts.

Lazy imports: rich, when a run starts on a terminal: no other command pays for it.
"""

from __future__ import annotations

import logging
import sys
from typing import TYPE_CHECKING, Any

from polyalembic.events.stream import Reporter

if TYPE_CHECKING:  # rich is imported when a run starts, not when a command that runs none builds this
    from rich.progress import Progress, TaskID


def count(value: float) -> str:
    return f"{value:,.0f}"


def clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds + 0.5), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


def detail(fields: dict[str, Any]) -> str:
    """``1,234/20,000 records · 512 records/s · ETA 0:00:36`` (what is known of it)."""
    done, total, unit = fields["done"], fields["total"], fields["unit"]
    parts = [f"{count(done)}/{count(total)} {unit}" if total is not None else f"{count(done)} {unit}",
             f"{count(fields['rate'])} {unit}/s"]
    if fields.get("eta_s") is not None:
        parts.append(f"ETA {clock(fields['eta_s'])}")
    return " · ".join(parts)


class TerminalReporter(Reporter):
    """The live display of one run (see module doc)."""

    active = True
    interval = 0.25

    def __init__(self) -> None:
        self._progress: Progress | None = None
        self._run: TaskID | None = None
        self._steps: dict[str, TaskID] = {}
        self._streams: list[tuple[logging.StreamHandler[Any], Any]] = []

    def _start(self) -> Progress:
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        progress = Progress(TextColumn("{task.description}"), BarColumn(bar_width=24),
                            TextColumn("{task.fields[detail]}"), TimeElapsedColumn(),
                            console=Console(stderr=True), transient=True, refresh_per_second=4,
                            redirect_stdout=sys.stdout.isatty(), redirect_stderr=True)
        original = sys.stderr
        progress.start()
        self._point_logging(original, sys.stderr)
        self._progress = progress
        return progress

    def _point_logging(self, original: Any, proxy: Any) -> None:
        """Log handlers writing to stderr write through the display while it lasts."""
        if proxy is original:
            return
        loggers = [logging.getLogger(), *(v for v in logging.Logger.manager.loggerDict.values()
                                          if isinstance(v, logging.Logger))]
        for logger in loggers:
            for handler in logger.handlers:
                if isinstance(handler, logging.StreamHandler) and handler.stream is original:
                    self._streams.append((handler, original))
                    handler.setStream(proxy)

    def emit(self, event: str, fields: dict[str, Any]) -> None:
        if event == "run_started":
            progress = self._progress or self._start()
            self._run = progress.add_task(f"{fields['command']} of {fields['migrations']} migration(s)",
                                          total=fields["migrations"] or None, detail="")
            return
        progress, run = self._progress, self._run
        if progress is None or run is None:
            return
        if event == "migration_started":
            where = f"migration {fields['index']}/{fields['of']} {fields['store']} {fields['file']}"
            progress.update(run, completed=fields["index"] - 1, detail="", description=where)
        elif event == "step":
            progress.update(run, detail=f"[dim]{_short(fields['step'])}[/]")
        elif event == "progress":
            self._show(progress, fields)
        elif event in ("applied", "reverted"):
            progress.update(run, completed=fields["index"])
        elif event == "run_finished":
            self.close()

    def _show(self, progress: Progress, fields: dict[str, Any]) -> None:
        task = self._steps.get(fields["task"])
        if fields["finished"]:
            if task is not None:
                progress.remove_task(self._steps.pop(fields["task"]))
            progress.console.print(f"    {fields['task']}: {count(fields['done'])} {fields['unit']} in "
                                   f"{fields['elapsed_ms'] / 1000:.1f} s, {count(fields['rate'])} {fields['unit']}/s",
                                   highlight=False, markup=False)
            return
        if task is None:
            self._steps[fields["task"]] = progress.add_task(f"  {fields['task']}", total=fields["total"],
                                                            completed=fields["done"], detail=detail(fields))
        else:
            progress.update(task, completed=fields["done"], total=fields["total"], detail=detail(fields))

    def close(self) -> None:
        if self._progress is None:
            return
        progress, self._progress = self._progress, None
        for handler, stream in self._streams:
            handler.setStream(stream)
        self._streams.clear()
        progress.stop()


def _short(text: str, width: int = 60) -> str:
    from rich.markup import escape

    line = " ".join(text.split())
    return escape(line if len(line) <= width else line[:width - 1] + "…")
