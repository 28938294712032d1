"""PostgreSQL: the relational store (SQL pair files, Alembic ops, introspection, autogenerate)."""
