"""How Cypher runs (issue 11): one session per run, progress per step, and the index wait, which
asks the server (``db.awaitIndex``) only about the indexes a migration created, on a real server.

A FAILED index is made the way production makes one: a RANGE index over a string too large to
index (Neo4j's key size limit), so population fails after the CREATE INDEX statement committed.
"""

from __future__ import annotations

import pytest
from alembic import command

from polyalembic.errors import MigrationFailed
from polyalembic.events.stream import Events
from polyalembic.project import Project
from polyalembic.settings import Settings
from polyalembic.stores.connections import StoreConnections
from polyalembic.stores.current_run import Run
from polyalembic.stores.neo4j import introspect
from polyalembic.stores.neo4j.impl import execute_statements
from tests.support import RecordedEvents, add_revision, ledger, store_connection

TOO_LARGE = "x" * 40_000  # above the RANGE index key limit (~8 kB)


def revision(cypher: str) -> str:
    return f'''
        """One op: {cypher[:40]}."""
        from alembic import op

        revision = "neo4j_001"
        down_revision = None
        store = "neo4j"


        def upgrade() -> None:
            op.run_cypher("""{cypher}""")


        def downgrade() -> None:
            op.run_cypher("MATCH (n) DETACH DELETE n")
    '''


def failed_index(settings: Settings, name: str) -> None:
    """An index ``name`` on (:Huge {v}) that is FAILED (its one value is too large to index)."""
    with store_connection(settings, "neo4j") as g:
        g.driver.execute_query("CREATE (:Huge {v: $v})", v=TOO_LARGE, database_=g.database)
        g.driver.execute_query(f"CREATE INDEX {name} FOR (n:Huge) ON (n.v)", database_=g.database)
        with pytest.raises(Exception, match="failed state"):
            g.driver.execute_query(f"CALL db.awaitIndex('{name}', 30)", database_=g.database)


def test_statements_share_one_session_and_each_step_is_recorded(settings: Settings) -> None:
    """Schema statements, single writes, batches and auto-commit statements of several ops go
    through the one session of the connection; each is counted in the run's progress, and the
    ledger hears of those the store does not record itself (markers, named schema objects)."""
    with StoreConnections(settings) as connections:
        graph = connections.get("neo4j")
        told = RecordedEvents()
        run = Run(connections, events=Events(told))
        progress: list[int] = []
        run.on_progress = lambda steps, _step: progress.append(steps)
        session = graph.session()
        execute_statements(graph, [
            "CREATE CONSTRAINT s_id IF NOT EXISTS FOR (s:S) REQUIRE s.id IS UNIQUE",  # step 1
            "UNWIND range(1, 10) AS i CREATE (:S {id: i})",  # step 2: a single write
            "CREATE INDEX s_name IF NOT EXISTS FOR (s:S) ON (s.name)",  # step 3
            "MATCH (s:S) WHERE s.id <= 5 SET s.name = 'low'",  # step 4: two writes, one transaction
            "MATCH (s:S) WHERE s.id > 5 SET s.name = 'high'",
        ], run)
        execute_statements(graph, ["MATCH (s:S) CALL (s) { SET s.done = true } IN TRANSACTIONS OF 3 ROWS"],
                           run)  # step 5: auto-commit
        assert graph.session() is session and not session.closed()
        assert progress == [5] and run.position == run.completed == 5  # only IN TRANSACTIONS carries no record
        marks = graph.driver.execute_query("MATCH (m:_PolyalembicStep) RETURN m.step AS step ORDER BY step",
                                           database_=graph.database).records
        assert [r["step"] for r in marks] == [2, 4]  # the writes' markers; the named schema objects are live
        assert told.progress()[:6] == [("cypher", n, 5, "statements", False) for n in (1, 2, 3, 4, 5)] + [
            ("cypher", 5, 5, "statements", True)], "each statement counted, the batch's two included"
        rows = graph.driver.execute_query("MATCH (s:S) RETURN s.name AS name, count(*) AS n, "
                                          "count(s.done) AS done ORDER BY name", database_=graph.database).records
        assert [r.data() for r in rows] == [{"name": "high", "n": 5, "done": 5}, {"name": "low", "n": 5, "done": 5}]
        assert introspect.index_states(graph)["s_name"][0] == "ONLINE"
    assert session.closed(), "closing the connections closes the run's session"


