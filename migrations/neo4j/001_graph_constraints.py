"""Memory graph schema: named uniqueness constraints, lookup indexes and a vector index.

Revision ID: neo4j_001
Revises: timescaledb_003
"""

from polyalembic.pairs import migration_files

revision = "neo4j_001"
down_revision = "timescaledb_003"
branch_labels = None
depends_on = None
store = "neo4j"

upgrade, downgrade = migration_files(__file__)
