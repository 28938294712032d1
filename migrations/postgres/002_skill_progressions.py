"""Skill progressions: skills the agent is learning, their current proficiency and its history.

Revision ID: postgres_002
Revises: postgres_001
"""

from polyalembic.pairs import migration_files

revision = "postgres_002"
down_revision = "postgres_001"
branch_labels = None
depends_on = None
store = "postgres"

upgrade, downgrade = migration_files(__file__)
