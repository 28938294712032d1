"""ChromaDB: collection ops through the Python API (embedded or HTTP), paged copies."""
