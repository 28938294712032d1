"""Episodic memories: what the agent experienced, as a compressed hypertable.

Chunks of 7 days; chunks older than 30 days are compressed (segmented by agent, newest first).
Retention is off by default, as in the seed; enable it per deployment with
``-x episodic_retention='365 days'`` or ``POLYALEMBIC_EPISODIC_RETENTION``.

Revision ID: timescaledb_001
Revises: postgres_007
"""

from alembic import op

from polyalembic.options import option

revision = "timescaledb_001"
down_revision = "postgres_007"
branch_labels = None
depends_on = None
store = "timescaledb"

TABLE = "episodic_memories"


def upgrade() -> None:
    op.execute("""
        CREATE TABLE IF NOT EXISTS episodic_memories (
            time        TIMESTAMPTZ NOT NULL,
            memory_id   UUID        NOT NULL,
            agent_id    VARCHAR(64) NOT NULL,
            event_type  VARCHAR(32) NOT NULL,
            content     TEXT        NOT NULL,
            importance  REAL        NOT NULL DEFAULT 0.5,
            context     JSONB       NOT NULL DEFAULT '{}'::jsonb,
            -- a hypertable's unique keys must include its time column
            CONSTRAINT pk_episodic_memories PRIMARY KEY (memory_id, time),
            CONSTRAINT ck_episodic_memories_importance CHECK (importance BETWEEN 0 AND 1)
        )""")
    op.create_hypertable(TABLE, "time", chunk_interval="7 days")
    op.execute("CREATE INDEX IF NOT EXISTS idx_episodic_memories_agent_time "
               "ON episodic_memories (agent_id, time DESC)")
    op.enable_compression(TABLE, segmentby="agent_id", orderby="time DESC")
    op.add_compression_policy(TABLE, compress_after="30 days")
    retention = option("episodic_retention")
    if retention:
        op.add_retention_policy(TABLE, drop_after=retention)


def downgrade() -> None:
    op.remove_retention_policy(TABLE)
    op.remove_compression_policy(TABLE)
    op.execute("DROP TABLE IF EXISTS episodic_memories")
