"""Which ``Reporter`` a run gets, from ``--log-format`` and where stderr goes: the one place that
knows every kind (``events`` defines them, ``terminal`` draws; neither needs the other's choice)."""

from __future__ import annotations

import sys
from typing import Any

from polyalembic.errors import PolyalembicError
from polyalembic.events.stream import LOG_FORMATS, JsonReporter, Reporter
from polyalembic.events.terminal import TerminalReporter


def reporter_for(log_format: str | None, quiet: bool = False) -> Reporter:
    """``json``: JSON lines on stdout; otherwise progress bars when stderr is a terminal (and not
    ``quiet``), else nothing at all: the output is then exactly what it was without events."""
    if log_format == "json":
        return JsonReporter()
    if log_format not in (None, "", "text"):
        raise PolyalembicError(f"log format must be one of {', '.join(LOG_FORMATS)} "
                               f"(--log-format, -x log_format or POLYALEMBIC_LOG_FORMAT), got {log_format!r}")
    if not quiet and _is_terminal(sys.stderr):
        return TerminalReporter()
    return Reporter()


def _is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # replaced or closed streams
        return False
