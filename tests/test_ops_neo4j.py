"""The Neo4j ops against the real Neo4j server: each op, its reverse(), and its --sql rendering.

Every test writes its own revision files into a copy of the project whose seed revisions are
removed (``ops_project``), so the chain holds only the ops under test, then runs Alembic's
``upgrade``/``downgrade`` and reads the live graph back (SHOW CONSTRAINTS / SHOW INDEXES).
"""

from __future__ import annotations

import io
from contextlib import AbstractContextManager
from typing import Any

import pytest
from alembic import command

from polyalembic.errors import MigrationFailed, PolyalembicError
from polyalembic.project import Project
from polyalembic.settings import Settings
from polyalembic.stores.neo4j import introspect
from polyalembic.stores.neo4j.ops import (
    RunCypherFileOp,
)
from tests.support import add_revision as _add_revision
from tests.support import ledger, relinked, store_connection


def add_revision(project: Project, filename: str, source: str) -> None:
    _add_revision(project, filename, source, "neo4j")


def graph(settings: Settings) -> AbstractContextManager[Any]:
    return store_connection(settings, "neo4j")


def query(g: Any, cypher: str, **params: Any) -> list[dict[str, Any]]:
    records, _, _ = g.driver.execute_query(cypher, params, database_=g.database)
    return [r.data() for r in records]


def count(settings: Settings, cypher: str, **params: Any) -> int:
    with graph(settings) as g:
        return query(g, cypher, **params)[0]["n"]


# --- run_cypher -------------------------------------------------------------------------------


def failing_revision(second: str) -> str:
    return f'''
        """A constraint, then two data writes of which the second fails at run time."""
        from alembic import op

        revision = "neo4j_001"
        down_revision = None
        store = "neo4j"


        def upgrade() -> None:
            op.run_cypher("""
                CREATE CONSTRAINT probe_id_unique IF NOT EXISTS FOR (p:Probe) REQUIRE p.id IS UNIQUE;
                CREATE (:Probe {{id: 1, step: 'first'}});
                {second};
            """)


        def downgrade() -> None:
            op.run_cypher("MATCH (p:Probe) DETACH DELETE p; DROP CONSTRAINT probe_id_unique IF EXISTS")
    '''


def test_run_cypher_data_statements_share_one_transaction(ops_project: Project, settings: Settings) -> None:
    add_revision(ops_project, "001_probe.py", failing_revision(
        "MATCH (p:Probe {id: 1}) CREATE (:Probe {id: 2, step: 'second'}) WITH p RETURN p.id / 0 AS boom"))
    with pytest.raises(MigrationFailed, match=r"failed at step \[cypher: MATCH \(p:Probe \{id: 1\}\)"):
        command.upgrade(ops_project.config(), "head")
    assert count(settings, "MATCH (p:Probe) RETURN count(p) AS n") == 0, "the first write was rolled back"
    with graph(settings) as g:
        assert "probe_id_unique" in introspect.constraints(g), "a schema statement commits on its own"
    [row] = ledger(settings)
    assert (row.revision, row.status) == ("neo4j_001", "failed")
    assert "/ by zero" in row.error

    add_revision(ops_project, "001_probe.py", failing_revision(
        "MATCH (p:Probe {id: 1}) CREATE (:Probe {id: 2, step: 'second'})"))
    assert row.completed_steps == 1  # the constraint; the failed batch was rolled back whole
    with pytest.raises(PolyalembicError, match=r"neo4j_001\) failed part way after 1 completed step"):
        command.upgrade(ops_project.config(), "head")  # half done: up does not guess
    from polyalembic.commands.repair import repair

    repair(ops_project, "resume", "neo4j_001")  # the fixed file, after the constraint
    with graph(settings) as g:
        assert query(g, "MATCH (p:Probe) RETURN p.id AS id, p.step AS step ORDER BY id") == [
            {"id": 1, "step": "first"}, {"id": 2, "step": "second"}]
    assert [(r.revision, r.status) for r in ledger(settings)] == [("neo4j_001", "applied")]
    command.downgrade(ops_project.config(), "base")
    assert count(settings, "MATCH (p:Probe) RETURN count(p) AS n") == 0
    with graph(settings) as g:
        assert introspect.constraints(g) == {}


