"""Every early commit is seen: a revision of the ledger's database that commits part of its work
itself (Alembic's own ``autocommit_block()``, as Alembic's documentation builds an index) has its
``running`` row before anything commits, and after a kill the ledger and the message say so."""

from __future__ import annotations

import subprocess
import sys

import sqlalchemy as sa

from polyalembic.project import Project
from polyalembic.settings import Settings
from tests.conftest import settings_env
from tests.support import add_revision, ledger, store_connection
from tests.test_recovery import cli

USERS_OWN_BLOCK = '''
"""A table filled in the migration's transaction, its index built outside it (Alembic's way)."""
import os
import signal

from alembic import op

revision = "postgres_008"
down_revision = "chromadb_001"
store = "postgres"


def upgrade():
    op.execute("CREATE TABLE readings (id int PRIMARY KEY, v int)")
    op.execute("INSERT INTO readings SELECT g, g % 7 FROM generate_series(1, 1000) g")
    with op.get_context().autocommit_block():
        op.execute("CREATE INDEX CONCURRENTLY readings_v ON readings (v)")
        if os.environ.get("KILL_INSIDE_THE_BLOCK"):  # the user's process dies here (OOM, a deploy)
            os.kill(os.getpid(), signal.SIGKILL)
    op.execute("COMMENT ON TABLE readings IS 'indexed'")


def downgrade():
    op.execute("DROP TABLE readings")
'''


def _tables(settings: Settings) -> set[str]:
    with store_connection(settings, "postgres") as connection:
        return set(connection.execute(sa.text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))
                   .scalars())


def test_a_users_autocommit_block_is_recorded_running_and_a_kill_inside_it_names_repair(
        project_copy: Project, settings: Settings) -> None:
    assert cli(project_copy, settings, "up").exit_code == 0
    add_revision(project_copy, "008_readings.py", USERS_OWN_BLOCK, "postgres")
    killed = subprocess.run([sys.executable, "-m", "polyalembic", "-c", str(project_copy.config_path), "up"],
                            env={**settings_env(settings), "KILL_INSIDE_THE_BLOCK": "1"},
                            capture_output=True, text=True, timeout=300)
    assert killed.returncode == -9
    assert "readings" in _tables(settings)  # what the block committed is there
    row = {r.revision: r for r in ledger(settings)}["postgres_008"]
    assert (row.status, row.completed_steps) == ("running", 0)

    status = cli(project_copy, settings, "status")
    assert "running" in status.output and "pending" not in status.output
    refused = cli(project_copy, settings, "up")
    assert refused.exit_code == 1
    assert "polyalembic repair" in refused.output and "rolled back" not in refused.output
    assert "postgres_008" in refused.output

    # the table and its index are there: finished by hand, as the message offers
    assert cli(project_copy, settings, "repair", "mark-applied", "postgres_008").exit_code == 0
    assert {r.revision: r.status for r in ledger(settings)}["postgres_008"] == "applied"


def test_a_users_autocommit_block_that_finishes_is_applied(project_copy: Project, settings: Settings) -> None:
    add_revision(project_copy, "008_readings.py", USERS_OWN_BLOCK, "postgres")
    assert cli(project_copy, settings, "up").exit_code == 0
    row = {r.revision: r for r in ledger(settings)}["postgres_008"]
    assert row.status == "applied"
    with store_connection(settings, "postgres") as connection:
        comment = connection.execute(sa.text("SELECT obj_description('readings'::regclass)")).scalar()
    assert comment == "indexed"  # the work after the block ran and committed with the row


def test_a_failure_after_an_early_commit_is_no_rollback(project_copy: Project, settings: Settings) -> None:
    add_revision(project_copy, "008_readings.py",
                 USERS_OWN_BLOCK.replace("COMMENT ON TABLE readings", "COMMENT ON TABLE no_such_table"), "postgres")
    failed = cli(project_copy, settings, "up")
    assert failed.exit_code == 1
    assert "rolled back" not in failed.output and "polyalembic repair resume postgres_008" in failed.output
    row = {r.revision: r for r in ledger(settings)}["postgres_008"]
    assert (row.status, row.completed_steps) == ("failed", 0)
    assert "readings" in _tables(settings)
