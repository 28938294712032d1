"""What ``migrations/env.py`` calls: ``polyalembic.runtime.run()``."""

from polyalembic.runtime.environment import run

__all__ = ["run"]
