"""Each reading's unit; the readings taken so far were all in kWh.

Revision ID: timescaledb_002
Revises: timescaledb_001
"""

from alembic import op

revision = "timescaledb_002"
down_revision = "timescaledb_001"
branch_labels = None
depends_on = None
store = "timescaledb"


def upgrade() -> None:
    op.execute("ALTER TABLE readings ADD COLUMN unit TEXT NOT NULL DEFAULT 'kWh'")


def downgrade() -> None:
    op.execute("ALTER TABLE readings DROP COLUMN unit")
