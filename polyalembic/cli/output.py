"""How the CLI talks: one-line errors on stderr, progress lines on stdout, masked always.

Lazy imports: the settings (and so the store registry), only to mask a line once a run has them."""

from __future__ import annotations

import functools
import logging
import sys
import traceback
from typing import TYPE_CHECKING

import click

from polyalembic.events.stream import silence_stdout
from polyalembic.masking import mask_text

if TYPE_CHECKING:
    from polyalembic.request import Outcome


@functools.cache
def environment_secrets() -> tuple[str, ...]:
    """The secret values of the connection variables in the environment (for masking); read once
    per command, not per log line."""
    try:
        from polyalembic.settings import load_settings

        return load_settings().secrets()
    except Exception:  # noqa: BLE001 - masking must never fail the command
        return ()


def mask(text: str) -> str:
    """``text`` with URL userinfo, password= values and the environment's secrets masked."""
    return mask_text(text, environment_secrets())


class MaskingFilter(logging.Filter):
    """Masks passwords in every log record that reaches the console (tracebacks included)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = mask(record.getMessage())
        record.args = ()
        if record.exc_info:
            record.msg += "\n" + mask("".join(traceback.format_exception(*record.exc_info)))
            record.exc_info = None
        return True


def echo(text: str = "", **kwargs: object) -> None:
    """``click.echo`` that stops printing, quietly, once the reader is gone (``| head``)."""
    try:
        click.echo(text, **kwargs)  # type: ignore[arg-type]
    except BrokenPipeError:
        silence_stdout()


def setup_logging(verbose: bool, quiet: bool) -> None:
    level = logging.ERROR if quiet else logging.INFO if verbose else logging.WARNING
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s [%(name)s] %(message)s"))
    handler.addFilter(MaskingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    for name in ("polyalembic", "alembic"):
        logging.getLogger(name).setLevel(level)


class MigrationLines:
    """Prints one line per migration as it is applied, reverted, stamped or fails (a run's
    ``on_outcome``)."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet

    def __call__(self, outcome: Outcome) -> None:
        if self.quiet:
            return
        m, took = outcome.migration, f"{outcome.ms} ms" if outcome.ms is not None else ""
        echo(f"  {outcome.event:<9} {m.store:<12} {m.migration_file:<40} {took}".rstrip())


def fail(message: str) -> None:
    """Print ``polyalembic: error: <message>`` (one line, masked) and exit 1."""
    line = mask(str(message).strip().splitlines()[0] if str(message).strip() else "failed")
    click.echo(f"polyalembic: error: {line}", err=True)
    sys.exit(1)
