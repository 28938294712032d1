"""Running a chain: what ``migrations/env.py`` calls (``polyalembic.runtime.run()``), the run and
its store connections, the ledger's rules per migration, and the collector while a run starts.

``run`` is loaded on first use: the CLI's start-up, the op implementations and the binder files
import modules of this package (``collection``, ``current_run``) without paying for Alembic.

Lazy imports: the run itself (``run``), when env.py calls it: importing ``polyalembic.runtime``
stays cheap.
"""

from __future__ import annotations

from typing import Any

__all__ = ["run"]


def __getattr__(name: str) -> Any:
    if name == "run":
        from polyalembic.runtime.environment import run

        return run
    raise AttributeError(f"module 'polyalembic.runtime' has no attribute {name!r}")
