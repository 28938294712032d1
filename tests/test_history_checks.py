"""An applied history is checked at every upgrade, pending or not (Flyway's validate-on-migrate),
and line endings are not history: a CRLF checkout of an applied chain is unchanged."""

from __future__ import annotations

import subprocess
import sys

import sqlalchemy as sa

from polyalembic.chain.checksum import byte_checksum
from polyalembic.project import Project
from polyalembic.settings import Settings
from tests.conftest import settings_env
from tests.support import ledger, store_connection
from tests.test_recovery import cli

EDITED = ("nothing was applied: migrations/postgres/002_skill_progressions.up.sql: changed after it was applied "
          "(checksum mismatch): revert the edit and write a new migration, or `polyalembic repair accept-checksum "
          "postgres_002` if the edit is intended")


def _alembic(project: Project, settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "alembic", "-c", str(project.config_path), *args],
                          env=settings_env(settings), capture_output=True, text=True, timeout=300)


def test_up_with_nothing_pending_refuses_an_applied_file_edited_by_one_comment(project_copy: Project,
                                                                                settings: Settings) -> None:
    assert cli(project_copy, settings, "up").exit_code == 0
    before = ledger(settings)
    path = project_copy.migrations_dir / "postgres" / "002_skill_progressions.up.sql"
    path.write_text("-- reviewed\n" + path.read_text())

    refused = cli(project_copy, settings, "up")
    assert refused.exit_code == 1 and EDITED in refused.output
    assert "Nothing to apply" not in refused.output
    stock = _alembic(project_copy, settings, "upgrade", "head")
    assert stock.returncode != 0 and "changed after it was applied" in stock.stderr, stock.stderr[-2000:]
    assert ledger(settings) == before  # nothing was recorded, nothing moved

    assert cli(project_copy, settings, "repair", "accept-checksum", "postgres_002").exit_code == 0
    again = cli(project_copy, settings, "up")
    assert again.exit_code == 0 and "Nothing to apply" in again.output


def test_a_crlf_checkout_of_an_applied_chain_is_unchanged(project_copy: Project, settings: Settings) -> None:
    assert cli(project_copy, settings, "up").exit_code == 0
    recorded = {row.revision: row.checksum for row in ledger(settings)}
    converted = 0
    for path in project_copy.migrations_dir.glob("*/*"):
        if path.suffix in {".py", ".sql", ".cql"}:
            text = path.read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
            path.write_bytes((b"\xef\xbb\xbf" if path.suffix == ".sql" else b"") + text)  # and a BOM on SQL
            converted += 1
    assert converted >= 18

    for command in (("validate",), ("status", "--check"), ("up",)):
        result = cli(project_copy, settings, *command)
        assert result.exit_code == 0, (command, result.output)
        assert "mismatch" not in result.output
    assert _alembic(project_copy, settings, "upgrade", "head").returncode == 0
    assert {row.revision: row.checksum for row in ledger(settings)} == recorded  # no row rewritten


def test_a_row_recorded_from_a_crlf_checkout_before_line_endings_were_ignored_still_holds(
        project_copy: Project, settings: Settings) -> None:
    """What polyalembic recorded then was the bytes' checksum: from the same checkout it matches."""
    assert cli(project_copy, settings, "up").exit_code == 0
    revision = project_copy.migrations_dir / "postgres" / "002_skill_progressions.py"
    up_file = revision.with_name("002_skill_progressions.up.sql")
    for path in (revision, up_file):
        path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    old_form = byte_checksum(revision.read_bytes(), up_file)
    with store_connection(settings, "postgres") as connection:
        connection.execute(sa.text("UPDATE schema_migrations SET checksum = :c WHERE revision = 'postgres_002'"),
                           {"c": old_form})
    status = cli(project_copy, settings, "status", "--check")
    assert status.exit_code == 0 and "mismatch" not in status.output, status.output
    assert cli(project_copy, settings, "up").exit_code == 0
