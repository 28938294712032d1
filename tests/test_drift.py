"""Drift detection (issue 12): every run records the touched stores' snapshots; `polyalembic drift`
compares them with the live stores, changed by hand with each store's own client (no mocks)."""

from __future__ import annotations

import json
from typing import Any

import psycopg
from click.testing import CliRunner, Result

from polyalembic.cli import main
from polyalembic.project import Project
from polyalembic.settings import Settings
from polyalembic.stores.postgres.dsn import libpq_dsn
from tests.conftest import settings_env
from tests.support import store_connection

STORES = ["postgres", "timescaledb", "neo4j", "chromadb"]


def run(project: Project, settings: Settings, *args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, ["-c", str(project.config_path), *args],
                              env={**settings_env(settings), **(env or {})}, catch_exceptions=False)


def sql(dsn: str | None, *statements: str) -> list[Any]:
    """Run statements with psycopg (autocommit); the last one's rows, if it returns any."""
    assert dsn
    with psycopg.connect(libpq_dsn(dsn), autocommit=True) as conn:
        result = None
        for statement in statements:
            result = conn.execute(statement)
        return result.fetchall() if result is not None and result.description else []


def recorded(settings: Settings) -> dict[str, tuple[Any, ...]]:
    """store -> (revision, recorded_at, snapshot) as the ledger holds them."""
    rows = sql(settings.ledger_dsn, "SELECT store, revision, recorded_at, snapshot FROM schema_migrations_snapshots")
    return {store: (revision, at, snapshot) for store, revision, at, snapshot in rows}


def audit(settings: Settings, action: str) -> list[tuple[str, str]]:
    return sql(settings.ledger_dsn, f"SELECT database_type, by FROM schema_migrations_audit WHERE action = '{action}' "
                                    "ORDER BY id")


def change_every_store_by_hand(settings: Settings) -> None:
    sql(settings.database_url("postgres"), "ALTER TABLE semantic_memories ADD COLUMN note TEXT",
        "CREATE TABLE scratch_notes (id INT PRIMARY KEY)")
    sql(settings.database_url("timescaledb"),
        "SELECT remove_retention_policy('episodic_memories')",
        "SELECT remove_compression_policy('episodic_memories')",
        "ALTER TABLE episodic_memories SET (timescaledb.compress = false)")
    with store_connection(settings, "neo4j") as graph:
        graph.driver.execute_query("DROP CONSTRAINT memory_id_unique", database_=graph.database)
    with store_connection(settings, "chromadb") as client:
        old = client.get_collection("episodic_memories")
        client.delete_collection("episodic_memories")
        client.create_collection("episodic_memories", metadata=old.metadata, embedding_function=None,
                                 configuration={"hnsw": {"space": "l2", "ef_construction": 128, "max_neighbors": 32,
                                                         "ef_search": 64}})
        client.get_collection("semantic_memories").modify(metadata={"description": "edited by hand"})
        client.create_collection("hand_made", embedding_function=None)


