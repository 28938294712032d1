"""This project's migration tests: the plugin's ready tests, and one data test per store."""

from datetime import UTC, datetime

import sqlalchemy as sa

from polyalembic.testing import Migrator
from polyalembic.testing.tests import *  # noqa: F403 - the ready tests, run against this project


def test_postgres_backfills_the_domain(polyalembic_migrator: Migrator) -> None:
    polyalembic_migrator.up("postgres_001")
    with polyalembic_migrator.connection("postgres") as conn:
        conn.execute(sa.text("INSERT INTO accounts (email) VALUES ('ada@Example.org'), ('bob@test.dev')"))
    polyalembic_migrator.up("postgres_002")
    with polyalembic_migrator.connection("postgres") as conn:
        rows = conn.execute(sa.text("SELECT email, domain FROM accounts ORDER BY id")).all()
    assert rows == [("ada@Example.org", "example.org"), ("bob@test.dev", "test.dev")]


def test_timescaledb_readings_keep_their_chunks_and_get_a_unit(polyalembic_migrator: Migrator) -> None:
    polyalembic_migrator.up("timescaledb_001")
    with polyalembic_migrator.connection("timescaledb") as conn:
        conn.execute(sa.text("INSERT INTO readings VALUES (:t1, 1, 2.5), (:t2, 1, 3.5)"),
                     {"t1": datetime(2026, 1, 1, tzinfo=UTC), "t2": datetime(2026, 1, 5, tzinfo=UTC)})
    polyalembic_migrator.up("timescaledb_002")
    with polyalembic_migrator.connection("timescaledb") as conn:
        units = conn.execute(sa.text("SELECT unit, count(*) FROM readings GROUP BY unit")).all()
        chunks = conn.execute(sa.text("SELECT count(*) FROM timescaledb_information.chunks "
                                      "WHERE hypertable_name = 'readings'")).scalar()
    assert units == [("kWh", 2)]
    assert chunks == 2  # one per day of data: still a hypertable


def test_neo4j_backfills_the_name_key(polyalembic_migrator: Migrator) -> None:
    polyalembic_migrator.up("neo4j_001")
    with polyalembic_migrator.connection("neo4j") as graph:
        graph.driver.execute_query("CREATE (:Person {email: 'ada@example.org', name: 'Ada Lovelace'})",
                                   database_=graph.database)
    polyalembic_migrator.up("neo4j_002")
    with polyalembic_migrator.connection("neo4j") as graph:
        records = graph.driver.execute_query("MATCH (p:Person) RETURN p.name_key AS key",
                                             database_=graph.database).records
    assert [r["key"] for r in records] == ["ada lovelace"]
    assert "person_name_key" in polyalembic_migrator.snapshot(["neo4j"])["neo4j"]["indexes"]


def test_chromadb_backfills_the_language(polyalembic_migrator: Migrator) -> None:
    polyalembic_migrator.up("chromadb_001")
    with polyalembic_migrator.connection("chromadb") as client:
        client.get_collection("notes").add(ids=["n1", "n2"], embeddings=[[1.0, 0.0], [0.0, 1.0]],
                                           documents=["first", "second"])
    polyalembic_migrator.up("chromadb_002")
    with polyalembic_migrator.connection("chromadb") as client:
        metadatas = client.get_collection("notes").get(include=["metadatas"])["metadatas"]
    assert metadatas == [{"language": "en"}, {"language": "en"}]
    polyalembic_migrator.down("chromadb_001")
    with polyalembic_migrator.connection("chromadb") as client:
        assert client.get_collection("notes").get(include=["metadatas"])["metadatas"] in ([None, None], [{}, {}])