def test_a_failed_write_leaves_the_session_usable(settings: Settings) -> None:
    """A statement or a transaction that fails does not end the session the run goes on with."""
    with StoreConnections(settings) as connections:
        graph = connections.get("neo4j")
        run = Run(connections)
        for batch in (["RETURN 1 / 0"], ["CREATE (:T {n: 1})", "RETURN 1 / 0"]):
            with pytest.raises(Exception, match="/ by zero"):
                execute_statements(graph, batch, run)
        execute_statements(graph, ["CREATE (:T {n: 2})"], run)
        rows = graph.driver.execute_query("MATCH (t:T) RETURN t.n AS n", database_=graph.database).records
        assert [r["n"] for r in rows] == [2], "the failed transaction was rolled back whole"


def test_a_failed_index_fails_the_migration_naming_it(ops_project: Project, settings: Settings) -> None:
    """The CREATE INDEX commits, population fails: the run stops at the wait, naming the index and
    the reason; the ledger says failed after the two steps that committed."""
    add_revision(ops_project, "001_huge.py", revision(
        f"CREATE (:Huge {{v: '{TOO_LARGE}'}}); CREATE INDEX huge_v IF NOT EXISTS FOR (n:Huge) ON (n.v)"), "neo4j")
    with pytest.raises(MigrationFailed, match=r"at step \[wait for neo4j indexes to come ONLINE\]: "
                                              r"IndexFailed: neo4j index huge_v FAILED: .*too large to index"):
        command.upgrade(ops_project.config(), "head")
    [row] = ledger(settings)
    assert (row.status, row.completed_steps, row.failed_step) == (
        "failed", 2, "wait for neo4j indexes to come ONLINE")


def test_the_wait_is_only_for_what_the_migration_created(ops_project: Project, settings: Settings) -> None:
    """Another index that is FAILED does not fail a migration that created other indexes or
    constraints; a constraint over existing data is ONLINE as soon as it is created."""
    failed_index(settings, "unrelated_failed")
    add_revision(ops_project, "001_fine.py", revision(
        "UNWIND range(1, 2000) AS i CREATE (:Fine {id: i, name: 'n' + i}); "
        "CREATE CONSTRAINT fine_id IF NOT EXISTS FOR (f:Fine) REQUIRE f.id IS UNIQUE; "
        "CREATE TEXT INDEX fine_name IF NOT EXISTS FOR (f:Fine) ON (f.name)"), "neo4j")
    command.upgrade(ops_project.config(), "head")
    with store_connection(settings, "neo4j") as g:
        states = {n: s for n, (s, _) in introspect.index_states(g).items()}
    assert states == {"unrelated_failed": "FAILED", "fine_id": "ONLINE", "fine_name": "ONLINE"}
    assert [(r.revision, r.status) for r in ledger(settings)] == [("neo4j_001", "applied")]


def test_an_equivalent_index_under_another_name_is_waited_for(ops_project: Project, settings: Settings) -> None:
    """IF NOT EXISTS finds an equivalent index under another name, so the name the migration gave
    does not exist: every index is waited for, and the FAILED equivalent is named."""
    failed_index(settings, "huge_v_old")
    add_revision(ops_project, "001_same.py", revision(
        "CREATE INDEX huge_v_new IF NOT EXISTS FOR (n:Huge) ON (n.v)"), "neo4j")
    with pytest.raises(MigrationFailed, match="neo4j index huge_v_old FAILED"):
        command.upgrade(ops_project.config(), "head")