IN_TRANSACTIONS = '''
    """Create 100 items, then flag them in batches of 10 rows (CALL {} IN TRANSACTIONS)."""
    from alembic import op

    from polyalembic.stores.neo4j.ops import RunCypherOp

    revision = "neo4j_001"
    down_revision = None
    store = "neo4j"

    FLAG = RunCypherOp(
        "MATCH (i:Item) CALL { WITH i SET i.flagged = true, i.batch = i.n / 10 } IN TRANSACTIONS OF 10 ROWS",
        reverse_cypher="MATCH (i:Item) CALL { WITH i REMOVE i.flagged, i.batch } IN TRANSACTIONS OF 10 ROWS",
        autocommit=True)


    def upgrade() -> None:
        op.run_cypher("UNWIND range(1, $count) AS n CREATE (:Item {n: n})", parameters={"count": 100})
        op.invoke(FLAG)
        # detected without autocommit=True too: IN TRANSACTIONS always runs auto-commit
        op.run_cypher("MATCH (i:Item) WHERE i.n > 90 CALL { WITH i SET i.tail = true } IN TRANSACTIONS OF 3 ROWS")


    def downgrade() -> None:
        op.invoke(FLAG.reverse())
        op.run_cypher("MATCH (i:Item) CALL { WITH i DETACH DELETE i } IN TRANSACTIONS OF 10 ROWS")
'''


def test_run_cypher_autocommit_call_in_transactions(ops_project: Project, settings: Settings) -> None:
    add_revision(ops_project, "001_items.py", IN_TRANSACTIONS)
    command.upgrade(ops_project.config(), "head")
    with graph(settings) as g:
        assert query(g, "MATCH (i:Item) RETURN count(i) AS n, count(i.flagged) AS flagged, "
                        "count(DISTINCT i.batch) AS batches, count(i.tail) AS tail") == [
            {"n": 100, "flagged": 100, "batches": 11, "tail": 10}]
    command.downgrade(ops_project.config(), "-1")
    assert count(settings, "MATCH (i:Item) RETURN count(i) AS n") == 0


def test_run_cypher_schema_and_data_in_one_call_run_in_separate_transactions(ops_project: Project,
                                                                             settings: Settings) -> None:
    add_revision(ops_project, "001_mixed.py", '''
        """Schema statements and data writes mixed in one call."""
        from alembic import op

        from polyalembic.stores.neo4j.ops import RunCypherOp

        revision = "neo4j_001"
        down_revision = None
        store = "neo4j"

        MIXED = RunCypherOp("""
            CREATE CONSTRAINT agent_id_unique IF NOT EXISTS FOR (a:Agent) REQUIRE a.id IS UNIQUE;
            UNWIND range(1, 20) AS n CREATE (:Agent {id: n, name: 'agent ' + n});
            CREATE TEXT INDEX agent_name_text IF NOT EXISTS FOR (a:Agent) ON (a.name);
            MATCH (a:Agent) WHERE a.id % 2 = 0 SET a.even = true;
            // a comment; with a semicolon
            MATCH (a:Agent {id: 1}), (b:Agent {id: 2}) CREATE (a)-[:KNOWS {note: 'a;b'}]->(b)
        """, reverse_cypher="""
            MATCH (a:Agent) DETACH DELETE a;
            DROP INDEX agent_name_text IF EXISTS;
            DROP CONSTRAINT agent_id_unique IF EXISTS
        """)


        def upgrade() -> None:
            op.invoke(MIXED)


        def downgrade() -> None:
            op.invoke(MIXED.reverse())
    ''')
    command.upgrade(ops_project.config(), "head")
    with graph(settings) as g:
        assert "agent_id_unique" in introspect.constraints(g)
        assert introspect.indexes(g)["agent_name_text"]["state"] == "ONLINE"
        assert query(g, "MATCH (a:Agent) RETURN count(a) AS n, count(a.even) AS even") == [{"n": 20, "even": 10}]
        assert query(g, "MATCH (:Agent {id: 1})-[k:KNOWS]->(:Agent {id: 2}) RETURN k.note AS note") == [
            {"note": "a;b"}]
    command.downgrade(ops_project.config(), "-1")
    with graph(settings) as g:
        assert introspect.constraints(g) == {} and introspect.indexes(g) == {}
        assert query(g, "MATCH (a:Agent) RETURN count(a) AS n") == [{"n": 0}]


