"""``polyalembic adopt flyway DIR`` (issue 23, part 4) on histories real Flyway 13.12.0 wrote
(``mvn flyway:migrate``, tests/flyway_tool.py) in the postgres store's database, beside the
project's own chain: its V files become postgres revisions (its U files their down files), what it
ran is recorded as applied with its checksums, its history table stays out of snapshots, drift and
``fresh``; what changed is read back from PostgreSQL and the ledger."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from polyalembic.project import Project
from polyalembic.settings import Settings
from polyalembic.stores.postgres.dsn import libpq_dsn
from tests import flyway_tool
from tests.support import ledger
from tests.test_n4m_history import write
from tests.test_recovery import audit, cli

FILES = {
    "V1__create_account.sql": "CREATE TABLE fw_account (id int PRIMARY KEY, name text);\n",
    # a BOM and CRLF line breaks: Flyway's checksum reads lines, so polyalembic's must too
    "V1_1__account_email.sql": "\ufeff-- email\r\nALTER TABLE fw_account ADD COLUMN email text;\r\n",
    "V2__seed_accounts.sql": "INSERT INTO fw_account (id, name) VALUES (1, 'ann'), (2, 'bo');\n",
    "U2__seed_accounts.sql": "DELETE FROM fw_account;\n",
    "README.md": "Flyway's folder: not a migration.\n",
}


def query(settings: Settings, sql: str) -> list[tuple[object, ...]]:
    with psycopg.connect(libpq_dsn(settings.env["POSTGRES_DSN"])) as conn:
        cursor = conn.execute(sql)
        return cursor.fetchall() if cursor.description else []


def history(settings: Settings) -> list[tuple[object, ...]]:
    return query(settings, "SELECT * FROM flyway_schema_history ORDER BY installed_rank")


def refusal(output: str) -> str:
    lines = [line for line in output.splitlines() if line.startswith("polyalembic: error:")]
    assert len(lines) == 1, output
    return lines[0]


@pytest.fixture
def migrated(project_copy: Project, settings: Settings, tmp_path: Path) -> tuple[Project, Path]:
    """Flyway's files migrated by Flyway, then the project's own chain applied by polyalembic."""
    folder = write(tmp_path / "flyway", FILES)
    flyway_tool.migrate(settings.env["POSTGRES_DSN"], folder)
    assert cli(project_copy, settings, "up").exit_code == 0
    return project_copy, folder


def test_a_flyway_history_is_adopted_and_the_chain_goes_on(migrated: tuple[Project, Path],
                                                           settings: Settings) -> None:
    project, folder = migrated
    postgres = project.migrations_dir / "postgres"
    before = sorted(p.name for p in postgres.iterdir())
    recorded = {version: checksum for _, version, _, _, _, checksum, *_ in history(settings)}
    flyway_rows = history(settings)

    # a file changed since Flyway ran it: refused, nothing written
    (folder / "V2__seed_accounts.sql").write_text(FILES["V2__seed_accounts.sql"] + "-- later\n")
    line = refusal(cli(project, settings, "adopt", "flyway", str(folder)).output)
    assert "adopt flyway: V2__seed_accounts.sql has checksum" in line and f"but Flyway recorded {recorded['2']}" in line
    write(folder, {"V2__seed_accounts.sql": FILES["V2__seed_accounts.sql"]})

    preview = cli(project, settings, "adopt", "flyway", str(folder), "--dry-run")
    assert preview.exit_code == 0, preview.output
    assert "would convert 3 Flyway file(s) into postgres revisions" in preview.output
    assert "(2 down file(s) a stub that refuses a rollback until written)" in preview.output
    assert sorted(p.name for p in postgres.iterdir()) == before and len(ledger(settings)) == 12

    adopted = cli(project, settings, "adopt", "flyway", str(folder))
    assert adopted.exit_code == 0, adopted.output
    assert "V1_1__account_email.sql -> 009_account_email.py (postgres_009)" in adopted.output
    assert "recorded 3 revision(s) Flyway ran as applied" in adopted.output
    assert (postgres / "009_account_email.up.sql").read_bytes() == FILES["V1_1__account_email.sql"][1:].encode()
    assert (postgres / "010_seed_accounts.down.sql").read_text() == FILES["U2__seed_accounts.sql"]
    rows = {r.revision: r for r in ledger(settings)}
    assert len(rows) == 15 and [rows[f"postgres_0{n}"].legacy_checksum for n in ("08", "09", "10")] == \
        [str(recorded[v]) for v in ("1", "1.1", "2")]
    assert audit(settings, "postgres_010") == [("adopt flyway", audit(settings, "postgres_010")[0][1])]
    assert query(settings, "SELECT version_num FROM alembic_version") == [("postgres_010",)]
    assert history(settings) == flyway_rows  # Flyway's table is read, never written

    again = cli(project, settings, "adopt", "flyway", str(folder))
    assert again.exit_code == 0 and "nothing to adopt" in again.output, again.output
    status = cli(project, settings, "status", "--check")
    assert status.exit_code == 0, status.output

    # the next revision applies, and rolls back through the undo file Flyway had
    assert cli(project, settings, "generate", "postgres", "invoices").exit_code == 0
    up = cli(project, settings, "up")
    assert up.exit_code == 0, up.output
    assert query(settings, "SELECT to_regclass('invoices') IS NOT NULL") == [(True,)]
    drift = cli(project, settings, "drift")
    assert drift.exit_code == 0 and "flyway" not in drift.output, drift.output
    down = cli(project, settings, "down", "2")
    assert down.exit_code == 0, down.output
    assert query(settings, "SELECT count(*) FROM fw_account") == [(0,)]
    stub = cli(project, settings, "down", "1")
    assert stub.exit_code == 1
    assert "cannot roll back postgres_009: its down file 009_account_email.down.sql is the stub adopt wrote" \
        in refusal(stub.output)
    assert query(settings, "SELECT count(*) FROM information_schema.columns WHERE column_name = 'email'") == [(1,)]

    # fresh drops the store's objects, keeps Flyway's history, and runs the adopted files itself
    fresh = cli(project, settings, "fresh", "--confirm", "DELETE ALL DATA")
    assert fresh.exit_code == 0, fresh.output
    assert history(settings) == flyway_rows
    assert query(settings, "SELECT id, name, email FROM fw_account ORDER BY id") == [(1, "ann", None), (2, "bo", None)]


def test_a_baseline_stands_for_every_file_up_to_it_and_an_undo_takes_one_back(project_copy: Project, settings: Settings,
                                                   tmp_path: Path) -> None:
    """``baselineOnMigrate``: Flyway took over a schema that had V1 already, and ran the rest; then
    an undo took V2 back."""
    assert cli(project_copy, settings, "up").exit_code == 0
    query(settings, "CREATE TABLE fw_account (id int PRIMARY KEY, name text)")
    folder = write(tmp_path / "flyway", FILES)
    flyway_tool.migrate(settings.env["POSTGRES_DSN"], folder, "-Dflyway.baselineOnMigrate=true",
                        "-Dflyway.baselineVersion=1")
    assert [row[3] for row in history(settings)] == ["BASELINE", "SQL", "SQL"]
    # Flyway Teams' `undo` of V2, which Flyway's free edition can't run: the row it adds
    query(settings, "INSERT INTO flyway_schema_history SELECT 4, '2', 'seed accounts', 'UNDO_SQL', "
                    "'U2__seed_accounts.sql', 1, installed_by, now(), 1, true FROM flyway_schema_history "
                    "WHERE installed_rank = 3; DELETE FROM fw_account")
    adopted = cli(project_copy, settings, "adopt", "flyway", str(folder))
    assert adopted.exit_code == 0, adopted.output
    assert "recorded 2 revision(s) Flyway ran as applied" in adopted.output
    assert "never run by Flyway (pending: `polyalembic up` applies them): postgres_010" in adopted.output
    rows = {r.revision: r for r in ledger(settings)}
    assert rows["postgres_008"].status == "applied" and rows["postgres_008"].legacy_checksum is None
    assert cli(project_copy, settings, "up").exit_code == 0
    assert query(settings, "SELECT count(*) FROM fw_account") == [(2,)]
    assert cli(project_copy, settings, "status", "--check").exit_code == 0
    # Flyway's history in another schema (its `schemas` setting) is never taken for none
    query(settings, "CREATE SCHEMA flyway; ALTER TABLE flyway_schema_history SET SCHEMA flyway")
    line = refusal(cli(project_copy, settings, "adopt", "flyway", str(folder)).output)
    assert "adopt flyway: Flyway's flyway_schema_history is in schema flyway, not in the current schema" in line


def test_a_migration_flyway_recorded_as_failed_is_refused(project_copy: Project, settings: Settings,
                                                          tmp_path: Path) -> None:
    """A statement Flyway runs outside a transaction fails: PostgreSQL keeps Flyway's failed row."""
    broken = "CREATE INDEX CONCURRENTLY idx_nope ON no_such_table (id);\n"
    folder = write(tmp_path / "flyway", {"V1__create_account.sql": FILES["V1__create_account.sql"],
                                         "V2__broken_index.sql": broken})
    failed = flyway_tool.flyway(settings.env["POSTGRES_DSN"], folder, "migrate",
                                "-Dflyway.postgresql.transactional.lock=false")
    assert failed.returncode != 0 and [row[-1] for row in history(settings)] == [True, False]
    assert cli(project_copy, settings, "up").exit_code == 0
    before = sorted(p.name for p in (project_copy.migrations_dir / "postgres").iterdir())
    line = refusal(cli(project_copy, settings, "adopt", "flyway", str(folder)).output)
    assert line == ("polyalembic: error: adopt flyway: Flyway recorded version 2 (V2__broken_index.sql) as failed: "
                    "finish or undo it with Flyway first (its repair removes a failed row), then adopt; nothing was "
                    "changed")
    assert sorted(p.name for p in (project_copy.migrations_dir / "postgres").iterdir()) == before
    assert len(ledger(settings)) == 12
    # the way on the line names: Flyway's repair removes the failed row; the file is fixed and run
    repaired = flyway_tool.flyway(settings.env["POSTGRES_DSN"], folder, "repair")
    assert repaired.returncode == 0 and [row[-1] for row in history(settings)] == [True], repaired.stdout[-2000:]
    fixed = "CREATE INDEX CONCURRENTLY idx_account_name ON fw_account (name);\n"
    write(folder, {"V2__broken_index.sql": fixed})
    flyway_tool.migrate(settings.env["POSTGRES_DSN"], folder, "-Dflyway.postgresql.transactional.lock=false")
    adopted = cli(project_copy, settings, "adopt", "flyway", str(folder))
    assert adopted.exit_code == 0 and "recorded 2 revision(s) Flyway ran as applied" in adopted.output, adopted.output
    # Flyway ran it outside a transaction, so does polyalembic: fresh runs the adopted files anew
    up_file = project_copy.migrations_dir / "postgres" / "009_broken_index.up.sql"
    assert up_file.read_text() == "-- polyalembic: no-transaction\n" + fixed
    fresh = cli(project_copy, settings, "fresh", "--confirm", "DELETE ALL DATA")
    assert fresh.exit_code == 0, fresh.output
    assert query(settings, "SELECT indexname FROM pg_indexes WHERE indexname = 'idx_account_name'") == \
        [("idx_account_name",)]
