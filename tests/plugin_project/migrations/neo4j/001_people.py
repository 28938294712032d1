"""People in the graph, unique by e-mail address.

Revision ID: neo4j_001
Revises: timescaledb_002
"""

from polyalembic.pairs import migration_files

revision = "neo4j_001"
down_revision = "timescaledb_002"
branch_labels = None
depends_on = None
store = "neo4j"

upgrade, downgrade = migration_files(__file__)
