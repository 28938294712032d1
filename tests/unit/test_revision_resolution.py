"""Resolving a target revision (`up --to`, `down N`) against the chain, no server."""

from __future__ import annotations

from pathlib import Path

import pytest

from polyalembic.chain.migration import Migration
from polyalembic.chain.positions import position_of
from polyalembic.chain.positions import resolve as _resolve
from polyalembic.errors import PolyalembicError

CHAIN = [Migration.at(Path("postgres/001_users.py"), "postgres_001", "postgres"),
         Migration.at(Path("postgres/002_orders.py"), "postgres_002", "postgres"),
         Migration.at(Path("timescaledb/001_metrics.py"), "timescaledb_001", "timescaledb"),
         Migration.at(Path("neo4j/001_graph.py"), "neo4j_001", "neo4j")]


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
    assert position_of(CHAIN, None) == -1
    assert position_of(CHAIN, "timescaledb_001") == 2
    with pytest.raises(PolyalembicError, match="which no migration file defines"):
        position_of(CHAIN, "postgres_099")
