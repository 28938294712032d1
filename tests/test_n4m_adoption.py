"""``polyalembic adopt n4m DIR`` (issue 23, part 3) on a history the real neo4j-migrations CLI
2.19.2 wrote on the test Neo4j, beside the project's own applied chain: its files become neo4j
revisions, the ones it ran are recorded as applied, its bookkeeping stays out of snapshots, drift
and ``fresh``; what changed is read back from Neo4j and the ledger."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from polyalembic.project import Project
from polyalembic.settings import Settings
from polyalembic.stores.postgres.dsn import libpq_dsn
from tests import n4m_tool
from tests.conftest import settings_env
from tests.support import ledger, store_connection
from tests.test_n4m_history import write
from tests.test_recovery import cli

FILES = {
    "V1__person_id.cypher": "CREATE CONSTRAINT person_id IF NOT EXISTS FOR (p:Person) REQUIRE p.id IS UNIQUE;\n",
    "V1_1__person_name.cypher":
        "// the name index\r\nCREATE INDEX person_name IF NOT EXISTS FOR (p:Person) ON (p.name);\r\n",
    "V2__people.cypher": "MERGE (:Person {id: 1, name: 'Ann'});\nMERGE (:Person {id: 2, name: 'Bo'});\n",
}
LATER = {"V3__city_id.cypher": "CREATE CONSTRAINT city_id IF NOT EXISTS FOR (c:City) REQUIRE c.id IS UNIQUE;\n"}


def graph(settings: Settings, query: str) -> list[dict[str, object]]:
    with store_connection(settings, "neo4j") as handle:
        records, _, _ = handle.driver.execute_query(query, database_=handle.database)
    return [r.data() for r in records]


def schema_names(settings: Settings) -> set[str]:
    found = graph(settings, "SHOW CONSTRAINTS YIELD name") + graph(settings, "SHOW INDEXES YIELD name")
    return {r["name"] for r in found}


def n4m_nodes(settings: Settings) -> int:
    return graph(settings, "MATCH (n:__Neo4jMigration) RETURN count(n) AS n")[0]["n"]  # type: ignore[return-value]


@pytest.fixture
def migrated(project_copy: Project, settings: Settings, tmp_path: Path) -> tuple[Project, Path]:
    """The project's chain applied by polyalembic, then neo4j-migrations' three files by the CLI."""
    assert cli(project_copy, settings, "up").exit_code == 0
    folder = write(tmp_path / "n4m", FILES)
    n4m_tool.apply(settings, folder)
    return project_copy, folder


def test_a_neo4j_migrations_history_is_adopted_and_the_chain_goes_on(migrated: tuple[Project, Path],
                                                                     settings: Settings) -> None:
    project, folder = migrated
    neo4j_folder = project.migrations_dir / "neo4j"
    before = sorted(p.name for p in neo4j_folder.iterdir())
    preview = cli(project, settings, "adopt", "n4m", str(folder), "--dry-run")
    assert preview.exit_code == 0, preview.output
    assert "would convert 3 neo4j-migrations file(s)" in preview.output
    assert sorted(p.name for p in neo4j_folder.iterdir()) == before and len(ledger(settings)) == 12

    adopted = cli(project, settings, "adopt", "n4m", str(folder))
    assert adopted.exit_code == 0, adopted.output
    assert "V1_1__person_name.cypher -> 003_person_name.py (neo4j_003)" in adopted.output
    assert "recorded 3 revision(s) neo4j-migrations ran as applied" in adopted.output
    assert (neo4j_folder / "003_person_name.up.cql").read_bytes() == FILES["V1_1__person_name.cypher"].encode()
    rows = {r.revision: r for r in ledger(settings)}
    assert {"neo4j_002", "neo4j_003", "neo4j_004"} <= set(rows) and len(rows) == 15
    recorded = {r["version"]: r["checksum"] for r in graph(settings, "MATCH (m:__Neo4jMigration) WHERE "
                                                                     "m.version <> 'BASELINE' RETURN m.version AS "
                                                                     "version, m.checksum AS checksum")}
    assert rows["neo4j_003"].legacy_checksum == recorded["1.1"]
    with psycopg.connect(libpq_dsn(settings.ledger_dsn)) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [("neo4j_004",)]

    again = cli(project, settings, "adopt", "n4m", str(folder))
    assert again.exit_code == 0 and "nothing to adopt" in again.output, again.output

    status = cli(project, settings, "status", "--check")
    assert status.exit_code == 0, status.output
    # a file neo4j-migrations never ran: converted, pending, and applied by polyalembic itself
    write(folder, LATER)
    more = cli(project, settings, "adopt", "n4m", str(folder))
    assert "never run by neo4j-migrations (pending: `polyalembic up` applies them): neo4j_005" in more.output
    assert cli(project, settings, "generate", "neo4j", "tags").exit_code == 0
    up = cli(project, settings, "up")
    assert up.exit_code == 0, up.output
    assert {"city_id", "person_id", "person_name"} <= schema_names(settings)
    assert [r.revision for r in ledger(settings)][-2:] == ["neo4j_005", "neo4j_006"]
    drift = cli(project, settings, "drift")
    assert drift.exit_code == 0, drift.output
    assert "Neo4jMigration" not in drift.output

    # an adopted revision with no undo refuses a rollback in one line, polyalembic's and Alembic's
    down = cli(project, settings, "down", "3")
    assert down.exit_code == 1
    assert ("cannot roll back neo4j_005: its down file 005_city_id.down.cql is the stub adopt wrote (the tool it "
            "came from had no undo): write what reverts 005_city_id.up.cql in it and delete its first line: `down 1` "
            "reverts the 1 applied after it") in down.output, down.output
    stock = subprocess.run([sys.executable, "-m", "alembic", "-c", str(project.config_path), "downgrade", "neo4j_002"],
                           env=settings_env(settings), capture_output=True, text=True, timeout=300)
    assert stock.returncode != 0 and "is the stub adopt wrote" in stock.stderr, stock.stderr[-2000:]
    assert {"city_id", "person_id", "tags_id_unique"} <= schema_names(settings)  # refused before any step

    # fresh drops the store's own objects and keeps neo4j-migrations' history
    nodes = n4m_nodes(settings)
    assert cli(project, settings, "fresh", "--confirm", "DELETE ALL DATA").exit_code == 0
    assert n4m_nodes(settings) == nodes
    assert "unique_version___Neo4jMigration" in schema_names(settings)


def test_a_file_changed_since_neo4j_migrations_ran_it_is_refused(migrated: tuple[Project, Path],
                                                                 settings: Settings) -> None:
    project, folder = migrated
    (folder / "V2__people.cypher").write_text(FILES["V2__people.cypher"] + "MERGE (:Person {id: 3});\n")
    before = sorted(p.name for p in (project.migrations_dir / "neo4j").iterdir())
    refused = cli(project, settings, "adopt", "n4m", str(folder))
    assert refused.exit_code == 1
    line = [x for x in refused.output.splitlines() if x.startswith("polyalembic: error:")]
    assert len(line) == 1 and "adopt n4m: V2__people.cypher has checksum" in line[0], refused.output
    assert "but neo4j-migrations recorded" in line[0] and "nothing was changed" in line[0]
    assert sorted(p.name for p in (project.migrations_dir / "neo4j").iterdir()) == before
    assert len(ledger(settings)) == 12


def test_a_file_neo4j_migrations_ran_that_is_gone_is_refused(migrated: tuple[Project, Path],
                                                             settings: Settings) -> None:
    project, folder = migrated
    (folder / "V1_1__person_name.cypher").unlink()
    refused = cli(project, settings, "adopt", "n4m", str(folder))
    assert refused.exit_code == 1
    assert ("adopt n4m: neo4j-migrations recorded version 1.1 (V1_1__person_name.cypher) as applied, but no file "
            "in the folder has that version") in refused.output, refused.output
    assert len(ledger(settings)) == 12


def test_what_neo4j_migrations_ran_cannot_follow_a_head_that_is_not_applied(project_copy: Project,
                                                                           settings: Settings,
                                                                           tmp_path: Path) -> None:
    folder = write(tmp_path / "n4m", FILES)
    n4m_tool.apply(settings, folder)
    refused = cli(project_copy, settings, "adopt", "n4m", str(folder))
    assert refused.exit_code == 1
    assert ("adopt n4m: the history's head chromadb_001 is not applied, so what neo4j-migrations ran can't follow "
            "it as applied: `polyalembic up` first") in refused.output, refused.output
    assert not list((project_copy.migrations_dir / "neo4j").glob("00[2-9]_*"))
