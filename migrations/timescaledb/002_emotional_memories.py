"""Emotional memories: the agent's affect over time, plus an hourly continuous aggregate.

The aggregate is created WITH DATA, which TimescaleDB only allows outside a transaction:
``op.create_continuous_aggregate`` runs it in an autocommit block (IF NOT EXISTS, so a rerun after
a later failure works). Retention: ``-x emotional_retention='180 days'``.

Revision ID: timescaledb_002
Revises: timescaledb_001
"""

from alembic import op

from polyalembic.options import option

revision = "timescaledb_002"
down_revision = "timescaledb_001"
branch_labels = None
depends_on = None
store = "timescaledb"

TABLE = "emotional_memories"
HOURLY = "emotional_state_hourly"


def upgrade() -> None:
    op.execute("""
        CREATE TABLE IF NOT EXISTS emotional_memories (
            time              TIMESTAMPTZ NOT NULL,
            agent_id          VARCHAR(64) NOT NULL,
            emotion           VARCHAR(32) NOT NULL,
            valence           REAL        NOT NULL,
            arousal           REAL        NOT NULL,
            intensity         REAL        NOT NULL DEFAULT 0.5,
            trigger_memory_id UUID,
            CONSTRAINT ck_emotional_memories_valence CHECK (valence BETWEEN -1 AND 1),
            CONSTRAINT ck_emotional_memories_arousal CHECK (arousal BETWEEN 0 AND 1),
            CONSTRAINT ck_emotional_memories_intensity CHECK (intensity BETWEEN 0 AND 1)
        )""")
    op.create_hypertable(TABLE, "time", chunk_interval="7 days")
    op.execute("CREATE INDEX IF NOT EXISTS idx_emotional_memories_agent_time "
               "ON emotional_memories (agent_id, time DESC)")
    op.enable_compression(TABLE, segmentby="agent_id", orderby="time DESC")
    op.add_compression_policy(TABLE, compress_after="30 days")
    op.create_continuous_aggregate(HOURLY, """
        SELECT time_bucket(INTERVAL '1 hour', time) AS bucket,
               agent_id,
               avg(valence) AS avg_valence,
               avg(arousal) AS avg_arousal,
               count(*)     AS samples
        FROM emotional_memories
        GROUP BY bucket, agent_id""")
    op.add_continuous_aggregate_policy(HOURLY, start_offset="3 days", end_offset="1 hour",
                                       schedule_interval="1 hour")
    retention = option("emotional_retention")
    if retention:
        op.add_retention_policy(TABLE, drop_after=retention)


def downgrade() -> None:
    op.remove_retention_policy(TABLE)
    op.remove_continuous_aggregate_policy(HOURLY)
    op.drop_continuous_aggregate(HOURLY)
    op.remove_compression_policy(TABLE)
    op.execute("DROP TABLE IF EXISTS emotional_memories")
