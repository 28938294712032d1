"""The chain on disk: revision files, their index and caches, and alembic.ini as Alembic reads it."""
