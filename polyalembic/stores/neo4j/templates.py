"""What `polyalembic generate neo4j NAME` writes: an .up.cql / .down.cql pair."""

UP = """// {filename}
// {title}
// Best practices: name every constraint and index and use IF NOT EXISTS (Neo4j 5 drops schema
// by name only). Keep schema statements and data writes in separate migrations: they can't share
// a transaction. Batch large data changes with CALL {{ ... }} IN TRANSACTIONS.
// Each statement that commits on its own is recorded when done: after an interruption,
// `polyalembic repair resume` continues after the last completed one. A statement that commits in
// batches (IN TRANSACTIONS) can't be resumed from its middle: it runs again from its start, so
// write it idempotent (MERGE, WHERE NOT EXISTS guards).

CREATE CONSTRAINT {name}_id_unique IF NOT EXISTS
FOR (n:{label}) REQUIRE n.id IS UNIQUE;
"""

DOWN = """// {filename}
// Reverts {up_filename}: drop by name.

DROP CONSTRAINT {name}_id_unique IF EXISTS;
"""

STUB = """// polyalembic: no downgrade written
// {filename}: {tool} had no undo for {source}. Rolling {up_filename} back is refused until this
// file holds the statements that revert it: write them here and delete the first line.
"""