def test_run_cypher_file_and_its_reverse(ops_project: Project, settings: Settings) -> None:
    folder = ops_project.migrations_dir / "neo4j"
    (folder / "files").mkdir()  # helper files live beside the revisions, in a folder of their own
    (folder / "files" / "topics_up.cypher").write_text(
        "CREATE CONSTRAINT topic_name_unique IF NOT EXISTS FOR (t:Topic) REQUIRE t.name IS UNIQUE;\n"
        "UNWIND ['a', 'b', 'c'] AS name CREATE (:Topic {name: name});\n")
    (folder / "files" / "topics_down.cypher").write_text(
        "MATCH (t:Topic) DELETE t;\nDROP CONSTRAINT topic_name_unique IF EXISTS;\n")
    add_revision(ops_project, "001_topics.py", '''
        """Run Cypher files through op.run_cypher_file."""
        from pathlib import Path

        from alembic import op

        from polyalembic.stores.neo4j.ops import RunCypherFileOp

        revision = "neo4j_001"
        down_revision = None
        store = "neo4j"

        HERE = Path(__file__).parent
        RUN = RunCypherFileOp(str(HERE / "files" / "topics_up.cypher"),
                              str(HERE / "files" / "topics_down.cypher"))


        def upgrade() -> None:
            op.run_cypher_file(str(HERE / "files" / "topics_up.cypher"),
                               str(HERE / "files" / "topics_down.cypher"))


        def downgrade() -> None:
            op.invoke(RUN.reverse())
    ''')
    command.upgrade(ops_project.config(), "head")
    with graph(settings) as g:
        assert "topic_name_unique" in introspect.constraints(g)
        assert query(g, "MATCH (t:Topic) RETURN count(t) AS n") == [{"n": 3}]
    command.downgrade(ops_project.config(), "-1")
    with graph(settings) as g:
        assert introspect.constraints(g) == {}
        assert query(g, "MATCH (t:Topic) RETURN count(t) AS n") == [{"n": 0}]
    with pytest.raises(ValueError, match="has no down file"):
        RunCypherFileOp(str(folder / "files" / "topics_up.cypher")).reverse()


# --- constraints ------------------------------------------------------------------------------


CONSTRAINTS = '''
    """Uniqueness constraints: single property, composite, and on a relationship type."""
    from alembic import op

    from polyalembic.stores.neo4j.ops import CreateGraphConstraintOp

    revision = "neo4j_001"
    down_revision = None
    store = "neo4j"

    CONSTRAINTS = [
        CreateGraphConstraintOp("memory_id_unique", "Memory", "id"),
        CreateGraphConstraintOp("version_key_unique", "Version", ["doc", "number"]),
        CreateGraphConstraintOp("link_id_unique", "LINKS", "id", relationship=True),
    ]


    def upgrade() -> None:
        op.create_graph_constraint("memory_id_unique", "Memory", "id")
        op.create_graph_constraint("version_key_unique", "Version", ["doc", "number"])
        op.create_graph_constraint("link_id_unique", "LINKS", "id", relationship=True)


    def downgrade() -> None:
        for create in reversed(CONSTRAINTS):
            op.invoke(create.reverse())
'''


