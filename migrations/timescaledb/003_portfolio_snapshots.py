"""Portfolio snapshots: the value of each portfolio over time, compressed after 90 days.

Retention: ``-x snapshot_retention='5 years'`` (off by default: financial history is kept).

Revision ID: timescaledb_003
Revises: timescaledb_002
"""

from alembic import op

from polyalembic.options import option

revision = "timescaledb_003"
down_revision = "timescaledb_002"
branch_labels = None
depends_on = None
store = "timescaledb"

TABLE = "portfolio_snapshots"


def upgrade() -> None:
    op.execute("""
        CREATE TABLE IF NOT EXISTS portfolio_snapshots (
            time          TIMESTAMPTZ    NOT NULL,
            portfolio_id  UUID           NOT NULL,
            total_value   NUMERIC(20, 4) NOT NULL,
            cash          NUMERIC(20, 4) NOT NULL DEFAULT 0,
            currency      CHAR(3)        NOT NULL DEFAULT 'USD',
            holdings      JSONB          NOT NULL DEFAULT '[]'::jsonb,
            CONSTRAINT pk_portfolio_snapshots PRIMARY KEY (portfolio_id, time),
            CONSTRAINT ck_portfolio_snapshots_values CHECK (total_value >= 0 AND cash >= 0),
            CONSTRAINT ck_portfolio_snapshots_holdings CHECK (jsonb_typeof(holdings) = 'array')
        )""")
    op.create_hypertable(TABLE, "time", chunk_interval="30 days")
    op.enable_compression(TABLE, segmentby="portfolio_id", orderby="time DESC")
    op.add_compression_policy(TABLE, compress_after="90 days")
    retention = option("snapshot_retention")
    if retention:
        op.add_retention_policy(TABLE, drop_after=retention)


def downgrade() -> None:
    op.remove_retention_policy(TABLE)
    op.remove_compression_policy(TABLE)
    op.execute("DROP TABLE IF EXISTS portfolio_snapshots")
