"""Per-run options for revision files: ``-x name=value`` on the command line, else an env var.

    retention = option("episodic_retention")   # -x episodic_retention='365 days'
                                               # or POLYALEMBIC_EPISODIC_RETENTION='365 days'

Alembic lets ``-x`` carry anything, so a misspelt name would silently do nothing: every name read
here is remembered, and a run that applied migrations warns about the ``-x`` names nobody read.

Lazy imports: Alembic, when an option is read inside a run (it is loaded by then).
"""

from __future__ import annotations

import os

#: the -x names asked for in this process, by polyalembic or by a revision
_asked: set[str] = set()


def x_arguments() -> dict[str, str]:
    """Alembic's ``-x`` arguments as a dictionary (empty outside an Alembic run)."""
    try:
        from alembic import context

        return context.get_x_argument(as_dictionary=True)
    except (AttributeError, NameError):  # outside an Alembic run
        return {}


def x_argument(name: str) -> str | None:
    """The value of ``-x name=...`` (None when absent), remembered as read."""
    _asked.add(name)
    return x_arguments().get(name)


def option(name: str, default: str | None = None) -> str | None:
    """The value of ``-x name=...``, else ``$POLYALEMBIC_<NAME>``, else ``default``."""
    value = x_argument(name) or os.environ.get(f"POLYALEMBIC_{name.upper()}")
    return value if value else default


def unread_x_arguments() -> list[str]:
    """The ``-x`` names that nothing asked for so far: typos, or options of migrations that did not run."""
    return sorted(set(x_arguments()) - _asked)
