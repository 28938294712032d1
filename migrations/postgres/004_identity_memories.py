"""Identity memories: the agent's persona, values, beliefs and preferences about itself.

Revision ID: postgres_004
Revises: postgres_003
"""

from polyalembic.pairs import migration_files

revision = "postgres_004"
down_revision = "postgres_003"
branch_labels = None
depends_on = None
store = "postgres"

upgrade, downgrade = migration_files(__file__)
