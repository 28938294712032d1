"""The local stack: each of the four real servers answers (issue 2)."""

from __future__ import annotations

import random

import psycopg
import pytest
import sqlalchemy as sa

from polyalembic.runner import Runner
from polyalembic.settings import Settings, libpq_dsn


def test_postgres_answers(base_settings: Settings) -> None:
    with psycopg.connect(libpq_dsn(base_settings.postgres_dsn)) as conn:
        version = conn.execute("SELECT version()").fetchone()[0]
    assert version.startswith("PostgreSQL ")
    print(version)


def test_timescaledb_extension_and_hypertable_round_trip(base_settings: Settings) -> None:
    runner = Runner(base_settings)
    try:
        conn = runner.connection("timescaledb")
        version = conn.execute(sa.text("SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'")).scalar()
        assert version and version.startswith("2."), version
        conn.execute(sa.text("DROP TABLE IF EXISTS stack_probe"))
        conn.execute(sa.text("CREATE TABLE stack_probe (time TIMESTAMPTZ NOT NULL, v DOUBLE PRECISION)"))
        conn.execute(sa.text("SELECT create_hypertable('stack_probe', by_range('time', INTERVAL '1 day'))"))
        conn.execute(sa.text("INSERT INTO stack_probe SELECT t, 1.0 FROM generate_series("
                             "now() - INTERVAL '3 days', now(), INTERVAL '1 hour') t"))
        chunks = conn.execute(sa.text("SELECT count(*) FROM show_chunks('stack_probe')")).scalar()
        rows = conn.execute(sa.text("SELECT count(*) FROM stack_probe")).scalar()
        conn.execute(sa.text("DROP TABLE stack_probe"))
        conn.commit()
    finally:
        runner.close()
    assert rows == 73
    assert chunks >= 3
    print(f"TimescaleDB {version}")


def test_neo4j_components_write_and_read(base_settings: Settings) -> None:
    runner = Runner(base_settings)
    try:
        graph = runner.connection("neo4j")
        records, _, _ = graph.driver.execute_query(
            "CALL dbms.components() YIELD name, versions, edition RETURN name, versions[0] AS v, edition",
            database_=graph.database)
        marker = random.randint(1, 10**9)
        graph.driver.execute_query("CREATE (:StackProbe {marker: $m})", {"m": marker}, database_=graph.database)
        found, _, _ = graph.driver.execute_query(
            "MATCH (p:StackProbe {marker: $m}) RETURN count(p) AS n", {"m": marker}, database_=graph.database)
        graph.driver.execute_query("MATCH (p:StackProbe) DELETE p", database_=graph.database)
    finally:
        runner.close()
    from stack.manager import neo4j_service_name, service

    assert records[0]["v"] == service(neo4j_service_name()).line.version
    assert found[0]["n"] == 1
    print(f"Neo4j {records[0]['v']} {records[0]['edition']}")


@pytest.mark.parametrize("mode", ["http", "embedded"])
def test_chroma_heartbeat_and_collection_round_trip(base_settings: Settings, mode: str, tmp_path) -> None:
    settings = base_settings if mode == "http" else Settings(
        **{**base_settings.__dict__, "chroma_host": None, "chroma_path": str(tmp_path / "chroma")})
    runner = Runner(settings)
    try:
        client = runner.connection("chromadb")
        assert client.heartbeat() > 0
        name = f"stack_probe_{mode}"
        if name in [c.name for c in client.list_collections()]:
            client.delete_collection(name)
        col = client.create_collection(name, configuration={"hnsw": {"space": "cosine"}}, embedding_function=None)
        col.add(ids=["a", "b"], embeddings=[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], documents=["x", "y"])
        hits = col.query(query_embeddings=[[0.9, 0.1, 0.0]], n_results=1)
        client.delete_collection(name)
    finally:
        runner.close()
    assert hits["ids"] == [["a"]]
    print(f"Chroma {client.get_version()} ({mode})")