def test_create_graph_constraint_is_enforced_and_its_reverse_drops_it(ops_project: Project,
                                                                      settings: Settings) -> None:
    from neo4j.exceptions import ConstraintError

    add_revision(ops_project, "001_constraints.py", CONSTRAINTS)
    command.upgrade(ops_project.config(), "head")
    with graph(settings) as g:
        found = introspect.constraints(g)
        assert found == {
            "memory_id_unique": {"type": "UNIQUENESS", "labels": ["Memory"], "properties": ["id"]},
            "version_key_unique": {"type": "UNIQUENESS", "labels": ["Version"], "properties": ["doc", "number"]},
            "link_id_unique": {"type": "RELATIONSHIP_UNIQUENESS", "labels": ["LINKS"], "properties": ["id"]},
        }
        assert {n: s for n, (s, _) in introspect.index_states(g).items()} == dict.fromkeys(found, "ONLINE")

        query(g, "CREATE (:Memory {id: 'm1'})")
        with pytest.raises(ConstraintError):
            query(g, "CREATE (:Memory {id: 'm1'})")
        query(g, "CREATE (:Version {doc: 'd', number: 1}), (:Version {doc: 'd', number: 2})")
        with pytest.raises(ConstraintError):
            query(g, "CREATE (:Version {doc: 'd', number: 1})")
        query(g, "CREATE (:Memory {id: 'm2'})-[:LINKS {id: 7}]->(:Memory {id: 'm3'})")
        with pytest.raises(ConstraintError):
            query(g, "MATCH (a:Memory {id: 'm1'}), (b:Memory {id: 'm2'}) CREATE (a)-[:LINKS {id: 7}]->(b)")

    command.downgrade(ops_project.config(), "-1")
    with graph(settings) as g:
        assert introspect.constraints(g) == {} and introspect.indexes(g) == {}
        query(g, "CREATE (:Memory {id: 'm1'})")  # no longer enforced
        assert query(g, "MATCH (m:Memory {id: 'm1'}) RETURN count(m) AS n") == [{"n": 2}]


def test_drop_graph_constraint_and_its_reverse_recreates_it(ops_project: Project, settings: Settings) -> None:
    add_revision(ops_project, "001_constraints.py", CONSTRAINTS)
    add_revision(ops_project, "002_drop_memory_id.py", '''
        """Drop a constraint; the downgrade recreates it from its definition."""
        from alembic import op

        from polyalembic.stores.neo4j.ops import CreateGraphConstraintOp, DropGraphConstraintOp

        revision = "neo4j_002"
        down_revision = "neo4j_001"
        store = "neo4j"

        DROP = DropGraphConstraintOp("memory_id_unique", CreateGraphConstraintOp("memory_id_unique", "Memory", "id"))


        def upgrade() -> None:
            op.drop_graph_constraint("memory_id_unique")
            op.drop_graph_constraint("memory_id_unique")  # IF EXISTS: a rerun works


        def downgrade() -> None:
            op.invoke(DROP.reverse())
    ''')
    command.upgrade(ops_project.config(), "head")
    with graph(settings) as g:
        assert sorted(introspect.constraints(g)) == ["link_id_unique", "version_key_unique"]
        query(g, "CREATE (:Memory {id: 'x'}), (:Memory {id: 'y'})")
    command.downgrade(ops_project.config(), "-1")
    with graph(settings) as g:
        assert introspect.constraints(g)["memory_id_unique"]["properties"] == ["id"]
        assert introspect.indexes(g)["memory_id_unique"]["state"] == "ONLINE"


# --- indexes ----------------------------------------------------------------------------------


