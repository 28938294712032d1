"""Per-run options for revision files: ``-x name=value`` on the command line, else an env var.

    retention = option("episodic_retention")   # -x episodic_retention='365 days'
                                               # or POLYALEMBIC_EPISODIC_RETENTION='365 days'
"""

from __future__ import annotations

import os


def option(name: str, default: str | None = None) -> str | None:
    """The value of ``-x name=...``, else ``$POLYALEMBIC_<NAME>``, else ``default``."""
    try:
        from alembic import context

        x_args = context.get_x_argument(as_dictionary=True)
    except (AttributeError, NameError):  # outside an Alembic run
        x_args = {}
    value = x_args.get(name) or os.environ.get(f"POLYALEMBIC_{name.upper()}")
    return value if value else default
