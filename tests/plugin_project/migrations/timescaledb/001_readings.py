"""Meter readings per account, as a hypertable of daily chunks.

Revision ID: timescaledb_001
Revises: postgres_002
"""

from alembic import op

revision = "timescaledb_001"
down_revision = "postgres_002"
branch_labels = None
depends_on = None
store = "timescaledb"


def upgrade() -> None:
    op.execute("CREATE TABLE readings (time TIMESTAMPTZ NOT NULL, account_id INTEGER NOT NULL, "
               "value DOUBLE PRECISION NOT NULL)")
    op.create_hypertable("readings", "time", chunk_interval="1 day")


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS readings")
