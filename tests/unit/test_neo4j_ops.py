"""Neo4j ops: rendering and reverse() rules, no server."""

from __future__ import annotations

import pytest

from polyalembic.stores.neo4j.ops import (
    CreateGraphConstraintOp,
    CreateGraphIndexOp,
    CreateGraphVectorIndexOp,
    DropGraphConstraintOp,
    DropGraphIndexOp,
    RunCypherOp,
)


def test_run_cypher_reverse_swaps_the_statements() -> None:
    op = RunCypherOp("CREATE (:A)", reverse_cypher="MATCH (a:A) DELETE a", parameters={"x": 1}, autocommit=True)
    back = op.reverse()
    assert (back.cypher, back.reverse_cypher, back.parameters, back.autocommit) == (
        "MATCH (a:A) DELETE a", "CREATE (:A)", {"x": 1}, True)
    assert back.reverse().statements() == ["CREATE (:A)"]
    with pytest.raises(ValueError, match="needs reverse_cypher"):
        RunCypherOp("CREATE (:A)").reverse()


def test_graph_constraint_ops_reverse_rules() -> None:
    create = CreateGraphConstraintOp("c", "L", ["a", "b"])
    drop = create.reverse()
    assert isinstance(drop, DropGraphConstraintOp) and drop.reverse() is create
    assert drop.statements() == ["DROP CONSTRAINT `c` IF EXISTS"]
    assert create.statements() == [
        "CREATE CONSTRAINT `c` IF NOT EXISTS FOR (n:`L`) REQUIRE (n.`a`, n.`b`) IS UNIQUE"]
    with pytest.raises(ValueError, match="can't be reversed without its definition"):
        DropGraphConstraintOp("c").reverse()


def test_graph_index_ops_render_and_reverse() -> None:
    assert CreateGraphIndexOp("i", "L", ["a", "b"]).statements() == [
        "CREATE RANGE INDEX `i` IF NOT EXISTS FOR (n:`L`) ON (n.`a`, n.`b`)"]
    assert CreateGraphIndexOp("i", "R", "a", index_type="fulltext", relationship=True).statements() == [
        "CREATE FULLTEXT INDEX `i` IF NOT EXISTS FOR ()-[n:`R`]-() ON EACH [n.`a`]"]
    vector = CreateGraphVectorIndexOp("v", "M", "embedding", 384)
    assert vector.statements() == [
        "CREATE VECTOR INDEX `v` IF NOT EXISTS FOR (n:`M`) ON n.`embedding` OPTIONS {indexConfig: "
        "{`vector.dimensions`: 384, `vector.similarity_function`: 'cosine'}}"]
    drop = vector.reverse()
    assert isinstance(drop, DropGraphIndexOp) and drop.statements() == ["DROP INDEX `v` IF EXISTS"]
    assert drop.reverse() is vector
    with pytest.raises(ValueError, match="can't be reversed without its definition"):
        DropGraphIndexOp("v").reverse()


def test_an_op_that_says_nothing_about_what_it_runs_is_refused_when_defined() -> None:
    """A subclass that forgot statements() would run nothing and be recorded as applied."""
    from polyalembic.stores.neo4j.ops import CypherOp

    with pytest.raises(TypeError, match="Forgetful: a Neo4j op must define statements"):
        class Forgetful(CypherOp):
            pass

    class Inherits(RunCypherOp):  # statements() from its parent op: fine
        pass

    assert Inherits("RETURN 1").statements() == ["RETURN 1"]
