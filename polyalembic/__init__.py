"""polyalembic: one Alembic chain, one ledger, four stores (PostgreSQL, TimescaleDB, Neo4j, ChromaDB).

Importing this package is cheap: neo4j and chromadb are imported only when a revision for that
store runs.
"""

__version__ = "0.1.0"
