"""A committed step is never run twice: a kill between a store's commit and the ledger's update
(reached on purpose through the crash test's kill point) is resumed without repeating the step,
and what can't carry a marker says what is known instead."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from polyalembic.project import Project
from polyalembic.settings import Settings
from tests.conftest import settings_env
from tests.support import add_revision, ledger, snapshot, store_connection
from tests.test_recovery import cli

BINDER = '''
"""{doc}"""
from polyalembic.pairs import migration_files

revision = "neo4j_002"
down_revision = "chromadb_001"
store = "neo4j"

upgrade, downgrade = migration_files(__file__)
'''


def _graph(settings: Settings, query: str, **parameters: Any) -> list[dict[str, Any]]:
    with store_connection(settings, "neo4j") as graph:
        records, _, _ = graph.driver.execute_query(query, parameters, database_=graph.database)
    return [record.data() for record in records]


def _pair(project: Project, up: str, down: str, doc: str = "Readings.") -> None:
    folder = project.migrations_dir / "neo4j"
    (folder / "002_readings.up.cql").write_text(up)
    (folder / "002_readings.down.cql").write_text(down)
    add_revision(project, "002_readings.py", BINDER.format(doc=doc), "neo4j")


def _up_killed_at_the_first_commit(project: Project, settings: Settings) -> None:
    """``polyalembic up``, SIGKILLed right after the store committed its first step that commits
    on its own, before the ledger heard of it."""
    killed = subprocess.run([sys.executable, "-m", "polyalembic", "-c", str(project.config_path), "up"],
                            env={**settings_env(settings), "POLYALEMBIC_CRASH_AT": "store-committed"},
                            capture_output=True, text=True, timeout=300)
    assert killed.returncode == -9, killed.stderr[-2000:]


def _row(settings: Settings) -> Any:
    return {r.revision: r for r in ledger(settings)}["neo4j_002"]


def test_a_batch_of_creates_killed_after_neo4j_committed_is_not_run_again(project_copy: Project,
                                                                          settings: Settings) -> None:
    assert cli(project_copy, settings, "up").exit_code == 0
    _pair(project_copy, "".join(f"CREATE (:Reading {{n: {i}}});\n" for i in range(1000)),
          "MATCH (r:Reading) DELETE r;\n")
    _up_killed_at_the_first_commit(project_copy, settings)
    assert _graph(settings, "MATCH (r:Reading) RETURN count(r) AS n")[0]["n"] == 1000  # Neo4j committed
    assert (_row(settings).status, _row(settings).completed_steps) == ("running", 0)  # the ledger never heard

    refused = cli(project_copy, settings, "up")
    assert refused.exit_code == 1 and "repair resume neo4j_002" in refused.output
    resumed = cli(project_copy, settings, "repair", "resume", "neo4j_002")
    assert resumed.exit_code == 0, resumed.output
    counts = _graph(settings, "MATCH (r:Reading) RETURN count(r) AS n, count(DISTINCT r.n) AS distinct")[0]
    assert counts == {"n": 1000, "distinct": 1000}  # not 2,000
    assert _row(settings).status == "applied"
    assert "skipped (committed before the interruption, the store says): step 1" in resumed.output
    assert _graph(settings, "MATCH (s:_PolyalembicStep) RETURN count(s) AS n")[0]["n"] == 0  # markers gone
    assert cli(project_copy, settings, "drift").exit_code == 0


@pytest.mark.parametrize("statement", [
    "UNWIND range(1, 500) AS i CREATE (:Reading {n: i})",  # the marker appended to its own query
    "UNWIND range(1, 500) AS i CREATE (r:Reading {n: i}) RETURN count(r) AS made",  # a statement of its own
], ids=["appended", "own statement"])
def test_a_single_create_killed_after_neo4j_committed_is_not_run_again(project_copy: Project, settings: Settings,
                                                                      statement: str) -> None:
    assert cli(project_copy, settings, "up").exit_code == 0
    _pair(project_copy, statement + ";\n", "MATCH (r:Reading) DELETE r;\n")
    _up_killed_at_the_first_commit(project_copy, settings)
    assert _graph(settings, "MATCH (r:Reading) RETURN count(r) AS n")[0]["n"] == 500
    assert _graph(settings, "MATCH (s:_PolyalembicStep {revision: 'neo4j_002'}) RETURN s.step AS step") == [
        {"step": 1}]  # committed with the writes
    resumed = cli(project_copy, settings, "repair", "resume", "neo4j_002")
    assert resumed.exit_code == 0, resumed.output
    assert _graph(settings, "MATCH (r:Reading) RETURN count(r) AS n")[0]["n"] == 500
    assert _row(settings).status == "applied"


def test_a_named_schema_statement_killed_after_it_committed_is_seen_in_the_live_schema(
        project_copy: Project, settings: Settings) -> None:
    assert cli(project_copy, settings, "up").exit_code == 0
    _pair(project_copy, "CREATE CONSTRAINT reading_n FOR (r:Reading) REQUIRE r.n IS UNIQUE;\n"
                        "CREATE (:Reading {n: 1});\n",
          "MATCH (r:Reading) DELETE r;\nDROP CONSTRAINT reading_n;\n")
    _up_killed_at_the_first_commit(project_copy, settings)
    assert "reading_n" in snapshot(settings)["neo4j"]["constraints"]
    resumed = cli(project_copy, settings, "repair", "resume", "neo4j_002")  # no "equivalent already exists"
    assert resumed.exit_code == 0, resumed.output
    assert _graph(settings, "MATCH (r:Reading) RETURN count(r) AS n")[0]["n"] == 1
    assert _row(settings).status == "applied"
    assert "skipped (committed before the interruption, the store says): step 1" in resumed.output


def test_a_statement_in_transactions_of_its_own_is_never_resumed_blindly(project_copy: Project,
                                                                         settings: Settings) -> None:
    assert cli(project_copy, settings, "up").exit_code == 0
    batched = "UNWIND range(1, 500) AS i CALL { WITH i CREATE (:Reading {n: i}) } IN TRANSACTIONS OF 100 ROWS;\n"
    _pair(project_copy, batched, "MATCH (r:Reading) DELETE r;\n")
    _up_killed_at_the_first_commit(project_copy, settings)
    refused = cli(project_copy, settings, "repair", "resume", "neo4j_002")
    assert refused.exit_code == 1
    assert "may have partly run" in refused.output
    assert "polyalembic repair retry neo4j_002" in refused.output and "mark-applied neo4j_002" in refused.output
    assert _graph(settings, "MATCH (r:Reading) RETURN count(r) AS n")[0]["n"] == 500  # it ran nothing again

    # the README's advice: write it idempotent, then retry
    up_file = project_copy.migrations_dir / "neo4j" / "002_readings.up.cql"
    up_file.write_text(up_file.read_text().replace("CREATE (:Reading", "MERGE (:Reading"))
    assert cli(project_copy, settings, "repair", "accept-checksum", "neo4j_002").exit_code in (0, 1)
    retried = cli(project_copy, settings, "repair", "retry", "neo4j_002")
    assert retried.exit_code == 0, retried.output
    assert _graph(settings, "MATCH (r:Reading) RETURN count(r) AS n")[0]["n"] == 500
    assert _row(settings).status == "applied"


def test_a_chroma_rename_that_already_committed_is_finished_not_failed(settings: Settings) -> None:
    """Chroma has no transactions: polyalembic's own ops are safe to run again. A modify whose
    rename committed before the interruption sets the rest on the renamed collection."""
    from polyalembic.stores.chromadb.impl import modify
    from polyalembic.stores.chromadb.ops import ModifyCollectionOp

    op = ModifyCollectionOp("old_readings", new_name="readings", metadata={"unit": "celsius"})
    with store_connection(settings, "chromadb") as client:
        client.create_collection("old_readings", embedding_function=None)
        client.get_collection("old_readings", embedding_function=None).modify(name="readings")  # the first attempt
        modify(client, op)  # the rerun
        names = {c.name for c in client.list_collections()}
        assert "readings" in names and "old_readings" not in names
        assert client.get_collection("readings", embedding_function=None).metadata == {"unit": "celsius"}
        client.delete_collection("readings")


ROWS_REVISION = '''
"""Rows written with a plain INSERT, in the TimescaleDB store's own database (not the ledger's)."""
from alembic import op

revision = "timescaledb_004"
down_revision = "chromadb_001"
store = "timescaledb"


def upgrade():
    op.execute("CREATE TABLE meter_readings (n integer NOT NULL)")
    op.execute("INSERT INTO meter_readings SELECT generate_series(1, 500)")


def downgrade():
    op.execute("DROP TABLE meter_readings")
'''


def _sql(settings: Settings, store: str, query: str) -> list[tuple[Any, ...]]:
    import sqlalchemy as sa

    with store_connection(settings, store) as connection:
        result = connection.execute(sa.text(query))
        return [tuple(row) for row in result] if result.returns_rows else []


def test_a_sql_migration_on_another_database_killed_after_it_committed_is_not_run_again(
        project_copy: Project, settings: Settings) -> None:
    assert not settings.shares_ledger_database("timescaledb")  # the fixture's shape: two databases
    assert cli(project_copy, settings, "up").exit_code == 0
    add_revision(project_copy, "004_meter_readings.py", ROWS_REVISION, "timescaledb")
    _up_killed_at_the_first_commit(project_copy, settings)
    assert _sql(settings, "timescaledb", "SELECT count(*) FROM meter_readings") == [(500,)]  # committed
    row = {r.revision: r for r in ledger(settings)}["timescaledb_004"]
    assert row.status == "running"  # the ledger never heard
    status = cli(project_copy, settings, "status")
    assert "timescaledb_004: half done (0 step(s) completed; its database's step marker says its transaction " \
           "committed: resume records it, running nothing)" in status.output, status.output
    document = json.loads(cli(project_copy, settings, "status", "--format", "json").output)
    assert {m["revision"]: m for m in document["migrations"]}["timescaledb_004"]["marked_steps"] == [0]

    refused = cli(project_copy, settings, "up")
    assert refused.exit_code == 1 and "repair resume timescaledb_004" in refused.output
    resumed = cli(project_copy, settings, "repair", "resume", "timescaledb_004")
    assert resumed.exit_code == 0, resumed.output  # no "relation meter_readings already exists"
    assert "skipped (committed before the interruption, the store says): 004_meter_readings.py" in resumed.output
    assert _sql(settings, "timescaledb", "SELECT count(*), count(DISTINCT n) FROM meter_readings") == [(500, 500)]
    assert {r.revision: r for r in ledger(settings)}["timescaledb_004"].status == "applied"
    assert _sql(settings, "timescaledb", "SELECT count(*) FROM schema_migrations_steps") == [(0,)]  # markers gone
    drift = cli(project_copy, settings, "drift")
    assert drift.exit_code == 0, drift.output  # the marker table is no drift
    assert "schema_migrations_steps" not in str(snapshot(settings)["timescaledb"])


def test_a_retried_sql_migration_on_another_database_runs_again_from_scratch(
        project_copy: Project, settings: Settings) -> None:
    """``repair retry`` forgets the marker: the migration runs again (here after its table was
    dropped by hand, as a user who cleaned up would)."""
    assert cli(project_copy, settings, "up").exit_code == 0
    add_revision(project_copy, "004_meter_readings.py", ROWS_REVISION, "timescaledb")
    _up_killed_at_the_first_commit(project_copy, settings)
    _sql(settings, "timescaledb", "DROP TABLE meter_readings")
    retried = cli(project_copy, settings, "repair", "retry", "timescaledb_004")
    assert retried.exit_code == 0, retried.output
    assert _sql(settings, "timescaledb", "SELECT count(*) FROM meter_readings") == [(500,)]
    assert {r.revision: r for r in ledger(settings)}["timescaledb_004"].status == "applied"


def test_sql_markers_read_inside_a_migration_s_transaction_leave_it_open(settings: Settings) -> None:
    """A resumed migration that commits as it goes asks for its markers with its transaction open:
    the read neither commits nor rolls back that transaction."""
    import sqlalchemy as sa

    from polyalembic.stores import get_store

    spec = get_store("timescaledb")
    with store_connection(settings, "timescaledb") as connection:
        spec.mark_step(connection, "timescaledb_009", 0, first=True)
        connection.commit()
        with connection.begin():
            connection.execute(sa.text("CREATE TABLE half_done (n int)"))
            assert spec.marked_steps(connection, "timescaledb_009") == {0}
            spec.drop_marks(connection, "timescaledb_009")
            assert connection.in_transaction()  # still the migration's: it commits below
        assert spec.marked_steps(connection, "timescaledb_009") == set()
        assert _sql(settings, "timescaledb", "SELECT count(*) FROM half_done") == [(0,)]
