"""Accounts, one per e-mail address.

Revision ID: postgres_001
Revises:
"""

from polyalembic.pairs import migration_files

revision = "postgres_001"
down_revision = None
branch_labels = None
depends_on = None
store = "postgres"

upgrade, downgrade = migration_files(__file__)
