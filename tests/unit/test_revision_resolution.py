"""Resolving a target revision (`up --to`, `down N`) against the chain, no server."""

from __future__ import annotations

from pathlib import Path

import pytest

from polyalembic.chain.migration import Migration
from polyalembic.chain.positions import History
from polyalembic.chain.positions import resolve as _resolve
from polyalembic.errors import PolyalembicError

CHAIN = [Migration("postgres_001", "postgres", Path("postgres"), "001_users.py"),
         Migration("postgres_002", "postgres", Path("postgres"), "002_orders.py", down=("postgres_001",)),
         Migration("timescaledb_001", "timescaledb", Path("timescaledb"), "001_metrics.py", down=("postgres_002",)),
         Migration("neo4j_001", "neo4j", Path("neo4j"), "001_graph.py", down=("timescaledb_001",))]


@pytest.mark.parametrize("target, position", [
    ("head", 3), ("heads", 3), ("base", -1), ("postgres_002", 1), ("timescaledb", 2), ("neo4j_0", 3),
    ("002_orders", 1),
])
def test_targets_resolve_to_their_position(target: str, position: int) -> None:
    assert _resolve(CHAIN, target) == position


def test_an_unknown_or_ambiguous_target_is_a_clear_error() -> None:
    with pytest.raises(PolyalembicError, match="unknown revision 'mysql_001'"):
        _resolve(CHAIN, "mysql_001")
    with pytest.raises(PolyalembicError, match="revision 'postgres_00' is ambiguous"):
        _resolve(CHAIN, "postgres_00")


def test_the_current_revision_must_be_in_the_chain() -> None:
    history = History(CHAIN)
    assert history.applied(()) == set()
    assert history.applied(("timescaledb_001",)) == {"postgres_001", "postgres_002", "timescaledb_001"}
    with pytest.raises(PolyalembicError, match="which no migration file defines"):
        history.applied(("postgres_099",))
