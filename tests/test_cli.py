"""The polyalembic CLI and the seed's wrappers, against the real stack (issue 4)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from polyalembic.cli import main
from polyalembic.project import Project
from polyalembic.settings import Settings
from tests.conftest import REPO, settings_env
from tests.support import is_empty, ledger, snapshot


def run(project: Project, settings: Settings, *args: str, input: str | None = None,
        env: dict[str, str] | None = None, options: tuple[str, ...] = ()) -> Result:
    """Invoke the CLI in-process with the test stores' settings in the environment."""
    full_env = {**settings_env(settings), **(env or {})}
    return CliRunner().invoke(main, ["-c", str(project.config_path), *options, *args], env=full_env,
                              input=input, catch_exceptions=False)


def applied(settings: Settings) -> list[str]:
    return [r.revision for r in ledger(settings) if r.status == "applied"]


def test_up_applies_everything_then_has_nothing_to_do(project: Project, settings: Settings) -> None:
    result = run(project, settings, "up")
    assert result.exit_code == 0, result.output
    assert "Applied 12 migration(s)." in result.output
    assert "applied   neo4j        001_graph_constraints.up.cql" in result.output
    assert len(applied(settings)) == 12
    again = run(project, settings, "up")
    assert again.exit_code == 0 and "Nothing to apply" in again.output


def test_quiet_and_verbose(project: Project, settings: Settings) -> None:
    quiet = run(project, settings, "up", "--to", "postgres_002", options=("-q",))
    assert quiet.exit_code == 0 and quiet.stdout == "" and quiet.stderr == ""
    verbose = run(project, settings, "up", options=("--verbose",))
    assert verbose.exit_code == 0
    assert "connecting to neo4j at bolt://127.0.0.1" in verbose.stderr
    assert "Running upgrade postgres_002 -> postgres_003" in verbose.stderr
    assert settings.env["NEO4J_PASSWORD"] not in verbose.output
    assert settings.secrets()[0] not in verbose.output  # the PostgreSQL password


def test_up_dry_run_changes_nothing_and_shows_the_plan(project: Project, settings: Settings) -> None:
    run(project, settings, "up", "--to", "postgres_007")
    before = snapshot(settings)
    result = run(project, settings, "up", "--dry-run")
    assert result.exit_code == 0, result.output
    assert snapshot(settings) == before
    assert "Would apply 5 migration(s)" in result.output
    assert "create_hypertable('episodic_memories'" in result.output
    assert "CREATE CONSTRAINT memory_id_unique" in result.output
    assert "-- [chromadb] create collection 'semantic_memories'" in result.output
    assert "procedural_memories" not in result.output.split("Would apply")[1]


def test_up_to_stops_at_the_named_revision(project: Project, settings: Settings) -> None:
    result = run(project, settings, "up", "--to", "timescaledb_001")
    assert result.exit_code == 0, result.output
    assert applied(settings)[-1] == "timescaledb_001" and len(applied(settings)) == 8
    state = snapshot(settings)
    assert list(state["timescaledb"]["hypertables"]) == ["episodic_memories"]
    assert state["neo4j"]["constraints"] == [] and state["chromadb"]["collections"] == {}


def test_down_n_reverts_exactly_the_last_n_in_reverse_order(project: Project, settings: Settings) -> None:
    run(project, settings, "up")
    result = run(project, settings, "down", "3")
    assert result.exit_code == 0, result.output
    order = [line.split()[2] for line in result.output.splitlines() if line.strip().startswith("reverted")]
    assert order == ["001_collections.py", "001_graph_constraints.up.cql", "003_portfolio_snapshots.py"]
    assert applied(settings) == [m.revision for m in project.chain()][:9]
    state = snapshot(settings)
    assert state["chromadb"]["collections"] == {} and state["neo4j"]["constraints"] == []
    assert set(state["timescaledb"]["hypertables"]) == {"episodic_memories", "emotional_memories"}

    one = run(project, settings, "down")
    assert one.exit_code == 0 and "Rolled back 1 migration(s)." in one.output
    assert applied(settings)[-1] == "timescaledb_001"


