"""The local development stack: real PostgreSQL, TimescaleDB (PGlite), Neo4j and ChromaDB servers.

This package is not part of the ``polyalembic`` library. It starts the four servers that
``make migrate`` uses by default and that the tests run against, on 127.0.0.1 only, with data
under ``.stack/`` and download caches under ``.cache/`` (both ignored by git).
"""
