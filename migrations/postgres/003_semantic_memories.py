"""Semantic memories: facts the agent knows (triples or free text), keyed by the Chroma vector id.

Revision ID: postgres_003
Revises: postgres_002
"""

from polyalembic.pairs import migration_files

revision = "postgres_003"
down_revision = "postgres_002"
branch_labels = None
depends_on = None
store = "postgres"

upgrade, downgrade = migration_files(__file__)
