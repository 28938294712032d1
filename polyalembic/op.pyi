"""Types for ``from polyalembic import op``: Alembic's ``op`` plus every op polyalembic registers.

Alembic's own ``alembic/op.pyi`` lists only Alembic's operations, so editors know nothing of
``op.create_graph_constraint`` & co. This stub re-exports Alembic's and adds polyalembic's, with
the signatures of their ``Operations.register_operation`` classmethods (minus ``operations``).
tests/unit/test_op_stub.py compares it with the registered ops, so it can't fall behind them.
"""

from collections.abc import Callable, Sequence
from typing import Any

from alembic.op import *  # noqa: F403 - Alembic's own operations

from polyalembic.stores.chromadb.ops import Embed

# polyalembic.stores.postgres.ops
def run_sql_file(path: str, reverse_path: str | None = None) -> None:
    """Run the SQL file at ``path`` on the current revision's database."""
    ...

# polyalembic.stores.timescaledb.ops
def create_hypertable(table: str, time_column: str, chunk_interval: str = "7 days", migrate_data: bool = False) -> None:
    """Turn ``table`` into a hypertable partitioned on ``time_column``."""
    ...

def revert_hypertable(table: str, time_column: str = "time", chunk_interval: str = "7 days") -> None:
    """Replace hypertable ``table`` by a plain table holding the same rows (``time_column`` and
    ``chunk_interval`` are what the reverse, ``create_hypertable``, uses)."""
    ...

def enable_compression(table: str, segmentby: str | None = None, orderby: str | None = None) -> None:
    """Enable native compression on hypertable ``table``."""
    ...

def disable_compression(table: str, segmentby: str | None = ..., orderby: str | None = ...) -> None:
    """Decompress all chunks of ``table`` and disable compression (say the ``segmentby`` and
    ``orderby`` it had, None for none, so the op can be reversed)."""
    ...

def add_compression_policy(table: str, compress_after: str) -> None:
    """Compress chunks of ``table`` older than ``compress_after`` (e.g. '7 days')."""
    ...

def remove_compression_policy(table: str) -> None:
    """Remove the compression policy of ``table`` (if any)."""
    ...

def add_retention_policy(table: str, drop_after: str) -> None:
    """Drop chunks of ``table`` older than ``drop_after`` (e.g. '365 days')."""
    ...

def remove_retention_policy(table: str) -> None:
    """Remove the retention policy of ``table`` (if any)."""
    ...

def create_continuous_aggregate(
    name: str, select: str, with_data: bool = True, materialized_only: bool | None = None
) -> None:
    """Create continuous aggregate ``name`` over ``select`` (a time_bucket query)."""
    ...

def drop_continuous_aggregate(name: str) -> None:
    """Drop continuous aggregate ``name`` (if it exists)."""
    ...

def add_continuous_aggregate_policy(
    view: str, start_offset: str | None, end_offset: str | None, schedule_interval: str
) -> None:
    """Refresh ``view`` every ``schedule_interval`` over [now-start_offset, now-end_offset]."""
    ...

def remove_continuous_aggregate_policy(view: str) -> None:
    """Remove the refresh policy of ``view`` (if any)."""
    ...

def refresh_continuous_aggregate(view: str, window_start: str | None = None, window_end: str | None = None) -> None:
    """Materialize ``view`` for the window (timestamps as text; None = open-ended)."""
    ...

# polyalembic.stores.neo4j.ops
def run_cypher(
    cypher: str, reverse_cypher: str | None = None, parameters: dict[str, Any] | None = None, autocommit: bool = False
) -> None:
    """Run ``cypher`` on the Neo4j store (``autocommit=True`` for CALL {} IN TRANSACTIONS)."""
    ...

def run_cypher_file(path: str, reverse_path: str | None = None) -> None:
    """Run the Cypher file at ``path``."""
    ...

def create_graph_constraint(
    name: str, label: str, properties: list[str] | str, require: str = "IS UNIQUE", relationship: bool = False
) -> None:
    """Create a named constraint (uniqueness by default) on a label or relationship type."""
    ...

def drop_graph_constraint(name: str) -> None:
    """Drop the named constraint (if it exists)."""
    ...

def create_graph_index(
    name: str, label: str, properties: list[str] | str, index_type: str = "RANGE", relationship: bool = False
) -> None:
    """Create a named index; ``index_type`` is RANGE, TEXT, POINT or FULLTEXT."""
    ...

def create_graph_vector_index(
    name: str, label: str, property: str, dimensions: int, similarity_function: str = "cosine"
) -> None:
    """Create a named vector index of ``dimensions`` on ``label.property``."""
    ...

def drop_graph_index(name: str) -> None:
    """Drop the named index (if it exists)."""
    ...

# polyalembic.stores.chromadb.ops
def create_collection(
    name: str, configuration: dict[str, Any] | None = None, metadata: dict[str, Any] | None = None
) -> None:
    """Create collection ``name``; e.g. ``configuration={"hnsw": {"space": "cosine"}}``."""
    ...

def delete_collection(
    name: str, configuration: dict[str, Any] | None = None, metadata: dict[str, Any] | None = None
) -> None:
    """Delete ``name``; pass its configuration/metadata to make the op reversible."""
    ...

def modify_collection(
    name: str,
    new_name: str | None = None,
    metadata: dict[str, Any] | None = None,
    hnsw: dict[str, Any] | None = None,
    previous_metadata: dict[str, Any] | None = None,
    previous_hnsw: dict[str, Any] | None = None,
) -> None:
    """Modify ``name``; give ``previous_*`` values so that the op can be reversed."""
    ...

def rebuild_collection(
    name: str,
    configuration: dict[str, Any],
    metadata: dict[str, Any] | None = None,
    embed: Embed | None = None,
    batch_size: int | None = None,
    previous_configuration: dict[str, Any] | None = None,
    previous_embed: Embed | None = None,
    previous_metadata: dict[str, Any] | None = None,
) -> None:
    """Rebuild ``name`` with ``configuration``; ``previous_configuration`` makes it reversible
    (and ``previous_metadata`` too, when ``metadata`` replaces the collection's metadata)."""
    ...

def backfill_collection_metadata(
    name: str,
    values: dict[str, Any] | None = None,
    compute: Callable[..., dict[str, Any] | None] | None = None,
    keys: Sequence[str] | None = None,
    batch_size: int | None = None,
) -> None:
    """Backfill metadata of every record of ``name``."""
    ...

def run_chroma(
    fn: Callable[[Any], None], reverse_fn: Callable[[Any], None] | None = None, description: str | None = None
) -> None:
    """Run ``fn(client)`` against the ChromaDB store."""
    ...
