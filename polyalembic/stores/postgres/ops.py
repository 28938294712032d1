"""SQL-store ops beyond Alembic's own: run a plain ``.sql`` migration file.

PostgreSQL revisions otherwise use Alembic's ops (``op.create_table``, ``op.execute``...) as is.
"""

from __future__ import annotations

from pathlib import Path

from alembic.operations import MigrateOperation, Operations


@Operations.register_operation("run_sql_file")
class RunSqlFileOp(MigrateOperation):
    """Run a whole SQL file. A first line ``-- polyalembic: no-transaction`` runs it outside a
    transaction (CREATE INDEX CONCURRENTLY, continuous aggregates WITH DATA)."""

    def __init__(self, path: str, reverse_path: str | None = None) -> None:
        self.path = path
        self.reverse_path = reverse_path

    @classmethod
    def run_sql_file(cls, operations: Operations, path: str, reverse_path: str | None = None) -> None:
        """Run the SQL file at ``path`` on the current revision's database."""
        return operations.invoke(cls(path, reverse_path))

    def read(self) -> str:
        return Path(self.path).read_text(encoding="utf-8-sig")  # a BOM is not SQL

    def reverse(self) -> RunSqlFileOp:
        if not self.reverse_path:
            raise ValueError(f"{Path(self.path).name} has no down file to reverse it")
        return RunSqlFileOp(self.reverse_path, self.path)
