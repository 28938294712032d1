"""The local development stack: real PostgreSQL (with TimescaleDB preloaded), Neo4j and ChromaDB.

This package is not part of the ``polyalembic`` library. It starts the servers that
``make migrate`` uses by default and that the tests run against, on 127.0.0.1 only, with state
under ``.stack/`` and download and build caches in the per-user cache folder.
"""