def test_each_kind_of_drift_is_worded_accepted_and_audited(project: Project, settings: Settings) -> None:
    up = run(project, settings, "up", env={"POLYALEMBIC_EPISODIC_RETENTION": "365 days"})
    assert up.exit_code == 0, up.output
    assert {store: row[0] for store, row in recorded(settings).items()} == dict.fromkeys(STORES, "chromadb_001")
    clean = run(project, settings, "drift")
    assert clean.exit_code == 0, clean.output
    assert [line.split(":")[0] for line in clean.output.splitlines()] == STORES
    assert "matches the snapshot recorded at" in clean.output
    assert run(project, settings, "status", "--check", "--drift").exit_code == 0

    change_every_store_by_hand(settings)
    result = run(project, settings, "drift")
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    for expected in ("postgres: column semantic_memories.note added (not in any migration)",
                     "timescaledb: compression on episodic_memories removed",
                     "timescaledb: compression policy on episodic_memories removed",
                     "timescaledb: retention policy on episodic_memories removed",
                     "neo4j: constraint memory_id_unique dropped",
                     "chromadb: collection episodic_memories hnsw space changed cosine -> l2",
                     "chromadb: collection semantic_memories metadata changed"):
        assert expected in lines, result.output
    unmanaged = lines[lines.index(next(line for line in lines if line.startswith("Not managed"))) + 1:]
    assert "  postgres: index scratch_notes_pkey" not in unmanaged  # the key's own index is the key's
    assert "  postgres: table scratch_notes" in unmanaged and "  chromadb: collection hand_made" in unmanaged
    assert not any("scratch_notes" in line or "hand_made" in line for line in lines if not line.startswith("  "))
    assert "neo4j: index memory_id_unique dropped" not in lines  # the constraint's own index is the constraint

    document = json.loads(run(project, settings, "drift", "--format", "json").output)
    assert set(document) == {"version", "ok", "unmanaged_count_as_drift", "stores"}
    assert document["version"] == 1 and document["ok"] is False and list(document["stores"]) == STORES
    neo4j = document["stores"]["neo4j"]
    assert set(neo4j) == {"state", "differences", "unmanaged", "recorded_at", "revision", "recorded_by"}
    assert (neo4j["state"], neo4j["differences"], neo4j["revision"]) == (
        "drifted", ["constraint memory_id_unique dropped"], "chromadb_001")
    assert "table scratch_notes" in document["stores"]["postgres"]["unmanaged"]

    assert run(project, settings, "status", "--check").exit_code == 0  # the ledger alone is fine
    checked = run(project, settings, "status", "--check", "--drift")
    assert checked.exit_code == 1 and "drift: neo4j: drifted (1 difference(s)" in checked.output
    status_json = json.loads(run(project, settings, "status", "--format", "json", "--drift").output)
    assert status_json["ok"] is False and status_json["drift"]["stores"]["chromadb"]["state"] == "drifted"

    accepted = run(project, settings, "drift", "--accept")
    assert accepted.exit_code == 0, accepted.output
    assert "neo4j: recorded the live state as the baseline (1 difference(s) accepted)" in accepted.output
    assert [store for store, _ in audit(settings, "drift:accept")] == STORES
    assert all(by and "@" in by for _, by in audit(settings, "drift:accept"))
    after = run(project, settings, "drift")
    assert after.exit_code == 0, after.output
    assert "  postgres: table scratch_notes" in after.output  # still not managed by migrations
    assert run(project, settings, "drift", "--all").exit_code == 1  # unless they count
    assert run(project, settings, "drift", "--accept", "--all", "--store", "postgres").exit_code == 0
    assert "scratch_notes" not in run(project, settings, "drift", "--store", "postgres").output
    assert run(project, settings, "drift", "--all", "--store", "postgres").exit_code == 0


def test_runs_record_what_they_touched_and_nothing_else(project: Project, settings: Settings) -> None:
    assert run(project, settings, "up", "--to", "neo4j_001").exit_code == 0
    first = recorded(settings)
    assert sorted(first) == ["neo4j", "postgres", "timescaledb"]
    assert "memory_id_unique" in first["neo4j"][2]["constraints"]
    for args in (("up", "--dry-run"), ("down", "--dry-run"), ("status",), ("validate",)):
        assert run(project, settings, *args).exit_code == 0
    assert recorded(settings) == first  # --sql and reading commands record nothing

    down = run(project, settings, "down")
    assert down.exit_code == 0, down.output
    after_down = recorded(settings)
    assert after_down["neo4j"][0] == "timescaledb_003" and after_down["neo4j"][2]["constraints"] == []
    assert after_down["postgres"] == first["postgres"]  # untouched stores keep their record
    assert run(project, settings, "drift").exit_code == 0

    assert run(project, settings, "up").exit_code == 0
    latest = recorded(settings)
    assert latest["chromadb"][0] == "chromadb_001" and "episodic_memories" in latest["chromadb"][2]["collections"]
    assert latest["postgres"] == first["postgres"]
    assert run(project, settings, "up").exit_code == 0  # nothing to apply: nothing recorded
    assert recorded(settings) == latest

    sql(settings.ledger_dsn, "DELETE FROM schema_migrations_snapshots WHERE store = 'chromadb'")
    result = run(project, settings, "drift")
    assert result.exit_code == 0 and "chromadb: no recorded snapshot yet (not drift)" in result.output

    wrong = run(project, settings, "drift", env={"NEO4J_PASSWORD": "hunter2-catalogue"})
    assert wrong.exit_code == 1
    assert wrong.stderr.startswith("polyalembic: error: neo4j: cannot connect to bolt://")
    assert len(wrong.stderr.strip().splitlines()) == 1 and "hunter2-catalogue" not in wrong.output


def test_alembic_sql_renders_the_ledger_upgrade_and_records_nothing(project: Project, settings: Settings) -> None:
    from polyalembic import api

    written: list[str] = []
    api.render(project, api.plan_up(project), written.append)
    text = "".join(written)
    assert "CREATE TABLE IF NOT EXISTS schema_migrations_snapshots" in text
    assert "INSERT INTO schema_migrations_snapshots" not in text
    assert sql(settings.ledger_dsn, "SELECT to_regclass('schema_migrations_snapshots')") == [(None,)]

