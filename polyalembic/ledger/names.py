"""The ledger's table names, once: a module without SQLAlchemy, so reading commands get them light."""

TABLE = "schema_migrations"
AUDIT_TABLE = "schema_migrations_audit"
META_TABLE = "schema_migrations_meta"
SNAPSHOTS_TABLE = "schema_migrations_snapshots"
#: Alembic's own version table (polyalembic writes it only in stamp and repair)
VERSION_TABLE = "alembic_version"

#: the ledger's own tables, in the order they are created
TABLE_NAMES = (TABLE, AUDIT_TABLE, META_TABLE, SNAPSHOTS_TABLE)