INDEXES = '''
    """Every index kind: RANGE (composite), TEXT, POINT, FULLTEXT, a relationship index, a vector index."""
    from alembic import op

    from polyalembic.stores.neo4j.ops import CreateGraphIndexOp, CreateGraphVectorIndexOp

    revision = "neo4j_001"
    down_revision = None
    store = "neo4j"

    INDEXES = [
        CreateGraphIndexOp("memory_agent_time", "Memory", ["agent_id", "time"]),
        CreateGraphIndexOp("memory_title_text", "Memory", "title", index_type="text"),
        CreateGraphIndexOp("place_location_point", "Place", "location", index_type="POINT"),
        CreateGraphIndexOp("memory_fulltext", "Memory", ["title", "body"], index_type="FULLTEXT"),
        CreateGraphIndexOp("related_strength", "RELATED_TO", "strength", relationship=True),
        CreateGraphIndexOp("related_note_fulltext", "RELATED_TO", "note", index_type="FULLTEXT",
                           relationship=True),
        CreateGraphVectorIndexOp("memory_embedding", "Memory", "embedding", dimensions=4),
        CreateGraphVectorIndexOp("place_embedding", "Place", "embedding", dimensions=3,
                                 similarity_function="euclidean"),
    ]


    def upgrade() -> None:
        op.run_cypher("""
            UNWIND range(1, 50) AS n
            CREATE (:Memory {agent_id: 'a' + (n % 3), time: n, title: 'memory about topic ' + n,
                             body: CASE n WHEN 7 THEN 'the zeppelin story' ELSE 'nothing special' END,
                             embedding: [toFloat(n), 1.0, 0.0, 0.5]})
        """)
        op.create_graph_index("memory_agent_time", "Memory", ["agent_id", "time"])
        op.create_graph_index("memory_title_text", "Memory", "title", index_type="text")
        op.create_graph_index("place_location_point", "Place", "location", index_type="POINT")
        op.create_graph_index("memory_fulltext", "Memory", ["title", "body"], index_type="FULLTEXT")
        op.create_graph_index("related_strength", "RELATED_TO", "strength", relationship=True)
        op.invoke(INDEXES[5])
        op.create_graph_vector_index("memory_embedding", "Memory", "embedding", dimensions=4)
        op.create_graph_vector_index("place_embedding", "Place", "embedding", dimensions=3,
                                     similarity_function="euclidean")


    def downgrade() -> None:
        for create in reversed(INDEXES):
            op.invoke(create.reverse())
        op.run_cypher("MATCH (m:Memory) DELETE m")
'''

EXPECTED_INDEXES = {
    "memory_agent_time": ("RANGE", ["Memory"], ["agent_id", "time"]),
    "memory_title_text": ("TEXT", ["Memory"], ["title"]),
    "place_location_point": ("POINT", ["Place"], ["location"]),
    "memory_fulltext": ("FULLTEXT", ["Memory"], ["title", "body"]),
    "related_strength": ("RANGE", ["RELATED_TO"], ["strength"]),
    "related_note_fulltext": ("FULLTEXT", ["RELATED_TO"], ["note"]),
    "memory_embedding": ("VECTOR", ["Memory"], ["embedding"]),
    "place_embedding": ("VECTOR", ["Place"], ["embedding"]),
}


def test_create_graph_index_and_vector_index_are_online_and_their_reverses_drop_them(
        ops_project: Project, settings: Settings) -> None:
    add_revision(ops_project, "001_indexes.py", INDEXES)
    command.upgrade(ops_project.config(), "head")
    with graph(settings) as g:
        found = introspect.indexes(g)
        assert {n: (r["type"], r["labelsOrTypes"], r["properties"]) for n, r in found.items()} == EXPECTED_INDEXES
        assert {n: r["state"] for n, r in found.items()} == dict.fromkeys(EXPECTED_INDEXES, "ONLINE")
        kinds = {r["name"]: r["entityType"] for r in query(g, "SHOW INDEXES YIELD name, entityType")}
        assert kinds["related_strength"] == kinds["related_note_fulltext"] == "RELATIONSHIP"
        config = {r["name"]: r["options"]["indexConfig"] for r in query(g, "SHOW VECTOR INDEXES YIELD name, options")}
        assert (config["memory_embedding"]["vector.dimensions"],
                config["memory_embedding"]["vector.similarity_function"]) == (4, "COSINE")
        assert (config["place_embedding"]["vector.dimensions"],
                config["place_embedding"]["vector.similarity_function"]) == (3, "EUCLIDEAN")
        # the indexes answer queries
        hits = query(g, "CALL db.index.fulltext.queryNodes('memory_fulltext', 'zeppelin') "
                        "YIELD node RETURN node.time AS time")
        assert hits == [{"time": 7}]
        near = query(g, "CALL db.index.vector.queryNodes('memory_embedding', 1, [1.0, 1.0, 0.0, 0.5]) "
                        "YIELD node, score RETURN node.time AS time, score")
        assert near[0]["time"] == 1 and near[0]["score"] == pytest.approx(1.0, abs=1e-4)  # quantized

    command.downgrade(ops_project.config(), "-1")
    with graph(settings) as g:
        assert introspect.indexes(g) == {}


