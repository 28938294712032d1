"""What a ledger row says of its migration: the one spelling of ``schema_migrations.status``.

A plain ``StrEnum`` (no SQLAlchemy), so the reading commands use it too; its members compare
equal to the strings the table holds.
"""

from __future__ import annotations

from enum import StrEnum


class RowStatus(StrEnum):
    RUNNING = "running"  # started; for a migration that commits as it goes, ``completed_steps`` say how far
    APPLIED = "applied"
    FAILED = "failed"


#: the table's CHECK constraint, from the members
CHECK = f"status IN ({', '.join(repr(str(s)) for s in RowStatus)})"
