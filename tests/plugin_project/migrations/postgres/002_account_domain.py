"""Each account's e-mail domain, backfilled from the addresses already stored.

Revision ID: postgres_002
Revises: postgres_001
"""

from alembic import op

revision = "postgres_002"
down_revision = "postgres_001"
branch_labels = None
depends_on = None
store = "postgres"


def upgrade() -> None:
    op.execute("ALTER TABLE accounts ADD COLUMN domain TEXT")
    op.execute("UPDATE accounts SET domain = lower(split_part(email, '@', 2))")


def downgrade() -> None:
    op.execute("ALTER TABLE accounts DROP COLUMN domain")