def test_down_dry_run_changes_nothing(project: Project, settings: Settings) -> None:
    run(project, settings, "up")
    before = snapshot(settings)
    result = run(project, settings, "down", "2", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "Would roll back 2 migration(s)" in result.output
    assert "DROP CONSTRAINT memory_id_unique IF EXISTS" in result.output
    assert "delete collection 'episodic_memories'" in result.output
    assert snapshot(settings) == before


def test_down_more_than_applied_is_a_clear_error_and_changes_nothing(project: Project, settings: Settings) -> None:
    run(project, settings, "up", "--to", "postgres_002")
    before = snapshot(settings)
    result = run(project, settings, "down", "5")
    assert result.exit_code == 1
    assert result.output.strip() == ("polyalembic: error: cannot roll back 5 migrations: only 2 applied "
                                     "(`down 2` reverts them all)")
    assert snapshot(settings) == before


def test_status_table_json_and_check(project: Project, settings: Settings) -> None:
    run(project, settings, "up", "--to", "timescaledb_002")
    table = run(project, settings, "status")
    assert table.exit_code == 0
    lines = table.output.splitlines()
    assert lines[0].split() == ["STORE", "MIGRATION", "STATE", "APPLIED", "AT", "CHECKSUM"]
    assert any(line.startswith("neo4j") and "pending" in line for line in lines)
    assert "postgres: 7 applied" in table.output
    assert "timescaledb: 2 applied, 1 pending" in table.output

    doc = json.loads(run(project, settings, "status", "--format", "json").output)
    assert doc["version"] == 1 and doc["ok"] is False
    assert doc["stores"]["timescaledb"]["applied"] == 2 and doc["stores"]["timescaledb"]["pending"] == 1
    assert [m["state"] for m in doc["migrations"]][-3:] == ["pending"] * 3
    assert doc["current_revisions"] == ["timescaledb_002"]
    assert settings.env["NEO4J_PASSWORD"] not in json.dumps(doc)

    assert run(project, settings, "status", "--check").exit_code == 1
    run(project, settings, "up")
    assert run(project, settings, "status", "--check").exit_code == 0


def test_status_shows_checksum_mismatch_and_missing_file(project_copy: Project, settings: Settings) -> None:
    run(project_copy, settings, "up")
    up_file = project_copy.migrations_dir / "postgres" / "003_semantic_memories.up.sql"
    up_file.write_text(up_file.read_text() + "\n-- edited after it was applied\n")
    for suffix in (".py",):
        (project_copy.migrations_dir / "chromadb" / f"001_collections{suffix}").unlink()
    result = run(project_copy, settings, "status")
    assert "003_semantic_memories.up.sql" in result.output
    assert any("003_semantic_memories" in line and "checksum mismatch" in line for line in result.output.splitlines())
    assert any("001_collections.py" in line and "missing file" in line for line in result.output.splitlines())
    assert run(project_copy, settings, "status", "--check").exit_code == 1
    check = run(project_copy, settings, "validate")
    assert check.exit_code == 1
    assert "003_semantic_memories.up.sql: changed after it was applied (checksum mismatch)" in check.output


def test_validate_passes_on_the_repository(project: Project, settings: Settings) -> None:
    result = run(project, settings, "validate")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("OK: 12 migrations, one head")


def test_validate_names_each_problem_and_needs_no_server(project_copy: Project, settings: Settings) -> None:
    folder = project_copy.migrations_dir
    (folder / "postgres" / "004_identity_memories.down.sql").unlink()
    (folder / "neo4j" / "001_graph_constraints.up.cql").write_text("// only a comment\n")
    (folder / "mongodb").mkdir()
    broken = folder / "postgres" / "005_portfolio_holdings.up.sql"
    broken.write_text("-- a comment\nCREATE TABLE oops (\n    id int,\n);\n")
    (folder / "postgres" / "009_skipped.py").write_text(
        'from alembic import op\nrevision = "postgres_009"\ndown_revision = "postgres_006"\nstore = "postgres"\n'
        'def upgrade():\n    op.execute("SELECT 1")\ndef downgrade():\n    op.execute("SELECT 1")\n')
    dead = Settings({"POSTGRES_DSN": "postgresql://u:pw@127.0.0.1:1/none"})
    result = run(project_copy, dead, "validate")
    assert result.exit_code == 1
    out = result.output
    assert "postgres/004_identity_memories.py: 004_identity_memories.down.sql is missing" in out
    assert "neo4j/001_graph_constraints.up.cql: is empty" in out
    assert "migrations/mongodb: unknown store folder" in out
    assert "postgres/005_portfolio_holdings.up.sql: does not parse (syntax error at or near \")\" on line 4)" in out
    assert "migrations/postgres: numbering has a gap at 008" in out
    assert "2 heads" in out
    assert out.strip().endswith("problem(s) found, listed above with their fixes")


def test_fresh_refuses_without_the_phrase_and_in_production(project: Project, settings: Settings) -> None:
    run(project, settings, "up", "--to", "postgres_003")
    before = snapshot(settings)
    wrong = run(project, settings, "fresh", input="delete all data\n")
    assert wrong.exit_code == 1 and "nothing was changed" in wrong.output
    no_input = run(project, settings, "fresh")
    assert no_input.exit_code == 1 and "nothing was changed" in no_input.output
    flag = run(project, settings, "fresh", "--confirm", "yes")
    assert flag.exit_code == 1 and "nothing was changed" in flag.output
    for variable in ("APP_ENV", "POLYALEMBIC_ENV"):
        prod = run(project, settings, "fresh", "--confirm", "DELETE ALL DATA", env={variable: "production"})
        assert prod.exit_code == 1 and f"{variable}=production" in prod.output
    assert snapshot(settings) == before


def test_validate_without_any_configuration_checks_files_only(project: Project, settings: Settings,
                                                              tmp_path: Path) -> None:
    env = {k: "" for k in settings_env(settings) if k.startswith(("POSTGRES_", "TIMESCALE_", "NEO4J_",
                                                                  "CHROMA_", "POLYALEMBIC_"))}
    env["POLYALEMBIC_ENV_FILE"] = str(tmp_path / "absent.env")
    result = CliRunner().invoke(main, ["-c", str(project.config_path), "validate"], env=env)
    assert result.exit_code == 0, result.output
    assert "OK: 12 migrations, one head (ledger not checked: ledger: no database configured" in result.output


def test_failed_neo4j_downgrade_is_marked_failed(project_copy: Project, settings: Settings) -> None:
    folder = project_copy.migrations_dir / "neo4j"
    (folder / "002_tags.py").write_text(
        'from polyalembic.pairs import migration_files\nrevision = "neo4j_002"\ndown_revision = "chromadb_001"\n'
        'store = "neo4j"\nupgrade, downgrade = migration_files(__file__)\n')
    (folder / "002_tags.up.cql").write_text(
        "CREATE CONSTRAINT tag_name IF NOT EXISTS FOR (t:Tag) REQUIRE t.name IS UNIQUE;")
    (folder / "002_tags.down.cql").write_text("DROP CONSTRAINT tag_name IF EXISTS;\nDROP NOTHING AT ALL;")
    assert run(project_copy, settings, "up").exit_code == 0
    result = run(project_copy, settings, "down")
    assert result.exit_code == 1
    assert "neo4j migration 002_tags.up.cql (neo4j_002) downgrade failed at step [cypher: DROP NOTHING" in result.output
    row = {r.revision: r for r in ledger(settings)}["neo4j_002"]
    assert row.status == "failed" and "DROP NOTHING" in row.failed_step
    assert "tag_name" not in snapshot(settings)["neo4j"]["constraints"]  # half reverted, as the row says
    assert run(project_copy, settings, "status", "--check").exit_code == 1


def test_no_transaction_file_with_several_statements(project_copy: Project, settings: Settings) -> None:
    assert run(project_copy, settings, "generate", "postgres", "concurrent_indexes").exit_code == 0
    folder = project_copy.migrations_dir / "postgres"
    (folder / "008_concurrent_indexes.up.sql").write_text(
        "-- polyalembic: no-transaction\n"
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_pm_name ON procedural_memories (name);\n"
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_pm_created ON procedural_memories (created_at);\n")
    (folder / "008_concurrent_indexes.down.sql").write_text(
        "-- polyalembic: no-transaction\n"
        "DROP INDEX CONCURRENTLY IF EXISTS idx_pm_created;\nDROP INDEX CONCURRENTLY IF EXISTS idx_pm_name;\n")
    up = run(project_copy, settings, "up")
    assert up.exit_code == 0, up.output
    objects = snapshot(settings)["postgres"]["objects"]
    assert objects.get("idx_pm_name") == "index" and objects.get("idx_pm_created") == "index"
    assert {r.revision: r.status for r in ledger(settings)}["postgres_008"] == "applied"

    # it commits as it goes, so it is marked running before it starts: a failure leaves a trace
    (folder / "008_concurrent_indexes.up.sql").write_text(
        "-- polyalembic: no-transaction\n"
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_pm_name ON procedural_memories (name);\n"
        "CREATE INDEX CONCURRENTLY idx_pm_bad ON no_such_table (x);\n")
    assert run(project_copy, settings, "down").exit_code == 0
    failed = run(project_copy, settings, "up")
    assert failed.exit_code == 1 and "no_such_table" in failed.output
    row = {r.revision: r for r in ledger(settings)}["postgres_008"]
    assert row.status == "failed" and "idx_pm_bad" in row.failed_step
    assert row.completed_steps == 1  # statement by statement: the first one is in
    assert "idx_pm_name" in snapshot(settings)["postgres"]["objects"]  # committed before the failure
    (folder / "008_concurrent_indexes.up.sql").write_text(
        "-- polyalembic: no-transaction\n"
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_pm_name ON procedural_memories (name);\n"
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_pm_created ON procedural_memories (created_at);\n")
    refused = run(project_copy, settings, "up")  # half done: up does not guess
    assert refused.exit_code == 1 and "repair resume postgres_008" in refused.output
    resumed = run(project_copy, settings, "repair", "resume", "postgres_008")  # the fixed file, from step 2
    assert resumed.exit_code == 0, resumed.output
    assert "skipping its 1 completed step(s)" in resumed.output
    assert run(project_copy, settings, "down").exit_code == 0
    objects = snapshot(settings)["postgres"]["objects"]
    assert "idx_pm_name" not in objects and "idx_pm_created" not in objects


def test_fresh_drops_everything_and_reapplies(project: Project, settings: Settings) -> None:
    run(project, settings, "up")
    from polyalembic.stores.connections import StoreConnections

    with StoreConnections(settings) as connections:
        connections.get("postgres").exec_driver_sql("CREATE TABLE stray (id int)")
        connections.get("postgres").commit()
        connections.get("chromadb").create_collection("stray_collection", embedding_function=None)
    result = run(project, settings, "fresh", input="DELETE ALL DATA\n")
    assert result.exit_code == 0, result.output
    assert "Fresh install done: 12 migration(s) applied." in result.output
    state = snapshot(settings)
    assert "stray" not in state["postgres"]["objects"]
    assert "stray_collection" not in state["chromadb"]["collections"]
    assert len(applied(settings)) == 12


def test_generate_creates_a_linked_pair_that_up_applies(project_copy: Project, settings: Settings) -> None:
    result = run(project_copy, settings, "generate", "postgres", "add_user_preferences")
    assert result.exit_code == 0, result.output
    assert result.output.split() == [
        "created", "migrations/postgres/008_add_user_preferences.py",
        "created", "migrations/postgres/008_add_user_preferences.up.sql",
        "created", "migrations/postgres/008_add_user_preferences.down.sql"]
    assert project_copy.script().get_heads() == ["postgres_008"]
    assert project_copy.script().get_revision("postgres_008").down_revision == "chromadb_001"
    for store in ("timescaledb", "neo4j", "chromadb"):
        assert run(project_copy, settings, "generate", store, "add_things").exit_code == 0
    assert project_copy.script().get_heads() == ["chromadb_002"]
    assert run(project_copy, settings, "validate").exit_code == 0
    up = run(project_copy, settings, "up")
    assert up.exit_code == 0, up.output
    state = snapshot(settings)
    assert "add_user_preferences" in state["postgres"]["objects"]
    assert "add_things" in state["timescaledb"]["hypertables"]
    assert "add_things_id_unique" in state["neo4j"]["constraints"]
    assert "add_things" in state["chromadb"]["collections"]
    down = run(project_copy, settings, "down", "4")
    assert down.exit_code == 0, down.output
    assert "add_things" not in snapshot(settings)["timescaledb"]["hypertables"]


@pytest.mark.parametrize("args, message", [
    (("generate", "postgres", "Add-Prefs"), "invalid name 'Add-Prefs'"),
    (("generate", "postgres", "skill_progressions"), "a postgres migration named 'skill_progressions' exists"),
])
def test_generate_rejects_bad_names_and_duplicates(project_copy: Project, settings: Settings,
                                                   args: tuple[str, ...], message: str) -> None:
    before = sorted(p.name for p in project_copy.migrations_dir.rglob("*"))
    result = run(project_copy, settings, *args)
    assert result.exit_code == 1 and message in result.output
    assert sorted(p.name for p in project_copy.migrations_dir.rglob("*")) == before


def test_stamp_baselines_without_running(project: Project, settings: Settings) -> None:
    result = run(project, settings, "stamp", "timescaledb_003")
    assert result.exit_code == 0, result.output
    assert "Stamped 10 migration(s) as applied: postgres_001, postgres_002, " in result.output
    assert "timescaledb_003 (nothing was run)." in result.output
    assert applied(settings) == [m.revision for m in project.chain()][:10]
    assert is_empty({**snapshot(settings), "ledger": []}) == []
    up = run(project, settings, "up")
    assert "Applied 2 migration(s)." in up.output


def test_help_lists_every_command(project: Project, settings: Settings) -> None:
    result = run(project, settings, "help")
    assert result.exit_code == 0
    for command in ("up", "down", "status", "validate", "fresh", "generate", "stamp", "help"):
        assert f"  {command} " in result.output


@pytest.mark.parametrize("override, expected", [
    ({"POSTGRES_DSN": "postgresql://app:hunter22@127.0.0.1:1/app"},
     "postgres: cannot connect to postgresql://app:***@127.0.0.1:1/app"),
    ({"NEO4J_PASSWORD": "hunter22"}, "neo4j: cannot connect to bolt://"),
    ({"TIMESCALE_DSN": "__POSTGRES_DSN__"}, "timescaledb: the timescaledb extension is not installed"),
])
def test_store_errors_are_one_masked_line_and_apply_nothing(project: Project, settings: Settings,
                                                            override: dict[str, str], expected: str) -> None:
    env = settings_env(settings)
    override = {k: (env["POSTGRES_DSN"] if v == "__POSTGRES_DSN__" else v) for k, v in override.items()}
    if "POSTGRES_DSN" in override:
        override["POLYALEMBIC_LEDGER_DSN"] = override["POSTGRES_DSN"]
    result = subprocess.run(["polyalembic", "-c", str(project.config_path), "up"], env={**env, **override},
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert result.stderr.strip().startswith(f"polyalembic: error: {expected}"), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "hunter22" not in result.stdout + result.stderr
    assert settings.env["NEO4J_PASSWORD"] not in result.stdout + result.stderr
    assert is_empty(snapshot(settings)) == []  # nothing applied anywhere, ledger included


def test_seed_wrappers_run_the_seed_commands(project: Project, settings: Settings) -> None:
    env = settings_env(settings)
    up = subprocess.run([str(REPO / "migrations" / "migrate.sh"), "up"], env=env, capture_output=True,
                        text=True, timeout=300)
    assert up.returncode == 0, up.stderr
    status = subprocess.run([str(REPO / "migrations" / "migrate.sh"), "status"], env=env, capture_output=True,
                            text=True, timeout=120)
    assert "chromadb: 1 applied" in status.stdout
    helped = subprocess.run([str(REPO / "migrations" / "migrate.sh"), "help"], env=env, capture_output=True,
                            text=True, timeout=60)
    assert helped.returncode == 0 and "generate" in helped.stdout
    bad = subprocess.run([str(REPO / "migrations" / "generate.sh"), "mysql", "x"], env=env, capture_output=True,
                         text=True, timeout=60)
    assert bad.returncode == 2 and "mysql" in bad.stderr