def test_drop_graph_index_and_its_reverse_recreates_it(ops_project: Project, settings: Settings) -> None:
    add_revision(ops_project, "001_indexes.py", INDEXES)
    add_revision(ops_project, "002_drop_indexes.py", '''
        """Drop two indexes; the downgrade recreates them (ONLINE again) from their definitions."""
        from alembic import op

        from polyalembic.stores.neo4j.ops import CreateGraphIndexOp, CreateGraphVectorIndexOp, DropGraphIndexOp

        revision = "neo4j_002"
        down_revision = "neo4j_001"
        store = "neo4j"

        DROPS = [
            DropGraphIndexOp("memory_title_text", CreateGraphIndexOp("memory_title_text", "Memory", "title", "TEXT")),
            DropGraphIndexOp("memory_embedding",
                             CreateGraphVectorIndexOp("memory_embedding", "Memory", "embedding", dimensions=4)),
        ]


        def upgrade() -> None:
            op.drop_graph_index("memory_title_text")
            op.drop_graph_index("memory_embedding")
            op.drop_graph_index("memory_embedding")  # IF EXISTS: a rerun works


        def downgrade() -> None:
            for drop in DROPS:
                op.invoke(drop.reverse())
    ''')
    command.upgrade(ops_project.config(), "head")
    with graph(settings) as g:
        assert set(introspect.indexes(g)) == set(EXPECTED_INDEXES) - {"memory_title_text", "memory_embedding"}
    command.downgrade(ops_project.config(), "-1")
    with graph(settings) as g:
        found = introspect.indexes(g)
        assert set(found) == set(EXPECTED_INDEXES)
        assert (found["memory_title_text"]["type"], found["memory_title_text"]["state"]) == ("TEXT", "ONLINE")
        assert (found["memory_embedding"]["type"], found["memory_embedding"]["state"]) == ("VECTOR", "ONLINE")


# --- --sql ------------------------------------------------------------------------------------


def test_sql_mode_renders_the_cypher_of_each_op_and_touches_nothing(ops_project: Project,
                                                                     settings: Settings) -> None:
    add_revision(ops_project, "001_constraints.py", CONSTRAINTS)
    add_revision(ops_project, "002_items.py", relinked(IN_TRANSACTIONS, "neo4j_002", "neo4j_001"))
    config = ops_project.config()
    config.output_buffer = io.StringIO()
    command.upgrade(config, "head", sql=True)
    out = config.output_buffer.getvalue()
    assert ("-- [neo4j]\n--   CREATE CONSTRAINT `memory_id_unique` IF NOT EXISTS FOR (n:`Memory`) "
            "REQUIRE n.`id` IS UNIQUE;") in out
    assert ("-- [neo4j]\n--   CREATE CONSTRAINT `version_key_unique` IF NOT EXISTS FOR (n:`Version`) "
            "REQUIRE (n.`doc`, n.`number`) IS UNIQUE;") in out
    assert ("-- [neo4j]\n--   CREATE CONSTRAINT `link_id_unique` IF NOT EXISTS FOR ()-[n:`LINKS`]-() "
            "REQUIRE n.`id` IS UNIQUE;") in out
    assert "--   UNWIND range(1, $count) AS n CREATE (:Item {n: n});" in out
    assert "IN TRANSACTIONS OF 10 ROWS;" in out
    assert "'applied', now()" in out

    config.output_buffer = io.StringIO()
    command.downgrade(config, "neo4j_002:base", sql=True)
    out = config.output_buffer.getvalue()
    assert "--   MATCH (i:Item) CALL { WITH i REMOVE i.flagged, i.batch } IN TRANSACTIONS OF 10 ROWS;" in out
    assert out.index("DROP CONSTRAINT `link_id_unique` IF EXISTS") < out.index(
        "DROP CONSTRAINT `memory_id_unique` IF EXISTS")
    with graph(settings) as g:
        assert introspect.constraints(g) == {}
        assert query(g, "MATCH (n) RETURN count(n) AS n") == [{"n": 0}]
